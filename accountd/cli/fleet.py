"""``accountd fleet``: which JWT each nats-server holds, compared with accountd."""

from __future__ import annotations

import asyncio
from typing import Any

import click
import nats
from nats.aio.client import Client

from accountd.cli.common import JsonCommand
from accountd.cli.output import emit, fail, json_option, say, table
from accountd.cli.resolver import DURATION
from accountd.cli.root import main

__all__ = ["fleet", "fleet_table"]

CREDS_HINT = "--creds (or ACCOUNTD_CREDS) must be a user of the operator's system account"
SHOWN = {"not_loaded": "-"}


def fleet_table(doc: dict[str, Any]) -> str:
    """Accounts down, servers across; each cell current / stale / missing / ahead / extra / unverified / -."""
    servers = [s["name"] for s in doc["servers"]]
    rows = []
    for a in doc["accounts"]:
        held = a["accountd"]
        cells = [SHOWN.get(a["servers"][s]["status"], a["servers"][s]["status"]) for s in servers]
        rows.append([a["account"], a["name"] or "-", str(held["iat"]) if held else "(none)", *cells])
    return table(rows, ["ACCOUNT", "NAME", "ACCOUNTD IAT", *servers])


def _summary(doc: dict[str, Any]) -> str:
    counts = doc["summary"]
    parts = [f"{n} {status.replace('_', ' ')}" for status, n in counts.items()]
    head = f"{len(doc['servers'])} servers, {len(doc['accounts'])} accounts"
    return head + (": " + ", ".join(parts) if parts else "") + ("" if doc["in_step"] else " — the fleet has drifted")


async def _connect(url: str, creds: str | None, as_json: bool) -> Client:
    async def quiet(exc: Exception) -> None:
        pass

    try:
        # max_reconnect_attempts=0 would retry a refused initial connect forever (nats-py 2.16,
        # _select_next_server only drops a server when the limit is > 0): one retry, then give up.
        return await nats.connect(servers=url.split(","), user_credentials=creds, name="accountd-fleet",
                                  connect_timeout=3, allow_reconnect=False, max_reconnect_attempts=1,
                                  reconnect_time_wait=0.1, error_cb=quiet)  # fmt: skip
    except Exception as exc:  # nats-py raises several unrelated types here
        fail(f"cannot connect to NATS at {url}: {exc or type(exc).__name__}", f"check --nats; {CREDS_HINT}",
             as_json=as_json, code="nats_unavailable")  # fmt: skip


@main.command(cls=JsonCommand)
@click.option("--url", envvar="ACCOUNTD_URL", show_envvar=True,
              help="accountd's URL (http://h:9090, …/jwt/v1 or …/jwt/v1/accounts). Without it, accountd is "
                   "asked over NATS.")
@click.option("--nats", "nats_url", default="nats://127.0.0.1:4222", show_default=True, envvar="ACCOUNTD_NATS",
              show_envvar=True, help="NATS server URL(s), comma-separated.")
@click.option("--creds", type=click.Path(exists=True, dir_okay=False), envvar="ACCOUNTD_CREDS", show_envvar=True,
              help="Creds file of a system-account user.")
@click.option("--quiet", "quiet_period", type=DURATION, default="250ms", show_default=True,
              help="Stop collecting replies once none arrived for this long.")
@click.option("--timeout", type=DURATION, default="2s", show_default=True, help="Longest wait for replies.")
@click.option("--check", is_flag=True, help="Exit 1 when any server has drifted.")
@json_option
def fleet(url: str | None, nats_url: str, creds: str | None, quiet_period: float, timeout: float, check: bool,
          as_json: bool) -> None:  # fmt: skip
    """Compare the account JWTs the nats-servers hold with accountd's.

    \b
    Statuses: current (same JWT as accountd), stale (older), ahead (newer than accountd),
    missing (a full resolver's directory lacks it), extra (accountd does not have it),
    unverified (stored, not loaded, and some stored copy differs), - (not loaded).
    Repair with `accountd resolver`.
    """
    from accountd.resolver import AccountdView, HttpFetcher, ResolverError, compare, survey

    async def run() -> dict[str, Any]:
        nc = await _connect(nats_url, creds, as_json)
        http = HttpFetcher(url, timeout=timeout) if url else None
        try:
            view = await AccountdView.from_http(http) if http else None
            report = compare(await survey(nc, view, quiet=quiet_period, timeout=timeout))
        except ResolverError as exc:
            fail(f"cannot list accountd's accounts: {exc.message}", "check --url", as_json=as_json,
                 code="accountd_unavailable")  # fmt: skip
        finally:
            await nc.close()
            if http is not None:
                await http.close()
        return report.to_dict()

    doc = asyncio.run(run())
    if doc["errors"] and not doc["servers"]:
        fail(doc["errors"][0], CREDS_HINT, as_json=as_json, code="no_servers")
    emit(doc, as_json, fleet_table)
    for error in doc["errors"]:
        say(f"warning: {error}")
    say(_summary(doc))
    if check and not doc["in_step"]:
        raise SystemExit(1)
