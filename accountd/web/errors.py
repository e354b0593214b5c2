"""The one place where errors become HTTP responses.

Bodies stay ``text/plain; charset=utf-8`` with the original's messages (nsc prints them
verbatim); a client that sends ``Accept: application/json`` gets
``{"error": {"status", "code", "message"}}`` instead. ``/-/`` routes always answer JSON.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from aiohttp import web

from accountd.errors import ServiceError

__all__ = ["error_middleware", "error_response"]

log = logging.getLogger("accountd.web")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _wants_json(request: web.Request) -> bool:
    return request.path.startswith("/-/") or "application/json" in request.headers.get("Accept", "")


def error_response(request: web.Request, status: int, code: str, message: str, body: str | None = None) -> web.Response:
    if _wants_json(request):
        return web.json_response({"error": {"status": status, "code": code, "message": message}}, status=status)
    return web.Response(
        status=status,
        text=body if body is not None else message + "\n",
        content_type="text/plain",
        charset="utf-8",
        headers={"X-Content-Type-Options": "nosniff"},
    )


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except ServiceError as exc:
        if exc.status >= 500:
            log.error("%s %s -> %d %s", request.method, request.path, exc.status, exc.message,
                      exc_info=exc.__cause__)
        else:
            key = request.match_info.get("pub", "")[:12]
            log.info("%s %s -> %d %s%s", request.method, request.path, exc.status, exc.message,
                     f" ({key})" if key else "")
        response = error_response(request, exc.status, exc.code, exc.message, exc.body)
        response.headers.update(exc.headers)
        if exc.status == 408:
            # Give up on the rest of the body (aiohttp would otherwise linger 10 s reading it) and close.
            request.content.feed_eof()
            response.force_close()
        return response
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        text = exc.text or exc.reason
        if exc.status == 404:
            text = "404 page not found"
        response = error_response(request, exc.status, exc.reason.lower().replace(" ", "_"), text)
        if "Allow" in exc.headers:
            response.headers["Allow"] = exc.headers["Allow"]
        return response
