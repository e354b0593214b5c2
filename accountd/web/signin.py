"""A browser's way to the admin routes with a token: ``/-/signin`` trades it for a session cookie.

The form POSTs the token (never in a URL, so never in a log or the history); a valid one gets an
opaque random session id in an ``HttpOnly; SameSite=Strict; Path=/`` cookie (``Secure`` over
TLS), which :class:`~accountd.web.admin.AdminAuth` maps to its token and an expiry. The cookie
authorises GET and HEAD only, and only for requests the browser says came from accountd's own
pages. ``POST /-/signout`` ends the session.
"""

from __future__ import annotations

import asyncio
from html import escape
from typing import Final

from aiohttp import web

from accountd.errors import BadRequest, Forbidden, RequestTimeout, Unauthorized
from accountd.web.admin import CHALLENGE, SESSION_COOKIE, AdminAuth, credentials_of

__all__ = ["SignIn"]

_PAGE: Final = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>accountd · sign in</title>
<style>body{{font:15px system-ui,sans-serif;background:#0f172a;color:#e2e8f0;display:grid;place-items:center;
min-height:90vh;margin:0}}form{{background:#1e293b;padding:28px 32px;border-radius:10px;width:340px}}
h1{{font-size:18px;margin:0 0 14px}}label{{display:block;margin:0 0 6px;color:#94a3b8}}
input[type=password]{{width:100%;box-sizing:border-box;padding:8px;border-radius:6px;border:1px solid #475569;
background:#0f172a;color:#e2e8f0}}button{{margin-top:14px;padding:8px 16px;border:0;border-radius:6px;
background:#38bdf8;color:#0f172a;font-weight:600}}p.reason{{color:#fca5a5;margin:0 0 12px}}</style></head>
<body><form method="post" action="/-/signin" id="signin"><h1>accountd · admin sign-in</h1>
{reason}<label for="token">Admin token (a line of --admin-token-file)</label>
<input type="password" id="token" name="token" autocomplete="current-password" required autofocus>
<input type="hidden" name="next" value="{next}"><button type="submit">Sign in</button></form></body></html>
"""


def _local_path(value: str, default: str) -> str:
    """``next`` only ever leads back into accountd: an absolute path, not ``//host``."""
    if value.startswith("/") and not value.startswith("//") and "\\" not in value and value.isprintable():
        return value
    return default


class SignIn:
    def __init__(self, auth: AdminAuth, *, home: str = "/-/status", body_timeout: float = 30.0) -> None:
        self.auth = auth
        self.home = home
        self.body_timeout = body_timeout

    def page(self, next_path: str, reason: str = "", status: int = 200) -> web.Response:
        html = _PAGE.format(reason=f'<p class="reason">{escape(reason)}</p>' if reason else "",
                            next=escape(_local_path(next_path, self.home)))
        headers = CHALLENGE if status == 401 else None
        return web.Response(status=status, text=html, content_type="text/html", headers=headers)

    async def form(self, request: web.Request) -> web.Response:
        if not self.auth.has_tokens:
            raise BadRequest("no admin tokens are configured (--admin-token-file): nothing to sign in with",
                             "no_tokens")
        return self.page(request.query.get("next", self.home))

    async def signin(self, request: web.Request) -> web.Response:
        if credentials_of(request).foreign:
            raise Forbidden("sign-in from another origin's page is refused", "cross_origin")
        if not self.auth.has_tokens:
            raise BadRequest("no admin tokens are configured (--admin-token-file): nothing to sign in with",
                             "no_tokens")
        try:
            async with asyncio.timeout(self.body_timeout):
                form = await request.post()
        except TimeoutError:
            raise RequestTimeout(f"request body not received within {self.body_timeout:g} s") from None
        token, next_path = form.get("token"), form.get("next")
        target = _local_path(next_path if isinstance(next_path, str) else "", self.home)
        sid = self.auth.sign_in(token.strip()) if isinstance(token, str) and token.strip() else None
        if sid is None:
            if "text/html" in request.headers.get("Accept", ""):
                return self.page(target, "That is not one of the admin tokens.", status=401)
            raise Unauthorized("the token is not one of the admin tokens", "bad_credentials", headers=CHALLENGE)
        response = web.Response(status=303, headers={"Location": target})
        response.set_cookie(SESSION_COOKIE, sid, max_age=int(self.auth.session_ttl), path="/", httponly=True,
                            samesite="Strict", secure=request.secure)  # fmt: skip
        return response

    async def signout(self, request: web.Request) -> web.Response:
        if credentials_of(request).foreign:
            raise Forbidden("sign-out from another origin's page is refused", "cross_origin")
        self.auth.sign_out(request.cookies.get(SESSION_COOKIE))
        response = web.Response(status=303, headers={"Location": "/-/signin"})
        response.del_cookie(SESSION_COOKIE, path="/", samesite="Strict", secure=request.secure, httponly=True)
        return response
