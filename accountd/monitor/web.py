"""HTTP views of the monitor: JSON under ``/-/monitor/``, ``/metrics`` and the status page.

The handlers only read :class:`~accountd.monitor.state.MonitorState` and the metrics registry;
they never talk to NATS.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from aiohttp import web
from nats.aio.client import Client
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from accountd.claims import is_account_key
from accountd.monitor.accounts_page import add_account_pages
from accountd.monitor.monitor import Monitor
from accountd.monitor.page import render_server_page, render_status_page
from accountd.monitor.state import AccountNamer
from accountd.monitor.usage import WARN_RATIO, LimitsOf

__all__ = ["add_monitor_routes", "attach"]

MAX_LIMIT = 1000


def _limit(request: web.Request, default: int = 100) -> int:
    raw = request.query.get("limit", "")
    try:
        value = int(raw) if raw else default
    except ValueError:
        raise web.HTTPBadRequest(text=f"limit must be an integer, not {raw!r}") from None
    return max(0, min(value, MAX_LIMIT))


SignedIn = Callable[[web.Request], bool]
"""Whether a request came with a browser session (the status page then offers to sign out)."""


def add_monitor_routes(app: web.Application, monitor: Monitor, *, root: bool = True, metrics: bool = True,
                       signed_in: SignedIn | None = None) -> None:
    """Add the monitor's routes to ``app``; with ``root`` the status page also answers ``GET /``;
    ``metrics=False`` leaves ``/metrics`` to the caller (serve ``monitor.registry`` there).
    Who may see them is the app's business (accountd's edge middleware: admin routes).

    =================================  ==================================================
    ``GET /-/monitor/servers``         servers with status, load and traffic; ``totals``
    ``GET /-/monitor/accounts``        per-account connections and counters; ``totals``
    ``GET /-/monitor/accounts/<pub>``  one account: its row of the above (zeros if not seen),
                                       its recent ``events`` and ``auth_errors`` (``?limit=``)
    ``GET /-/monitor/accounts/<pub>/connections``  its live connections on every server (CONNZ)
    ``GET /-/monitor/servers/<id>``    one server: STATSZ, routes, gateways, leafnodes, JetStream,
                                       health (asked of it now); 404 for a server not known
    ``GET /-/servers/<id>/``           the server page (rendered by its script from the above)
    ``GET /-/monitor/events``          recent connects/disconnects, newest first
                                       (``?limit=``, ``?account=`` key or name, repeatable,
                                       ``?kind=connect|disconnect``)
    ``GET /-/monitor/auth-errors``     recent authentication errors, newest first (``?limit=``)
    ``GET /-/monitor/history``         the last ``--monitor-history`` minutes: per server and per
                                       account series of ``[t, value]`` (``?server=`` id or name,
                                       ``?account=`` key or name, ``?minutes=``)
    ``GET /-/monitor/limits``          every account's use of its finite limits (``limits``),
                                       JetStream use by account, ``warn_ratio``; ``?account=``
    ``GET /metrics``                   Prometheus text format from ``monitor.registry``
    ``GET /-/status`` (and ``/``)      the status page
    =================================  ==================================================
    """
    state = monitor.state

    async def servers(request: web.Request) -> web.Response:
        return web.json_response({"servers": state.servers_view(), "totals": state.totals()})

    async def accounts(request: web.Request) -> web.Response:
        return web.json_response({"accounts": state.accounts_view(), "totals": state.totals()})

    async def account(request: web.Request) -> web.Response:
        pub = request.match_info["pub"]
        if not is_account_key(pub):
            raise web.HTTPBadRequest(text=f"not an account public key: {pub[:60]!r}")
        limit = _limit(request, 50)
        doc = state.account_view(pub)
        doc["events"] = state.events_view(limit, accounts=[pub])
        doc["auth_errors"] = state.auth_errors_view(limit, account=pub)
        return web.json_response(doc)

    async def history(request: web.Request) -> web.Response:
        raw = request.query.get("minutes", "")
        try:
            minutes = int(raw) if raw else None
        except ValueError:
            raise web.HTTPBadRequest(text=f"minutes must be an integer, not {raw!r}") from None
        doc = monitor.history.view(server=request.query.get("server", ""), account=request.query.get("account", ""),
                                   minutes=minutes)  # fmt: skip
        return web.json_response(doc)

    async def limits(request: web.Request) -> web.Response:
        wanted = request.query.get("account", "")
        rows = [u.to_dict() for u in monitor.limit_usage() if not wanted or wanted in (u.account, u.name)]
        js = {a: u.to_dict() for a, u in monitor.jetstream.items() if not wanted or wanted == a}
        return web.json_response({"limits": rows, "jetstream": js, "warn_ratio": WARN_RATIO})

    async def account_conns(request: web.Request) -> web.Response:
        pub = request.match_info["pub"]
        if not is_account_key(pub):
            raise web.HTTPBadRequest(text=f"not an account public key: {pub[:60]!r}")
        doc = await monitor.account_connections(pub)
        doc["name"] = state.name_of(pub)
        return web.json_response(doc)

    def known_server(request: web.Request) -> str:
        server_id = request.match_info["id"]
        if server_id not in state.servers:
            raise web.HTTPNotFound(text=f"no server {server_id[:60]!r} is known to the monitor")
        return server_id

    async def server(request: web.Request) -> web.Response:
        return web.json_response(await monitor.server_detail(known_server(request)))

    async def server_page(request: web.Request) -> web.Response:
        signout = signed_in is not None and signed_in(request)
        html = render_server_page(known_server(request), signout=signout)
        return web.Response(text=html, content_type="text/html")

    async def events(request: web.Request) -> web.Response:
        rows = state.events_view(
            _limit(request), accounts=request.query.getall("account", []), kinds=request.query.getall("kind", [])
        )
        return web.json_response({"events": rows})

    async def auth_errors(request: web.Request) -> web.Response:
        total = sum(state.auth_errors_by_server.values())
        return web.json_response({"auth_errors": state.auth_errors_view(_limit(request)), "total": total})

    async def prometheus(request: web.Request) -> web.Response:
        return web.Response(body=generate_latest(monitor.registry), headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def status(request: web.Request) -> web.Response:
        # Relative links keep the page working behind a proxy that mounts accountd under a prefix.
        base = "../" if request.path.endswith("/-/status") else "./"
        signout = signed_in is not None and signed_in(request)
        return web.Response(text=render_status_page(state, base=base, signout=signout,
                                                       minutes=monitor.history.minutes), content_type="text/html")

    app.router.add_get("/-/monitor/servers", servers)
    app.router.add_get("/-/monitor/accounts", accounts)
    app.router.add_get("/-/monitor/accounts/{pub}", account)
    app.router.add_get("/-/monitor/accounts/{pub}/connections", account_conns)
    app.router.add_get("/-/monitor/servers/{id}", server)
    app.router.add_get("/-/servers/{id}/", server_page)
    app.router.add_get("/-/monitor/events", events)
    app.router.add_get("/-/monitor/auth-errors", auth_errors)
    app.router.add_get("/-/monitor/limits", limits)
    app.router.add_get("/-/monitor/history", history)
    if metrics:
        app.router.add_get("/metrics", prometheus)
    app.router.add_get("/-/status", status)
    if root:
        app.router.add_get("/", status)


class _Bus(Protocol):
    """What :func:`attach` needs of :class:`accountd.bus.Bus`."""

    def on_connect(self, callback: Callable[[Client], Awaitable[None]]) -> None: ...


def attach(
    app: web.Application,
    bus: _Bus,
    account_name: AccountNamer | None = None,
    extras: dict[str, Any] | None = None,
    account_limits: LimitsOf | None = None,
    *,
    registry: CollectorRegistry | None = None,
    signed_in: SignedIn | None = None,
    history_minutes: int = 60,
) -> Monitor:
    """Wire a :class:`Monitor` into ``app`` on a background-connecting bus.

    The accounts pages (:func:`~accountd.monitor.accounts_page.add_account_pages`) come along.
    Call it before the bus first connects. The routes answer at once (empty until NATS connects);
    the monitor starts on the bus's first connect and stops on app cleanup. ``extras["monitor"]``
    is set when ``extras`` is given.
    """
    monitor = Monitor(account_name=account_name, account_limits=account_limits, registry=registry,
                      history_minutes=history_minutes)  # fmt: skip
    add_monitor_routes(app, monitor, signed_in=signed_in)
    add_account_pages(app, signed_in=signed_in)

    async def start(nc: Client) -> None:
        await monitor.start(nc)

    async def stop(_: web.Application) -> None:
        await monitor.stop()

    bus.on_connect(start)
    app.on_cleanup.append(stop)
    if extras is not None:
        extras["monitor"] = monitor
    return monitor
