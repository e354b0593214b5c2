"""The aiohttp application: the whole route table in one function."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from aiohttp.typedefs import Middleware

from accountd import __version__
from accountd.bus.notifier import Notifier
from accountd.service import AccountService
from accountd.web.accounts import MAX_BODY, AccountsAPI
from accountd.web.errors import error_middleware
from accountd.web.introspect import Introspection
from accountd.web.metrics import RequestCounts

__all__ = ["build_app", "help_text"]

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

ROUTES_HELP = [
    ("GET", "/healthz", "200 while the store is usable, else 503"),
    ("GET", "/jwt/v1/help", "this text"),
    ("GET", "/jwt/v1/operator", "the operator JWT (?text=true, ?decode=true)"),
    ("GET", "/jwt/v1/accounts/", "resolver probe: 200, empty body"),
    ("GET", "/jwt/v1/accounts?list=true[&limit=N][&after=A…]", "JSON page of stored accounts"),
    ("GET", "/jwt/v1/accounts/<pub>", "the account JWT; ETag, If-None-Match -> 304; "
                                      "?check=true (404 if expired), ?text=true, ?decode=true, ?notify=true"),
    ("HEAD", "/jwt/v1/accounts/<pub>", "as GET, without a body"),
    ("POST", "/jwt/v1/accounts/<pub>", "store an account JWT (raw JWT body, at most 1 MiB); "
                                       "409 if older than the stored one"),
    ("DELETE", "/jwt/v1/accounts/<pub>", "delete with an operator-signed generic JWT listing the accounts"),
    ("GET", "/jwt/v1/pack?max=N", "pub|jwt lines of stored, unexpired accounts (max 10000)"),
    ("GET", "/-/healthz, /-/version, /-/config, /-/stats", "JSON introspection"),
]


def help_text() -> str:
    lines = [f"accountd {__version__} — NATS account JWT server (nats-account-server compatible)", ""]
    width = max(len(m) + len(p) for m, p, _ in ROUTES_HELP) + 2
    for method, path, what in ROUTES_HELP:
        lines.append(f"{(method + ' ' + path).ljust(width)} {what}")
    lines += ["", "Errors are text/plain (send Accept: application/json for JSON).", ""]
    return "\n".join(lines)


def edge_middleware(counts: RequestCounts) -> Middleware:
    """The one middleware on the hot path: counts requests, answers CORS, wraps error handling.

    CORS as rs/cors did it for the original: any origin echoed, no credentials.
    """

    @web.middleware
    async def edge(request: web.Request, handler: Handler) -> web.StreamResponse:
        origin = request.headers.get("Origin")
        if origin is not None and request.method == "OPTIONS" and "Access-Control-Request-Method" in request.headers:
            response: web.StreamResponse = web.Response(status=204, headers={
                "Access-Control-Allow-Origin": origin,
                "Access-Control-Allow-Methods": "GET, HEAD, POST, DELETE",
                "Access-Control-Allow-Headers": request.headers.get("Access-Control-Request-Headers", "*"),
                "Vary": "Origin",
            })
        else:
            response = await error_middleware(request, handler)
            if origin is not None:
                response.headers["Access-Control-Allow-Origin"] = origin
                response.headers["Access-Control-Expose-Headers"] = "Authorization, ETag"
                response.headers["Vary"] = "Origin"
        counts[request.method, response.status] += 1
        return response

    return edge


def build_app(
    service: AccountService,
    notifier: Notifier | None,
    operator_jwt: str,
    *,
    config: dict[str, Any] | None = None,
    extra_stats: Callable[[], dict[str, Any]] | None = None,
    request_counts: RequestCounts | None = None,
) -> web.Application:
    counts = request_counts if request_counts is not None else RequestCounts()
    app = web.Application(middlewares=[edge_middleware(counts)], client_max_size=MAX_BODY + 1)
    api = AccountsAPI(service, notifier, operator_jwt, help_text())
    intro = Introspection(service, notifier, config or {}, extra_stats)
    app.add_routes([
        web.get("/healthz", intro.healthz_plain),
        web.get("/jwt/v1/help", api.help),
        web.get("/jwt/v1/operator", api.operator),
        web.get("/jwt/v1/accounts", api.accounts_root),
        web.get("/jwt/v1/accounts/", api.accounts_root),
        web.get("/jwt/v1/accounts/{pub}", api.get_account),  # also answers HEAD
        web.post("/jwt/v1/accounts/{pub}", api.post_account),
        web.delete("/jwt/v1/accounts/{pub}", api.delete_account),
        web.get("/jwt/v1/pack", api.pack),
        web.get("/-/healthz", intro.healthz),
        web.get("/-/version", intro.version),
        web.get("/-/config", intro.config),
        web.get("/-/stats", intro.stats),
    ])
    return app
