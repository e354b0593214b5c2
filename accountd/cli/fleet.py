"""``accountd fleet``: which JWT each nats-server holds, compared with accountd."""

from __future__ import annotations

import asyncio
import json
from typing import Any, NoReturn

import click

from accountd.cli.admintoken import admin_token, admin_token_option
from accountd.cli.common import JsonCommand, nats_tls_options
from accountd.cli.monitor import connect
from accountd.cli.output import fail, json_option, say, table
from accountd.cli.resolver import DURATION
from accountd.cli.root import main
from accountd.natsclient import NatsTLS

__all__ = ["fleet", "fleet_table"]

CREDS_HINT = "--creds (or ACCOUNTD_CREDS) must be a user of the operator's system account"
SHOWN = {"not_loaded": "-"}
PAGE = 1000  # accountd.resolver.walk.PAGE (accountd.resolver is imported only when the command runs)


def fleet_table(doc: dict[str, Any]) -> str:
    """Accounts down, servers across; each cell current / stale / missing / ahead / extra / unverified / -."""
    servers = [s["name"] for s in doc["servers"]]
    return table([_table_row(a, servers) for a in doc["accounts"]], _headers(servers))


def _headers(servers: list[str]) -> list[str]:
    return ["ACCOUNT", "NAME", "ACCOUNTD IAT", *servers]


def _table_row(a: dict[str, Any], servers: list[str]) -> list[str]:
    held = a["accountd"]
    cells = [SHOWN.get(a["servers"][s]["status"], a["servers"][s]["status"]) for s in servers]
    return [a["account"], a["name"] or "-", str(held["iat"]) if held else "(none)", *cells]


class _TableOut:
    """The table, written page by page: the column widths are those of the first page."""

    def __init__(self, head: dict[str, Any]) -> None:
        self.servers = [s["name"] for s in head["servers"]]
        self.widths: list[int] | None = None

    def rows(self, rows: list[dict[str, Any]]) -> None:
        lines = [_table_row(a, self.servers) for a in rows]
        if self.widths is None:
            text = table(lines, _headers(self.servers))
            self.widths = [len(w) for w in text.splitlines()[1].split("  ")]
        else:
            text = "\n".join("  ".join(v.ljust(w) for v, w in zip(r, self.widths, strict=True)).rstrip()
                             for r in lines)  # fmt: skip
        if text:
            click.echo(text)

    def end(self, tail: dict[str, Any]) -> None:
        if self.widths is None:
            self.rows([])


class _JsonOut:
    """One JSON document, written page by page: the head, each page's accounts, then the tail."""

    def __init__(self, head: dict[str, Any]) -> None:
        click.echo("{")
        for key, value in head.items():
            click.echo(f"  {json.dumps(key)}: {_indented(value)},")
        click.echo('  "accounts": [', nl=False)
        self.first = True

    def rows(self, rows: list[dict[str, Any]]) -> None:
        for row in rows:
            click.echo(("\n" if self.first else ",\n") + "    " + _indented(row, 4), nl=False)
            self.first = False

    def end(self, tail: dict[str, Any]) -> None:
        click.echo("]" if self.first else "\n  ]", nl=False)
        for key, value in tail.items():
            click.echo(f",\n  {json.dumps(key)}: {_indented(value)}", nl=False)
        click.echo("\n}")


def _indented(value: Any, level: int = 2) -> str:
    """``value`` as ``json.dumps(indent=2)`` writes it ``level`` spaces in."""
    return json.dumps(value, indent=2, default=str).replace("\n", "\n" + " " * level)


def _summary(doc: dict[str, Any]) -> str:
    counts = doc["summary"]
    parts = [f"{n} {status.replace('_', ' ')}" for status, n in counts.items()]
    head = f"{len(doc['servers'])} servers, {doc['accounts_compared']} accounts"
    return head + (": " + ", ".join(parts) if parts else "") + ("" if doc["in_step"] else " — the fleet has drifted")


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
@click.option("--page-size", type=click.IntRange(1, PAGE), default=PAGE, show_default=True,
              help="Accounts compared at a time (and asked of accountd per list request).")
@click.option("--check", is_flag=True, help="Exit 1 when any server has drifted.")
@admin_token_option("listing accountd's accounts over --url")
@nats_tls_options
@json_option
def fleet(url: str | None, nats_url: str, creds: str | None, quiet_period: float, timeout: float, page_size: int,
          check: bool, admin_token_file: str | None, nats_tls: NatsTLS, as_json: bool) -> None:  # fmt: skip
    """Compare the account JWTs the nats-servers hold with accountd's.

    \b
    Statuses: current (same JWT as accountd), stale (older), ahead (newer than accountd),
    missing (a full resolver's directory lacks it), extra (accountd does not have it),
    unverified (stored, not loaded, and some stored copy differs), - (not loaded).
    Accounts are listed by key, a page at a time, as they are compared. Repair with
    `accountd resolver`.
    """
    from accountd.resolver import FleetWalk, HttpFetcher, ResolverError, compare

    broken = False
    token = admin_token(admin_token_file, as_json=as_json)

    def unavailable(exc: ResolverError) -> NoReturn:
        fail(f"cannot list accountd's accounts: {exc.message}", "check --url", as_json=as_json,
             code="accountd_unavailable")  # fmt: skip

    async def run() -> dict[str, Any]:
        nonlocal broken
        nc = await connect(nats_url, creds, nats_tls, as_json=as_json)
        http = HttpFetcher(url, timeout=timeout, token=token) if url else None
        try:
            walk = FleetWalk(nc, http, quiet=quiet_period, timeout=timeout, page=page_size)
            await walk.start()
            if not walk.servers:
                fail(walk.errors[0], CREDS_HINT, as_json=as_json, code="no_servers")
            pages = walk.pages()
            try:
                page = await anext(pages, None)  # accountd answers before anything is written
            except ResolverError as exc:
                unavailable(exc)
            total = walk.report()
            labels = total.labels()
            out = _JsonOut(total.head_dict()) if as_json else _TableOut(total.head_dict())
            while page is not None:
                report = compare(page)
                out.rows([report.row_dict(r, labels) for r in report.rows])
                total.add(report, keep=0)
                try:
                    page = await anext(pages, None)
                except ResolverError as exc:
                    total.errors.append(f"listing accountd's accounts stopped after {total.compared} accounts: "
                                        f"{exc.message}")  # fmt: skip
                    page, broken = None, True
            tail = total.tail_dict()
            out.end(tail)
        finally:
            await nc.close()
            if http is not None:
                await http.close()
        return {**total.head_dict(), **tail}

    doc = asyncio.run(run())
    for error in doc["errors"]:
        say(f"warning: {error}")
    say(_summary(doc))
    if broken or (check and not doc["in_step"]):
        raise SystemExit(1)
