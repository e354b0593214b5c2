"""``accountd pull`` — bring account JWTs back from the account server (HTTP) or nats-servers (NATS).

A pulled JWT replaces the local one when it decodes as that account, is issued by a key the
operator trusts, and is not older than the local JWT (``--overwrite-newer`` to force). It is
stored under the local account's directory — a changed ``name`` claim does not create a second
directory, as it does in nsc.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import click

from accountd.claims.codec import decode_account
from accountd.claims.errors import ClaimsError
from accountd.claims.validate import Trust, extract_jwt
from accountd.cli.common import JsonCommand, nsc_command, open_home, progress, waiting
from accountd.cli.output import emit, fail, say
from accountd.cli.remote import Target, choose_target, nats_credentials, remote_options, select_accounts
from accountd.cli.remote_http import HttpRemote, RemoteError
from accountd.cli.remote_nats import NatsRemote
from accountd.cli.root import main
from accountd.natsclient import NatsTLS

__all__ = ["pull"]

_SHAPE = """\b
--json prints: {"operator", "url", "transport", "ok": BOOL, "results": [{"account", "public_key",
"ok": BOOL, "state": "updated"|"unchanged"|"kept-newer"|"not-found"|"failed", "message"}]}
Exit code 1 when any account failed."""


def _fetch_http(target: Target, keys: dict[str, str], timeout: float) -> dict[str, str | Exception | None]:
    remote = HttpRemote(target.url, timeout)
    out: dict[str, str | Exception | None] = {}
    with progress("pull", len(keys)) as step:
        for i, (name, pub) in enumerate(keys.items(), 1):
            resp = remote.get(pub)
            if resp.status == 200:
                out[name] = resp.body
            elif resp.status == 404:
                out[name] = None
            else:
                out[name] = RuntimeError(f"error pulling {remote.account_url(pub)}: HTTP {resp.status} "
                                         f"{resp.body.strip()}")
            step(i)
    return out


async def _fetch_nats(target: Target, creds: tuple[str, bool], keys: dict[str, str], timeout: float,
                      expect: int, everything: bool) -> dict[str, str | Exception | None]:
    async with NatsRemote(target.url, creds[0], creds_is_file=creds[1], timeout=timeout, expect=expect,
                          tls=target.tls) as r:
        if everything:
            pack = await r.pack()
            return {name: pack.get(pub) for name, pub in keys.items()}
        names = list(keys)
        found = await asyncio.gather(*(r.lookup(keys[n]) for n in names))
        return dict(zip(names, found, strict=True))


def _row(name: str, pub: str, ok: bool, state: str, message: str) -> dict[str, Any]:
    return {"account": name, "public_key": pub, "ok": ok, "state": state, "message": message}


@main.command(cls=JsonCommand, epilog=_SHAPE)
@remote_options("pull")
@click.option("--overwrite-newer", is_flag=True, help="Replace a local JWT even when it is newer.")
@nsc_command
def pull(account: str | None, all_accounts: bool, operator: str | None, url: str | None, transport: str | None,
         timeout: float, expect: int, creds: Path | None, nats_tls: NatsTLS, overwrite_newer: bool, as_json: bool,
         home: Path | None) -> None:
    """Pull account JWTs from the account server (HTTP GET) or nats-servers (LOOKUP / PACK)."""
    h = open_home(home)
    with h.reading():
        opdir = h.pick_operator(operator)
        op = opdir.operator().claims
        names = select_accounts(opdir, account, all_accounts)
        keys = {n: opdir.account(n).public_key for n in names}
        target = choose_target(op, url, transport, nats_tls)
        nats_creds = nats_credentials(h, opdir, op, creds) if target.transport == "nats" else ("", False)
    try:
        if target.transport == "http":
            fetched = _fetch_http(target, keys, timeout)
        else:
            fetched = asyncio.run(_fetch_nats(target, nats_creds, keys, timeout, expect, all_accounts))
    except RemoteError as exc:
        fail(exc.message, exc.hint, code="unreachable")
    trusted = Trust((op,)).account_signers()
    results = []
    with h.writing(waiting) as tx:
        for name, got in fetched.items():
            pub = keys[name]
            if got is None:
                results.append(_row(name, pub, False, "not-found", "the server does not have this account"))
                continue
            if isinstance(got, Exception):
                results.append(_row(name, pub, False, "failed", str(got)))
                continue
            try:
                token = extract_jwt(got)
                remote = decode_account(token)
            except ClaimsError as exc:
                results.append(_row(name, pub, False, "failed", f"not an account JWT: {exc.message}"))
                continue
            if remote.sub != pub:
                results.append(_row(name, pub, False, "failed", f"the server answered with account {remote.sub}"))
                continue
            if remote.iss not in trusted:
                results.append(_row(name, pub, False, "failed", f"issued by {remote.iss}, which the operator does "
                                                                "not trust"))
                continue
            local = opdir.account(name).claims
            if remote.jti == local.jti:
                results.append(_row(name, pub, True, "unchanged", "already up to date"))
            elif local.iat > remote.iat and not overwrite_newer:
                results.append(_row(name, pub, True, "kept-newer", "the local JWT is newer (--overwrite-newer "
                                                                   "replaces it)"))
            else:
                opdir.stage_account(tx, name, token)
                renamed = f" (its name claim is now {remote.name!r})" if remote.name != name else ""
                results.append(_row(name, pub, True, "updated", f"stored {opdir.account_path(name)}{renamed}"))
    failed = [r for r in results if not r["ok"]]
    doc = {"operator": opdir.name, "url": target.url, "transport": target.transport, "ok": not failed,
           "results": results}
    emit(doc, as_json, lambda _: "\n".join(f"{r['state']:<11} \"{r['account']}\": {r['message']}" for r in results))
    if failed:
        say(f"{len(failed)} of {len(results)} accounts failed")
        click.get_current_context().exit(1)
