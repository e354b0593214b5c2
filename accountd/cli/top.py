"""``accountd top``: a live terminal view of the fleet, like ``nats top`` (plain ANSI, no curses)."""

from __future__ import annotations

import asyncio
import shutil
import sys
from datetime import UTC, datetime
from typing import Any

import click

from accountd.cli.monitor import CREDS_HINT, connect, nats_options, servers_table
from accountd.cli.output import fail, table
from accountd.cli.root import main
from accountd.monitor import Monitor, MonitorState
from accountd.natsclient import NatsTLS

__all__ = ["render_frame", "top"]

JSON = dict[str, Any]
CLEAR = "\x1b[H\x1b[2J"  # cursor home, clear the screen
BOLD, RESET = "\x1b[1m", "\x1b[0m"


def _heading(text: str, ansi: bool) -> str:
    return f"{BOLD}{text}{RESET}" if ansi else text


def render_frame(state: MonitorState, *, accounts: int = 10, auth_errors: int = 5, ansi: bool = True) -> str:
    """One screen: totals, the servers, the busiest accounts, the latest failed logins."""
    t = state.totals()
    now = datetime.now(UTC).strftime("%H:%M:%S")
    lines = [
        _heading(f"accountd top  {now}", ansi)
        + f"  servers {t['servers_up']} up / {t['servers']}  connections {t['connections']}"
        f"  accounts {t['accounts']}  auth errors {t['auth_errors']}",
        "",
        _heading("SERVERS", ansi),
    ]
    servers = state.servers_view()
    lines.append(servers_table(servers) if servers else "(no server answered yet)")
    busiest = [a for a in state.accounts_view() if a["connections"] or a["leafnodes"]][:accounts]
    lines += ["", _heading("BUSIEST ACCOUNTS", ansi)]
    if busiest:
        cells = [[a["name"] or "-", str(a["connections"]), str(a["leafnodes"]),
                  "-" if a["subscriptions"] is None else str(a["subscriptions"]), str(a["connects"]),
                  str(a["disconnects"]), a["account"]] for a in busiest]  # fmt: skip
        lines.append(table(cells, ["NAME", "CONNS", "LEAFS", "SUBS", "CONNECTS", "DISCONNECTS", "ACCOUNT"]))
    else:
        lines.append("(no connections)")
    lines += ["", _heading("RECENT AUTH ERRORS", ansi)]
    errors = state.auth_errors_view(auth_errors)
    if errors:
        cells = [[(e["time"] or "")[11:19], e["server"], e["client"]["host"] or "-", e["account_name"] or e["account"]
                  or "-", e.get("reason") or "-"] for e in errors]  # fmt: skip
        lines.append(table(cells, ["TIME", "SERVER", "CLIENT", "CLAIMED ACCOUNT", "REASON"]))
    else:
        lines.append("(none)")
    return "\n".join(lines)


def _fit(frame: str) -> str:
    """Cut lines to the terminal's width and height so a frame never scrolls."""
    size = shutil.get_terminal_size((120, 40))
    return "\n".join(line[: size.columns + 16] for line in frame.splitlines()[: size.lines - 1])


@main.command()
@nats_options
@click.option("--once", is_flag=True, help="Print one frame and exit.")
@click.option("--interval", type=float, default=1.0, show_default=True, help="Seconds between frames.")
@click.option("--accounts", "n_accounts", type=int, default=10, show_default=True, help="Busiest accounts shown.")
def top(nats_url: str, creds: str | None, nats_tls: NatsTLS, once: bool, interval: float, n_accounts: int) -> None:
    """A live view of the nats-servers: load, the busiest accounts, recent failed logins.

    Asks every server for its stats and account connections ($SYS.REQ.SERVER.PING and
    $SYS.REQ.ACCOUNT.PING.STATZ) every --interval seconds, and follows the $SYS events in between.
    Ctrl-C to stop. Needs a system-account user, like `accountd servers`.
    """
    ansi = sys.stdout.isatty()

    async def run() -> None:
        nc = await connect(nats_url, creds, nats_tls, as_json=False)
        monitor = Monitor(nc, ping_interval=None, quiet=min(0.25, interval / 4), ping_timeout=max(interval, 1.0))
        try:
            await monitor.start()
            while True:
                await monitor.refresh()
                if once and not monitor.state.servers:
                    fail("no server answered $SYS.REQ.SERVER.PING", CREDS_HINT, as_json=False, code="no_servers")
                frame = render_frame(monitor.state, accounts=n_accounts, ansi=ansi)
                click.echo((CLEAR + _fit(frame)) if ansi and not once else frame)
                sys.stdout.flush()
                if once:
                    return
                await asyncio.sleep(interval)
        finally:
            await monitor.stop()
            await nc.close()

    try:
        asyncio.run(run())
    except KeyboardInterrupt:
        return
