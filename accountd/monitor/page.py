"""The status page: server-rendered HTML; ``static/status.js`` re-renders the same markup from the
``/-/monitor/*`` JSON every 2 s (keep the two row renderers in step)."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from functools import cache
from html import escape
from importlib.resources import files
from typing import Any

from accountd import __version__
from accountd.monitor.state import MonitorState

__all__ = ["render_server_page", "render_status_page"]

JSON = dict[str, Any]


@cache
def _asset(name: str) -> str:
    return files("accountd.monitor").joinpath("static", name).read_text(encoding="utf-8")


def _e(value: object) -> str:
    return escape("" if value is None else str(value))


def _num(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value:,.0f}" if float(value).is_integer() or abs(value) >= 100 else f"{value:,.1f}"


def _bytes(value: float | None) -> str:
    if value is None:
        return "—"
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(value) < 1024 or unit == "TiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return ""  # pragma: no cover


def _short(key: str) -> str:
    return key if len(key) <= 14 else f"{key[:6]}…{key[-4:]}"


def _clock(iso: str | None) -> str:
    return iso[11:19] if iso else "—"


def _ago(seconds: float) -> str:
    if seconds < 1:
        return "just now"
    if seconds < 120:
        return f"{seconds:.0f} s ago"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min ago"
    return f"{seconds / 3600:.0f} h ago"


def _key_cell(name: str, key: str) -> str:
    label = f'<div class="strong">{_e(name)}</div>' if name else '<div class="muted">unnamed</div>'
    return f'{label}<div class="key" title="{_e(key)}">{_e(_short(key))}</div>'


def _who(name: str, key: str) -> str:
    if name:
        return f'<span title="{_e(key)}">{_e(name)}</span>'
    return f'<span class="key" title="{_e(key)}">{_e(_short(key)) or "—"}</span>'


def _empty(cols: int, text: str) -> str:
    return f'<tr class="empty"><td colspan="{cols}">{_e(text)}</td></tr>'


def server_rows(servers: list[JSON], base: str = "./") -> str:
    if not servers:
        return _empty(14, "No server has answered yet.")
    out = []
    for s in servers:
        cpu = s["cpu"]
        width = min(100.0, cpu or 0.0)
        hot = " hot" if width >= 75 else ""
        rates = s["rates"]
        out.append(
            f'<tr data-server="{_e(s["id"])}">'
            f'<td><span class="pill {_e(s["status"])}">{_e(s["status"])}</span></td>'
            f'<td><a class="plain" href="{_e(base)}-/servers/{_e(s["id"])}/">{_key_cell(s["name"], s["id"])}</a></td>'
            f'<td>{_e(s["cluster"] or "—")}</td><td>{_e(s["version"])}</td>'
            f'<td class="num strong" data-field="connections">{_num(s["connections"])}</td>'
            f'<td class="num">{_num(s["subscriptions"])}</td>'
            f'<td><span class="bar{hot}"><span style="width:{width:.0f}%"></span></span>'
            f'{"—" if cpu is None else f"{cpu:.0f}%"}</td>'
            f'<td class="num">{_bytes(s["mem"])}</td>'
            f'<td class="num">{_num(rates["in_msgs"])}</td><td class="num">{_num(rates["out_msgs"])}</td>'
            f'<td class="num">{_bytes(s["in_bytes"])}</td><td class="num">{_bytes(s["out_bytes"])}</td>'
            f'<td class="num">{_num(s["slow_consumers"])}</td>'
            f'<td class="muted">{_ago(s["age_seconds"])}</td></tr>'
        )
    return "".join(out)


def account_rows(accounts: list[JSON], base: str = "./") -> str:
    """Rows without limit flags: the page's script adds them from ``/-/monitor/limits``."""
    rows = [a for a in accounts if a["connections"] or a["leafnodes"] or a["connects"] or a["disconnects"]]
    if not rows:
        return _empty(5, "No client connections seen yet.")
    out = []
    for a in rows:
        chips = "".join(f'<span class="chip">{_e(k)}: {n}</span>' for k, n in a["servers"].items()) or "—"
        leafs = f'<div class="key">+{a["leafnodes"]} leafnodes</div>' if a["leafnodes"] else ""
        out.append(
            f'<tr data-account="{_e(a["account"])}">'
            f'<td><a class="plain" href="{_e(base)}-/accounts/{_e(a["account"])}/">'
            f'{_key_cell(a["name"], a["account"])}</a></td>'
            f'<td class="num"><span class="big" data-field="connections">{a["connections"]}</span>{leafs}</td>'
            f'<td>{chips}</td><td class="num">{a["connects"]}</td><td class="num">{a["disconnects"]}</td></tr>'
        )
    return "".join(out)


def event_rows(events: list[JSON]) -> str:
    if not events:
        return _empty(8, "No connects or disconnects yet.")
    out = []
    for ev in events:
        c = ev["client"]
        out.append(
            f'<tr data-kind="{_e(ev["kind"])}"><td class="muted">{_clock(ev["time"])}</td>'
            f'<td><span class="pill {_e(ev["kind"])}">{_e(ev["kind"])}</span></td>'
            f'<td>{_who(ev["account_name"], ev["account"])}</td><td>{_who(ev["user_name"], ev["user"])}</td>'
            f'<td>{_e(c["name"] or "—")}</td><td class="key">{_e(c["host"])}</td><td>{_e(ev["server"])}</td>'
            f'<td class="reason">{_e(ev.get("reason", ""))}</td></tr>'
        )
    return "".join(out)


