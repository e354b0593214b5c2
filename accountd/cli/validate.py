"""``accountd validate`` — check the whole home as nsc's ``validate`` does, and more (see
:mod:`accountd.cli.checks`); with ``--url``, compare every account with what the account server
(HTTP GET) or the nats-servers (``$SYS.REQ.ACCOUNT.<pub>.CLAIMS.LOOKUP``) hold.

Exit code 1 when any error is found (with ``--fail-on-warning`` also on warnings).
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import click

from accountd.claims.codec import decode_account
from accountd.claims.diff import diff_accounts
from accountd.claims.errors import ClaimsError
from accountd.claims.validate import extract_jwt
from accountd.cli.checks import Problem, check_operator
from accountd.cli.claimopts import parse_duration_ns
from accountd.cli.common import JsonCommand, nsc_command, open_home, pick_account
from accountd.cli.output import emit, table
from accountd.cli.remote import choose_target, nats_credentials, remote_options
from accountd.cli.remote_http import HttpRemote, RemoteError
from accountd.cli.remote_nats import NatsRemote
from accountd.cli.root import main
from accountd.natsclient import NatsTLS
from accountd.nsc.home import Home
from accountd.nsc.store import OperatorDir

__all__ = ["validate"]

_SHAPE = """\b
--json prints: {"home", "ok": BOOL, "operators": [NAME], "url": URL|null,
"checked": {"operators", "accounts", "users"}, "errors": N, "warnings": N,
"problems": [{"level": "error"|"warning", "operator", "account", "user", "kind", "code", "message"}]}
Exit code 1 when an error is found (--fail-on-warning: also a warning)."""


def _remote_problem(operator: str, account: str, local: Any, text: str | None) -> Problem | None:
    def p(code: str, message: str) -> Problem:
        return Problem("error", operator, account, None, "server", code, message)

    if text is None:
        return p("not_pushed", "the server does not have the account: push it")
    try:
        remote = decode_account(extract_jwt(text))
    except ClaimsError as exc:
        return p("server_invalid", f"the server's copy is invalid ({exc.message}): push it")
    if remote.jti == local.claims.jti:
        return None
    if remote.iat > local.claims.iat:
        return p("server_newer", "the server holds a newer JWT: pull it (`accountd pull --account NAME`)")
    changes = diff_accounts(remote, local.claims).lines()
    return p("differs", "the server holds an older version: push it" + (f" ({'; '.join(changes[:5])})"
                                                                        if changes else ""))


def _compare(h: Home, opdir: OperatorDir, names: list[str], url: str | None, transport: str | None, timeout: float,
             expect: int, creds: Path | None, tls: NatsTLS) -> tuple[str, list[Problem]]:
    op = opdir.operator().claims
    target = choose_target(op, url, transport, tls)
    local = {n: opdir.account(n) for n in names}
    try:
        if target.transport == "http":
            remote = HttpRemote(target.url, timeout)
            found: dict[str, str | None] = {}
            for n, e in local.items():
                resp = remote.get(e.public_key)
                if resp.status not in (200, 404):
                    return target.url, [Problem("error", opdir.name, n, None, "server", "server_error",
                                                f"HTTP {resp.status} {resp.quoted}")]
                found[n] = resp.body if resp.status == 200 else None
        else:
            found = asyncio.run(_lookups(h, opdir, target.url, local, timeout, expect, creds, tls))
    except RemoteError as exc:
        return target.url, [Problem("error", opdir.name, None, None, "server", "unreachable", exc.message)]
    problems = [_remote_problem(opdir.name, n, local[n], found[n]) for n in names]
    return target.url, [p for p in problems if p is not None]


async def _lookups(h: Home, opdir: OperatorDir, url: str, local: dict[str, Any], timeout: float, expect: int,
                   creds: Path | None, tls: NatsTLS) -> dict[str, str | None]:
    secret, is_file = nats_credentials(h, opdir, opdir.operator().claims, creds)
    async with NatsRemote(url, secret, creds_is_file=is_file, timeout=timeout, expect=expect, tls=tls) as r:
        texts = await asyncio.gather(*(r.lookup(e.public_key) for e in local.values()))
    return dict(zip(local, texts, strict=True))


def _human(doc: dict[str, Any], problems: list[Problem]) -> str:
    checked = doc["checked"]
    summary = (f"{doc['errors']} errors, {doc['warnings']} warnings in {checked['operators']} operators, "
               f"{checked['accounts']} accounts, {checked['users']} users"
               + (f" (compared with {doc['url']})" if doc["url"] else ""))
    if not problems:
        return "no problems: " + summary.split(" in ", 1)[1]
    rows = [[p.level, p.where(), p.code, p.message] for p in problems]
    return table(rows, ["Level", "Where", "Code", "Problem"]) + "\n" + summary


@main.command(cls=JsonCommand, epilog=_SHAPE)
@remote_options("validate")
@click.option("--expiring-within", "soon", default="168h", show_default=True, metavar="DURATION",
              help="Warn about JWTs that expire within this time (Go duration: 72h, 30m).")
@click.option("--fail-on-warning", is_flag=True, help="Exit 1 on warnings too.")
@nsc_command
def validate(account: str | None, all_accounts: bool, operator: str | None, url: str | None, transport: str | None,
             timeout: float, expect: int, creds: Path | None, nats_tls: NatsTLS, soon: str, fail_on_warning: bool,
             as_json: bool, home: Path | None) -> None:
    """Check every operator, account, import and user of the home; with --url, what the servers hold."""
    seconds = parse_duration_ns(soon) // 10**9
    h = open_home(home)
    problems: list[Problem] = []
    checked = {"operators": 0, "accounts": 0, "users": 0}
    with h.reading():
        h.require()
        opdirs = [h.pick_operator(operator)] if operator or account or url else [
            h.operator_dir(n) for n in h.operators()]
        for opdir in opdirs:
            if account:
                pick_account(opdir, account)  # an unknown name fails here
            found, counts = check_operator(h, opdir, soon=seconds)
            if account:
                found = [p for p in found if p.account in (account, None)]
            problems += found
            checked["operators"] += 1
            checked["accounts"] += 1 if account else counts["accounts"]
            checked["users"] += len(opdir.users(account)) if account else counts["users"]
        target_url = None
        if url or transport:
            opdir = opdirs[0]
            names = [account] if account else opdir.accounts()
            target_url, remote = _compare(h, opdir, names, url, transport, timeout, expect, creds, nats_tls)
            problems += remote
    errors = sum(p.level == "error" for p in problems)
    warnings = len(problems) - errors
    ok = not errors and not (fail_on_warning and warnings)
    doc = {"home": str(h.root), "ok": ok, "operators": [o.name for o in opdirs], "url": target_url,
           "checked": checked, "errors": errors, "warnings": warnings, "problems": [p.to_json() for p in problems]}
    emit(doc, as_json, lambda _: _human(doc, problems))
    if not ok:
        click.get_current_context().exit(1)
