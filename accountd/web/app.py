"""The aiohttp application: the whole route table in one function."""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import Any

from aiohttp import web

from accountd import __version__
from accountd.bus.notifier import Notifier
from accountd.ratelimit import RateLimiter
from accountd.service import AccountService
from accountd.service.history import AccountHistory
from accountd.web.accounts import MAX_BODY, AccountsAPI
from accountd.web.admin import AdminAuth
from accountd.web.audit import AuditAPI
from accountd.web.edge import edge_middleware
from accountd.web.history import HistoryAPI
from accountd.web.introspect import Introspection
from accountd.web.metrics import RequestCounts
from accountd.web.signin import SignIn

__all__ = ["build_app", "help_text"]

ROUTES_HELP = [
    ("GET", "/healthz", "200 while the store is usable, else 503"),
    ("GET", "/jwt/v1/help", "this text"),
    ("GET", "/jwt/v1/operator", "the operator JWT (?text=true, ?decode=true)"),
    ("GET", "/jwt/v1/accounts/", "resolver probe: 200, empty body"),
    ("GET", "/jwt/v1/accounts?list=true[&limit=N][&after=A…]", "[admin] JSON page of stored accounts"),
    ("GET", "/jwt/v1/accounts/<pub>", "the account JWT; ETag, If-None-Match -> 304; "
                                      "?check=true (404 if expired), ?text=true, ?decode=true; "
                                      "[admin] ?notify=true"),
    ("HEAD", "/jwt/v1/accounts/<pub>", "as GET, without a body"),
    ("POST", "/jwt/v1/accounts/<pub>", "store an account JWT (raw JWT body, at most 1 MiB); "
                                       "409 if older than the stored one"),
    ("DELETE", "/jwt/v1/accounts/<pub>", "delete with an operator-signed generic JWT listing the accounts"),
    ("GET", "/jwt/v1/pack?max=N", "[admin] pub|jwt lines of stored, unexpired accounts (max 10000)"),
    ("GET", "/-/healthz", "JSON health (public, as /healthz)"),
    ("GET", "/-/version, /-/config, /-/stats", "[admin] JSON introspection"),
    ("GET", "/-/accounts?q=TEXT[&after=A…][&limit=N]", "[admin] search accounts by key prefix, name or tag"),
    ("GET", "/-/accounts/<pub>/history[?limit=N]", "[admin] the kept versions of an account, newest first"),
    ("GET", "/-/accounts/<pub>/diff[?from=REV][&to=REV]", "[admin] what changed between two versions"),
    ("GET", "/-/audit[?account=A…][&since=UNIX][&limit=N]", "[admin] write attempts, accepted or refused, "
                                                            "newest first"),
    ("GET", "/-/status, /-/accounts/, /-/accounts/<pub>/", "[admin] the status page, the accounts list, "
                                                            "an account's page (HTML)"),
    ("GET", "/-/signin", "[admin] sign-in form: POST a token for a session cookie; POST /-/signout ends it"),
]


def help_text() -> str:
    lines = [f"accountd {__version__} — NATS account JWT server (nats-account-server compatible)", ""]
    width = max(len(m) + len(p) for m, p, _ in ROUTES_HELP) + 2
    for method, path, what in ROUTES_HELP:
        lines.append(f"{(method + ' ' + path).ljust(width)} {what}")
    lines += ["", "Errors are text/plain (send Accept: application/json for JSON).",
              "[admin] routes need Authorization: Bearer <token> (or a client certificate, or a session),",
              "or answer loopback clients only when no admin authentication is configured.", ""]
    return "\n".join(lines)


def build_app(
    service: AccountService,
    notifier: Notifier | None,
    operator_jwt: str,
    *,
    config: dict[str, Any] | None = None,
    extra_stats: Callable[[], dict[str, Any]] | None = None,
    request_counts: RequestCounts | None = None,
    auth: AdminAuth | None = None,
    home: str = "/-/stats",
    writes: RateLimiter | None = None,
    cors_origins: Collection[str] = (),
    body_timeout: float = 30.0,
) -> web.Application:
    """The app; ``auth`` guards the admin routes (default: loopback only), ``home`` is where a
    browser goes after signing in, ``writes`` limits POST/DELETE per client address."""
    counts = request_counts if request_counts is not None else RequestCounts()
    auth = auth if auth is not None else AdminAuth()
    signin = SignIn(auth, home=home, body_timeout=body_timeout)
    edge = edge_middleware(counts, auth, signin=signin, writes=writes, cors_origins=cors_origins,
                           audit=service.audit)
    app = web.Application(middlewares=[edge], client_max_size=MAX_BODY + 1)
    api = AccountsAPI(service, notifier, operator_jwt, help_text(), body_timeout=body_timeout)
    intro = Introspection(service, notifier, config or {}, extra_stats)
    history = HistoryAPI(AccountHistory(service.store))
    audit = AuditAPI(service.audit)
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
        web.get("/-/accounts", history.search),
        web.get("/-/accounts/{pub}/history", history.versions),
        web.get("/-/accounts/{pub}/diff", history.diff),
        web.get("/-/audit", audit.get),
        web.get("/-/signin", signin.form),
        web.post("/-/signin", signin.signin),
        web.post("/-/signout", signin.signout),
    ])
    return app
