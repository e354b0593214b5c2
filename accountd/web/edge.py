"""The one middleware every request passes: class, listener, credentials, write limit, CORS.

Each request is classified once (:func:`accountd.web.access.classify`); then

- a listener that serves one class only (``--admin-listen``) answers 404 for the other;
- admin requests must pass :meth:`AdminAuth.decide <accountd.web.admin.AdminAuth.decide>` (a
  browser asking for a page gets the sign-in form with its 401), and their answers get
  ``Cache-Control: no-store``, ``nosniff`` and no framing — and never a CORS header;
- public POST and DELETE take a token from the client address's bucket (429 when empty), and
  every POST or DELETE of an account is recorded in the audit log however it ends
  (:func:`accountd.web.audit.audited`);
- public answers echo the Origin as the original did (rs/cors: any origin, no credentials), or
  only the ``--cors-origin`` ones.

Requests are counted here too (``accountd_http_requests``).
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable, Collection
from functools import partial
from typing import Final

from aiohttp import web
from aiohttp.typedefs import Middleware
from multidict import MultiDict, MultiDictProxy

from accountd.errors import RateLimited, Unauthorized
from accountd.ratelimit import RateLimiter
from accountd.service.audit import AuditLog
from accountd.web.access import ACCOUNT_PREFIX, Access, classify
from accountd.web.admin import AdminAuth, Via, credentials_of
from accountd.web.audit import audited
from accountd.web.errors import error_middleware, error_response
from accountd.web.listener import Routes
from accountd.web.metrics import RequestCounts
from accountd.web.signin import SignIn

__all__ = ["ADMIN_HEADERS", "VIA", "edge_middleware"]

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

VIA: Final = web.RequestKey("admin_via", Via)
"""``request[VIA]``: how an admin request got in."""

ADMIN_HEADERS: Final = {
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "frame-ancestors 'none'",
}
_EMPTY: Final = MultiDictProxy(MultiDict[str]())


def _wrong_listener(request: web.Request, access: Access) -> bool:
    role = getattr(request.protocol, "role", Routes.ALL)
    return role is not Routes.ALL and (role is Routes.PUBLIC) != (access is Access.PUBLIC)


def edge_middleware(
    counts: RequestCounts,
    auth: AdminAuth | None = None,
    *,
    signin: SignIn | None = None,
    writes: RateLimiter | None = None,
    cors_origins: Collection[str] = (),
    audit: AuditLog | None = None,
) -> Middleware:
    auth = auth if auth is not None else AdminAuth()
    audit = audit if audit is not None else AuditLog(None)
    allowed = frozenset(o.rstrip("/") for o in cors_origins)
    limiter = writes if writes is not None and writes.enabled else None

    def origin_ok(origin: str) -> bool:
        return not allowed or origin.rstrip("/") in allowed

    def preflight(request: web.Request, origin: str) -> web.Response:
        query = request.query if request.query_string else _EMPTY
        access = classify(request.headers["Access-Control-Request-Method"].upper(), request.path, query)
        if _wrong_listener(request, access):
            return error_response(request, 404, "not_found", "404 page not found")
        if access is not Access.PUBLIC:
            response = error_response(request, 403, "cross_origin", "cross-origin requests to admin routes are refused")
            response.headers.update(ADMIN_HEADERS)
            return response
        if not origin_ok(origin):
            return error_response(request, 403, "cross_origin", f"origin {origin} is not allowed (--cors-origin)")
        return web.Response(status=204, headers={
            "Access-Control-Allow-Origin": origin,
            "Access-Control-Allow-Methods": "GET, HEAD, POST, DELETE",
            "Access-Control-Allow-Headers": request.headers.get("Access-Control-Request-Headers", "*"),
            "Vary": "Origin",
        })

    async def admitted(request: web.Request, handler: Handler, access: Access) -> web.StreamResponse:
        if _wrong_listener(request, access):
            raise web.HTTPNotFound()
        if access is Access.ADMIN:
            try:
                request[VIA] = auth.decide(credentials_of(request))
            except Unauthorized as exc:
                browser = request.method == "GET" and "text/html" in request.headers.get("Accept", "")
                if signin is not None and auth.has_tokens and browser:
                    return signin.page(request.path_qs, exc.message, status=401)
                raise
        elif limiter is not None and access is Access.PUBLIC and request.method in ("POST", "DELETE"):
            client = request.remote or ""
            wait = limiter.take(client)
            if wait:
                seconds = max(1, math.ceil(wait))
                raise RateLimited(f"too many writes from {client} (at most {limiter.rate:g} per second, "
                                  f"bursts of {limiter.burst}): retry in {seconds} s", seconds)
        return await handler(request)

    @web.middleware
    async def edge(request: web.Request, handler: Handler) -> web.StreamResponse:
        origin = request.headers.get("Origin")
        if origin is not None and request.method == "OPTIONS" and "Access-Control-Request-Method" in request.headers:
            response: web.StreamResponse = preflight(request, origin)
        else:
            query = request.query if request.query_string else _EMPTY
            access = classify(request.method, request.path, query)

            async def inner(r: web.Request) -> web.StreamResponse:
                return await admitted(r, handler, access)

            write = request.method in ("POST", "DELETE") and request.path.startswith(ACCOUNT_PREFIX)
            response = await error_middleware(request, partial(audited, audit=audit, call=inner) if write else inner)
            if access is not Access.PUBLIC:
                response.headers.update(ADMIN_HEADERS)
            elif origin is not None and origin_ok(origin):
                response.headers["Access-Control-Allow-Origin"] = origin
                response.headers["Access-Control-Expose-Headers"] = "Authorization, ETag"
                response.headers["Vary"] = "Origin"
        counts[request.method, response.status] += 1
        return response

    return edge
