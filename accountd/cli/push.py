"""``accountd push`` — send account JWTs to an account server (HTTP) or to nats-servers (NATS)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import click

from accountd.claims.codec import decode_account
from accountd.claims.diff import diff_accounts
from accountd.claims.errors import ClaimsError
from accountd.claims.models import AccountClaims
from accountd.claims.validate import Trust, extract_jwt, validate_account
from accountd.cli.admintoken import admin_token, admin_token_option
from accountd.cli.common import JsonCommand, nsc_command, open_home, progress
from accountd.cli.output import emit, fail, say
from accountd.cli.remote import Target, choose_target, delete_request, nats_credentials, remote_options, select_accounts
from accountd.cli.remote_http import HttpRemote, RemoteError
from accountd.cli.remote_nats import NatsRemote, Reply
from accountd.cli.root import main
from accountd.natsclient import NatsTLS
from accountd.nsc.home import Home
from accountd.nsc.store import Entity

__all__ = ["push"]

_SHAPE = """\b
--json prints: {"operator", "url", "transport": "http"|"nats", "dry_run": BOOL, "ok": BOOL,
"results": [{"account": NAME|null, "public_key", "action": "push"|"delete"|"diff", "ok": BOOL,
"state": TEXT, "message": TEXT, "changes": [TEXT], "servers": [{"server", "ok", "message"}]}]}
--diff states: new, same, changed, remote-newer, delete. Exit code 1 when any result failed."""

Result = dict[str, Any]


def _result(name: str | None, pub: str, action: str, ok: bool, state: str, message: str,
            changes: list[str] | None = None, servers: list[Reply] | None = None) -> Result:
    return {"account": name, "public_key": pub, "action": action, "ok": ok, "state": state, "message": message,
            "changes": changes or [], "servers": [s.to_json() for s in servers or []]}


def _compare(name: str, local: Entity[AccountClaims], remote_text: str | None) -> Result:
    pub = local.public_key
    if remote_text is None:
        return _result(name, pub, "diff", True, "new", "not on the server")
    try:
        remote = decode_account(extract_jwt(remote_text))
    except ClaimsError as exc:
        return _result(name, pub, "diff", True, "changed", f"the server's copy is invalid: {exc.message}")
    if remote.jti == local.claims.jti:
        return _result(name, pub, "diff", True, "same", "up to date")
    if remote.iat > local.claims.iat:
        return _result(name, pub, "diff", True, "remote-newer",
                       "the server's JWT is newer (pull it first; accountd refuses older JWTs)")
    return _result(name, pub, "diff", True, "changed", "differs", diff_accounts(remote, local.claims).lines())


def _check_replies(replies: list[Reply], expect: int, timeout: float) -> tuple[bool, str]:
    if not replies:
        return False, f"no server answered within {timeout:g}s (nats: timeout)"
    bad = [r for r in replies if not r.ok]
    if bad:
        return False, "; ".join(f"server {r.server} responded with error: {r.message}" for r in bad)
    text = "; ".join(f"{r.server}: {r.message}" for r in replies)
    if len(replies) < expect:
        return False, f"only {len(replies)} of {expect} servers answered ({text})"
    return True, text


def _run_http(h: Home, op: Any, target: Target, selected: dict[str, Entity[AccountClaims]], local_keys: set[str],
              prune: bool, diff: bool, timeout: float, token: str | None = None) -> list[Result]:
    remote = HttpRemote(target.url, timeout, token=token)
    results: list[Result] = []
    with progress("push", len(selected)) as step:
        for i, (name, entity) in enumerate(selected.items(), 1):
            pub = entity.public_key
            if diff:
                resp = remote.get(pub)
                text = resp.body if resp.status == 200 else None
                if resp.status not in (200, 404):
                    results.append(_result(name, pub, "diff", False, "error", f"HTTP {resp.status} {resp.quoted}"))
                else:
                    results.append(_compare(name, entity, text))
            else:
                resp = remote.push(pub, entity.token)
                ok = resp.status in (200, 201, 202)
                state = {200: "pushed", 201: "accepted", 202: "accepted"}.get(resp.status, "failed")
                message = f"HTTP {resp.status}" + (f"\n{resp.quoted}" if resp.body.strip() else "")
                results.append(_result(name, pub, "push", ok, state, message))
            step(i)
    if prune:
        system = op.nats.system_account
        # Streamed page by page (sorted by key): a server of a million accounts is never held in memory.
        extra = (a["account"] for a in remote.list_accounts())
        for pub in (p for p in extra if p not in local_keys and p != system):
            if diff:
                results.append(_result(None, pub, "diff", True, "delete", "only on the server"))
                continue
            resp = remote.delete(pub, delete_request(h, op, [pub]))
            results.append(_result(None, pub, "delete", resp.status == 200, "deleted" if resp.status == 200 else
                                   "failed", f"HTTP {resp.status} {resp.body.strip()}"))
    return results


async def _run_nats(h: Home, op: Any, target: Target, creds: tuple[str, bool],
                    selected: dict[str, Entity[AccountClaims]], local_keys: set[str], prune: bool, diff: bool,
                    timeout: float, expect: int) -> list[Result]:
    results: list[Result] = []
    async with NatsRemote(target.url, creds[0], creds_is_file=creds[1], timeout=timeout, expect=expect,
                          tls=target.tls) as r:
        if diff:
            names = list(selected)
            found = await asyncio.gather(*(r.lookup(selected[n].public_key) for n in names))
            results += [_compare(n, selected[n], text) for n, text in zip(names, found, strict=True)]
        else:
            replies = await r.push({e.public_key: e.token for e in selected.values()})
            for name, entity in selected.items():
                got = replies[entity.public_key]
                ok, message = _check_replies(got, expect, timeout)
                results.append(_result(name, entity.public_key, "push", ok, "pushed" if ok else "failed", message,
                                       servers=got))
        if prune:
            server, listed = await r.list_accounts()
            ok, message = _check_replies(listed, expect, timeout)
            if not ok:
                results.append(_result(None, "", "delete", False, "failed", f"listing accounts failed: {message}"))
                return results
            doomed = sorted(server - local_keys - {op.nats.system_account})
            if diff:
                results += [_result(None, pub, "diff", True, "delete", "only on the server") for pub in doomed]
            elif doomed:
                got = await r.delete(delete_request(h, op, doomed))
                ok, message = _check_replies(got, expect, timeout)
                results += [_result(None, pub, "delete", ok, "deleted" if ok else "failed", message, servers=got)
                            for pub in doomed]
    return results


def _human(results: list[Result], target: Target) -> str:
    lines = []
    for r in results:
        who = f'"{r["account"]}"' if r["account"] else r["public_key"]
        if r["action"] == "diff":
            lines.append(f"{r['state']:<13} {who}: {r['message']}")
            lines += [f"    {c}" for c in r["changes"]]
        elif r["ok"]:
            verb = "deleted" if r["action"] == "delete" else r["state"]
            lines.append(f"{verb} {who} at {target.url}: {r['message']}")
        else:
            lines.append(f"[ERR] failed to {r['action']} {who} at {target.url}: {r['message']}")
    return "\n".join(lines) or "nothing to do"


@main.command(cls=JsonCommand, epilog=_SHAPE)
@remote_options("push")
@click.option("--prune", "-P", is_flag=True, help="Delete on the server the accounts this home does not have "
              "(never the system account). NATS needs a full resolver with allow_delete.")
@click.option("--diff", "-D", is_flag=True, help="Only show what a push would change; change nothing.")
@click.option("--force", "-F", is_flag=True, help="Push even when local validation finds problems.")
@admin_token_option("--prune over HTTP (listing the server's accounts)")
@nsc_command
def push(account: str | None, all_accounts: bool, operator: str | None, url: str | None, transport: str | None,
         timeout: float, expect: int, creds: Path | None, nats_tls: NatsTLS, prune: bool, diff: bool, force: bool,
         admin_token_file: str | None, as_json: bool, home: Path | None) -> None:
    """Push account JWTs to the account server (HTTP POST) or to nats-servers ($SYS.REQ.CLAIMS.UPDATE)."""
    h = open_home(home)
    with h.reading():
        opdir = h.pick_operator(operator)
        op = opdir.operator().claims
        names = [] if prune and not account and not all_accounts else select_accounts(opdir, account, all_accounts)
        local = {n: opdir.account(n) for n in opdir.accounts()}
        target = choose_target(op, url, transport, nats_tls)
        nats_creds = nats_credentials(h, opdir, op, creds) if target.transport == "nats" else ("", False)
    selected = {n: local[n] for n in names}
    trust = Trust((op,))
    problems = [f"{n}: {i.message}" for n, e in selected.items() for i in validate_account(e.claims, trust).blocking]
    if problems and not force and not diff:
        fail("local validation failed: " + "; ".join(problems), "fix the accounts, or push anyway with --force",
             code="invalid")
    local_keys = {e.public_key for e in local.values()}
    try:
        if target.transport == "http":
            token = admin_token(admin_token_file, as_json=as_json) if prune else None
            results = _run_http(h, op, target, selected, local_keys, prune, diff, timeout, token)
        else:
            results = asyncio.run(_run_nats(h, op, target, nats_creds, selected, local_keys, prune, diff, timeout,
                                            expect))
    except RemoteError as exc:
        fail(exc.message, exc.hint, code="unreachable")
    failed = [r for r in results if not r["ok"]]
    doc = {"operator": opdir.name, "url": target.url, "transport": target.transport, "dry_run": diff,
           "ok": not failed, "results": results}
    emit(doc, as_json, lambda _: _human(results, target))
    if failed:
        say(f"{len(failed)} of {len(results)} jobs failed")
        click.get_current_context().exit(1)
    if not diff and results:
        say(f"all {len(results)} jobs succeeded")
