"""The accounts pages beside the status page.

=================================  ==========================================================
``GET /-/accounts/``               every stored account: search by name, key or tag, paged
``GET /-/accounts/<pub>/``         one account for people: claims, live usage, versions, diffs
=================================  ==========================================================

The trailing slash keeps them apart from the JSON routes of the same names (``GET /-/accounts``,
``GET /-/accounts/<pub>/history``, ``…/diff``). The pages are shells: their scripts render from
the service's JSON (``/-/accounts``, the history and diff routes, ``/jwt/v1/accounts/<pub>?decode=true``)
and the monitor's (``/-/monitor/accounts/<pub>``, absent without ``--nats``), so one request per
search or page of 50 — never a list of every account — and nothing here imports the store.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import cache
from html import escape
from importlib.resources import files

from aiohttp import web

from accountd import __version__
from accountd.claims import is_account_key

__all__ = ["add_account_pages", "render_account_page", "render_accounts_page"]

SignedIn = Callable[[web.Request], bool]


@cache
def _asset(name: str) -> str:
    return files("accountd.monitor").joinpath("static", name).read_text(encoding="utf-8")


def _render(template: str, script: str, *, base: str, signout: bool, status: bool, **more: str) -> str:
    nav = f'<a href="{escape(base)}-/status">Status</a>' if status else ""
    parts = {
        "css": _asset("status.css") + _asset("accounts.css"),
        "js": _asset("common.js") + _asset("charts.js") + _asset(script),
        "base": escape(base),
        "version": escape(__version__),
        "nav": nav,
        "signout": (f'<form method="post" action="{escape(base)}-/signout" class="signout">'
                    '<button type="submit">Sign out</button></form>') if signout else "",
        **{k: escape(v) for k, v in more.items()},
    }  # fmt: skip
    return _PLACEHOLDER.sub(lambda m: parts[m.group(1)], _asset(template))


def render_accounts_page(*, base: str = "../../", signout: bool = False, status: bool = True) -> str:
    """The list page; ``base`` is the relative way back to the app root (from ``/-/accounts/``),
    ``status`` links the status page (there is one with ``--nats``)."""
    return _render("accounts.html", "accounts.js", base=base, signout=signout, status=status)


def render_account_page(account: str, *, base: str = "../../../", signout: bool = False, status: bool = True) -> str:
    """The page of one account (``account`` must be an account public key)."""
    if not is_account_key(account):
        raise ValueError(f"not an account public key: {account[:60]!r}")
    return _render("account.html", "account.js", base=base, signout=signout, status=status, account=account)


def add_account_pages(app: web.Application, *, signed_in: SignedIn | None = None, status: bool = True) -> None:
    """Add ``/-/accounts/`` and ``/-/accounts/<pub>/`` to ``app`` (admin routes: the edge decides who
    sees them); ``signed_in`` tells a browser session (the pages then offer to sign out)."""

    def session(request: web.Request) -> bool:
        return signed_in is not None and signed_in(request)

    async def accounts(request: web.Request) -> web.Response:
        return web.Response(text=render_accounts_page(signout=session(request), status=status),
                            content_type="text/html")  # fmt: skip

    async def account(request: web.Request) -> web.Response:
        pub = request.match_info["pub"]
        if not is_account_key(pub):
            raise web.HTTPNotFound(text=f"not an account public key: {pub[:60]!r}")
        return web.Response(text=render_account_page(pub, signout=session(request), status=status),
                            content_type="text/html")  # fmt: skip

    app.router.add_get("/-/accounts/", accounts)
    app.router.add_get("/-/accounts/{pub}/", account)


_PLACEHOLDER = re.compile(r"\{\{(\w+)\}\}")