def auth_rows(errors: list[JSON]) -> str:
    if not errors:
        return _empty(5, "No authentication errors.")
    out = []
    for ev in errors:
        c = ev["client"]
        out.append(
            f'<tr><td class="muted">{_clock(ev["time"])}</td><td>{_e(ev["server"])}</td>'
            f'<td>{_e(c["name"] or "—")}<div class="key">{_e(c["host"])}</div></td>'
            f'<td>{_who(ev["user_name"], ev["user"])}</td><td class="reason bad">{_e(ev.get("reason", ""))}</td></tr>'
        )
    return "".join(out)


def tiles(totals: JSON, last_auth: JSON | None) -> str:
    up, total = totals["servers_up"], totals["servers"]
    health = "idle" if not total else "ok" if up == total else "bad" if not up else "warn"
    auth = totals["auth_errors"]
    auth_hint = f'last {_clock(last_auth["time"])} on {_e(last_auth["server"])}' if last_auth else "none seen"
    items = [
        ("servers", health, "Servers up", f"{up} / {total}",
         f'{totals["servers_stale"]} stale · {totals["servers_gone"]} gone'),
        ("connections", "ok" if total else "idle", "Connections", f'{totals["connections"]:,}',
         f'{totals["accounts"]} accounts · {totals["leafnodes"]} leafnodes'),
        ("churn", "ok" if total else "idle", "Connects / disconnects",
         f'{totals["connects"]:,} / {totals["disconnects"]:,}', "since accountd started"),
        ("auth", "bad" if auth else "ok", "Auth errors", f"{auth:,}", auth_hint),
    ]  # fmt: skip
    return "".join(
        f'<div class="tile" id="tile-{key}" data-health="{h}"><div class="label">{label}</div>'
        f'<div class="value">{value}</div><div class="hint">{hint}</div></div>'
        for key, h, label, value, hint in items
    )


def _table(table_id: str, headers: list[str], body: str) -> str:
    head = "".join(
        f'<th class="num">{_e(h[1:])}</th>' if h.startswith(">") else f"<th>{_e(h)}</th>" for h in headers
    )
    return f'<table id="{table_id}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


SERVER_HEADERS = ["Status", "Server", "Cluster", "Version", ">Conns", ">Subs", "CPU", ">Memory", ">Msgs in/s",
                  ">Msgs out/s", ">Data in", ">Data out", ">Slow", "Seen"]  # fmt: skip
ACCOUNT_HEADERS = ["Account", ">Conns", "Per server", ">Connects", ">Disconnects"]
EVENT_HEADERS = ["Time", "Event", "Account", "User", "Client", "Address", "Server", "Reason"]
AUTH_HEADERS = ["Time", "Server", "Client", "Claimed user", "Reason"]


def render_status_page(state: MonitorState, *, base: str = "./", signout: bool = False, minutes: int = 60) -> str:
    """The whole page; ``base`` is the relative way from the page back to the app root; ``signout``
    adds a sign-out button (the page was opened with a session cookie)."""
    totals = state.totals()
    auth = state.auth_errors_view(limit=50)
    parts = {
        "css": _asset("status.css"),
        "js": _asset("common.js") + _asset("charts.js") + _asset("status.js"),
        "base": _e(base),
        "version": _e(__version__),
        "rendered": datetime.now(UTC).strftime("%H:%M:%S"),
        "minutes": _e(minutes),
        "signout": (f'<form method="post" action="{_e(base)}-/signout" class="signout">'
                    '<button type="submit">Sign out</button></form>') if signout else "",
        "tiles": tiles(totals, auth[0] if auth else None),
        "servers": _table("servers", SERVER_HEADERS, server_rows(state.servers_view(), base)),
        "accounts": _table("accounts", ACCOUNT_HEADERS, account_rows(state.accounts_view(), base)),
        "events": _table("events", EVENT_HEADERS, event_rows(state.events_view(limit=50))),
        "auth": _table("auth-errors", AUTH_HEADERS, auth_rows(auth)),
    }
    # One pass, so nothing a server or client named itself can smuggle in a placeholder.
    return _PLACEHOLDER.sub(lambda m: parts[m.group(1)], _asset("status.html"))


_PLACEHOLDER = re.compile(r"\{\{(\w+)\}\}")


def render_server_page(server_id: str, *, base: str = "../../../", signout: bool = False) -> str:
    """The page of one server (``/-/servers/<id>/``): a shell its script fills from
    ``/-/monitor/servers/<id>`` and the server's history."""
    parts = {
        "css": _asset("status.css"),
        "js": _asset("common.js") + _asset("charts.js") + _asset("server.js"),
        "base": _e(base),
        "version": _e(__version__),
        "server": _e(server_id),
        "signout": (f'<form method="post" action="{_e(base)}-/signout" class="signout">'
                    '<button type="submit">Sign out</button></form>') if signout else "",
    }  # fmt: skip
    return _PLACEHOLDER.sub(lambda m: parts[m.group(1)], _asset("server.html"))
