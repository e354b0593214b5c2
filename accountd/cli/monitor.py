"""``accountd events`` and ``accountd servers``: the system account's view, on the command line."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

import click
from nats.aio.client import Client

from accountd.cli.common import nats_tls_options
from accountd.cli.output import emit, fail, json_option, say, table
from accountd.cli.root import main
from accountd.monitor import Monitor, MonitorState, ping_servers
from accountd.monitor.events import AccountStatzEvent, Event
from accountd.natsclient import NatsConnectError, NatsTLS
from accountd.natsclient import connect as nats_connect

__all__ = ["events", "servers"]

F = TypeVar("F", bound=Callable[..., Any])
JSON = dict[str, Any]

DEFAULT_NATS = "nats://127.0.0.1:4222"
EVENT_TYPES = ("connect", "disconnect", "auth", "stats", "conns", "leafnode", "shutdown")
CREDS_HINT = "--creds (or ACCOUNTD_CREDS) must be a user of the operator's system account"


def nats_options(f: F) -> F:
    f = nats_tls_options(f)
    f = click.option(
        "--creds",
        type=click.Path(exists=True, dir_okay=False),
        envvar="ACCOUNTD_CREDS",
        help="Creds file of a system-account user [env ACCOUNTD_CREDS].",
    )(f)
    return click.option(
        "--nats",
        "nats_url",
        default=DEFAULT_NATS,
        show_default=True,
        envvar="ACCOUNTD_NATS",
        help="NATS server URL; comma-separate several [env ACCOUNTD_NATS].",
    )(f)


async def connect(url: str, creds: str | None, tls: NatsTLS, *, as_json: bool) -> Client:
    async def quiet(exc: Exception) -> None:  # nats-py logs a traceback per error by default
        pass

    servers = url.split(",")
    try:
        # nats-py 2.16 retries a refused first connect forever with max_reconnect_attempts=0 (it checks
        # "> 0"; seen when nothing listens): allow one retry per server, and bound it all with a timeout.
        return await nats_connect(
            servers, tls=tls, timeout=8 * len(servers), user_credentials=creds, name="accountd-cli",
            connect_timeout=3, allow_reconnect=False, max_reconnect_attempts=1, reconnect_time_wait=0.2,
            error_cb=quiet,
        )
    except NatsConnectError as exc:
        hint = "check --nats-tls-ca/--nats-tls-cert/--nats-tls-key" if exc.tls else f"check --nats; {CREDS_HINT}"
        fail(f"cannot connect to NATS at {url}: {exc}", hint, as_json=as_json, code="nats_unavailable")


# ------------------------------------------------------------------------------------------ servers


def _uptime(start: str | None) -> str:
    if not start:
        return "—"
    seconds = (datetime.now(UTC) - datetime.fromisoformat(start)).total_seconds()
    days, rest = divmod(int(max(seconds, 0)), 86400)
    hours, rest = divmod(rest, 3600)
    minutes, seconds = divmod(rest, 60)
    return f"{days}d{hours}h" if days else f"{hours}h{minutes}m" if hours else f"{minutes}m{seconds}s"


def _mib(n: int | None) -> str:
    return "—" if n is None else f"{n / 1048576:.1f} MiB"


def servers_table(rows: list[JSON]) -> str:
    headers = ["NAME", "CLUSTER", "VERSION", "CONNS", "SUBS", "CPU", "MEM", "IN MSGS", "OUT MSGS", "SLOW", "UPTIME",
               "ID"]  # fmt: skip
    cells = [
        [r["name"], r["cluster"] or "-", r["version"], str(r["connections"]), str(r["subscriptions"]),
         f'{r["cpu"]:.0f}%', _mib(r["mem"]), f'{r["in_msgs"]:,}', f'{r["out_msgs"]:,}', str(r["slow_consumers"]),
         _uptime(r["start"]), r["id"]]
        for r in rows
    ]  # fmt: skip
    return table(cells, headers)


@main.command()
@nats_options
@click.option("--timeout", type=float, default=3.0, show_default=True, help="Seconds to wait for replies in all.")
@click.option(
    "--quiet", "quiet_period", type=float, default=0.5, show_default=True,
    help="Stop once no reply came for this many seconds.",
)  # fmt: skip
@json_option
def servers(nats_url: str, creds: str | None, nats_tls: NatsTLS, timeout: float, quiet_period: float,
            as_json: bool) -> None:
    """List the nats-servers that answer $SYS.REQ.SERVER.PING, with their load.

    Every server in the cluster (and in clusters joined by gateways) replies; replies are
    collected until none arrived for --quiet seconds. Needs a system-account user.
    """

    async def run() -> list[JSON]:
        nc = await connect(nats_url, creds, nats_tls, as_json=as_json)
        try:
            replies, _ = await ping_servers(nc, quiet=quiet_period, timeout=timeout)
        finally:
            await nc.close()
        state = MonitorState()
        for reply in replies:
            state.apply(reply)
        return state.servers_view()

    rows = asyncio.run(run())
    if not rows:
        fail(f"no server answered $SYS.REQ.SERVER.PING within {timeout:g}s", CREDS_HINT, as_json=as_json,
             code="no_servers")  # fmt: skip
    emit({"servers": rows}, as_json, lambda doc: servers_table(doc["servers"]))


# ------------------------------------------------------------------------------------------- events


def _who(name: str, key: str) -> str:
    return f"{name} ({key})" if name and key else name or key or "-"


def event_line(row: JSON) -> str:
    """One readable line for one event row (see ``MonitorState.row``)."""
    time = (row["time"] or "")[11:23] or "-"
    kind = row["kind"]
    account = _who(row["account_name"], row["account"])
    where = f"on {row['server']}"
    if kind in ("connect", "disconnect", "auth"):
        c = row["client"]
        client = f'client "{c["name"]}" {c["host"]}' if c["name"] else f"client {c['host'] or '-'}"
        user = _who(row["user_name"], row["user"])
        if kind == "auth":
            text = f"{client}  claimed user {user} of {account}  {where}  reason: {row['reason']}"
        else:
            text = f"{account}  user {user}  {client}  {where}"
            if kind == "disconnect":
                text += f"  reason: {row['reason']}"
    elif kind == "stats":
        s = row["stats"]
        text = (
            f"{row['server']}  conns {s['connections']}  subs {s['subscriptions']}  cpu {s['cpu']:.0f}%  "
            f"mem {_mib(s['mem'])}  in {s['received']['msgs']:,} msgs  out {s['sent']['msgs']:,} msgs  "
            f"slow {s['slow_consumers']}"
        )
    elif kind == "conns":
        text = f"{account}  {where}: {row['conns']} connections, {row['leafnodes']} leafnodes"
    elif kind == "leafnode":
        text = f"{account}  leafnode connected {where}"
    else:
        text = f"{row['server']} ({row['server_id']})"
    return f"{time}  {kind:<10}  {text}"


@main.command()
@click.option("--follow", "-f", is_flag=True, help="Keep printing events until Ctrl-C.")
@click.option("--wait", type=float, default=2.0, show_default=True, help="Without --follow: seconds to listen.")
@click.option("--account", "accounts", multiple=True, help="Only this account (public key or name); repeatable.")
@click.option("--type", "types", multiple=True, type=click.Choice(EVENT_TYPES), help="Only this kind; repeatable.")
@click.option("--json", "as_json", is_flag=True, help="One JSON document; with --follow, one JSON object per line.")
@nats_options
def events(
    follow: bool, wait: float, accounts: tuple[str, ...], types: tuple[str, ...], as_json: bool,
    nats_url: str, creds: str | None, nats_tls: NatsTLS,
) -> None:  # fmt: skip
    """Show $SYS events: client connects and disconnects, authentication errors, server stats.

    Without --follow, prints what arrives within --wait seconds, then exits; the first "stats"
    lines answer the PING sent at start. With --follow, runs until Ctrl-C.

    Output: one readable line per event. With --json and without --follow, one JSON document
    {"events": [...]}; with --json and --follow, one JSON object per line (JSON Lines), flushed
    as each event arrives.
    """
    wanted_types = set(types or EVENT_TYPES)
    wanted_accounts = set(accounts)

    def keep(event: Event, row: JSON) -> bool:
        if isinstance(event, AccountStatzEvent) or event.kind not in wanted_types:
            return False
        return not wanted_accounts or bool(wanted_accounts & {row["account"], row["account_name"]})

    async def run() -> list[JSON]:
        nc = await connect(nats_url, creds, nats_tls, as_json=as_json)
        monitor = Monitor(nc, ping_interval=None)
        queue: asyncio.Queue[Event] = asyncio.Queue()
        monitor.add_listener(queue.put_nowait)
        collected: list[JSON] = []
        loop = asyncio.get_running_loop()
        deadline = None if follow else loop.time() + wait
        try:
            await monitor.start()
            say("following $SYS events; Ctrl-C to stop" if follow else f"listening for $SYS events for {wait:g}s")
            while True:
                remaining = None if deadline is None else deadline - loop.time()
                if remaining is not None and remaining <= 0:
                    break
                try:
                    event = await asyncio.wait_for(queue.get(), remaining)
                except TimeoutError:
                    break
                row = monitor.state.row(event)
                if not keep(event, row):
                    continue
                if as_json and not follow:
                    collected.append(row)
                    continue
                click.echo(json.dumps(row, default=str) if as_json else event_line(row))
                sys.stdout.flush()
        finally:
            await monitor.stop()
            await nc.close()
        return collected

    try:
        collected = asyncio.run(run())
    except KeyboardInterrupt:
        return
    if as_json and not follow:
        emit({"events": collected}, True)
