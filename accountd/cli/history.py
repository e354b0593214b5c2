"""``accountd history``, ``accountd diff`` and ``accountd rollback``: an account's versions in accountd.

They read ``accountd serve``'s admin routes ``/-/accounts/<pub>/history`` and ``…/diff`` (the
admin token from ``--admin-token-file``). ``rollback --to REV`` re-issues the claims of version
REV with a fresh ``iat`` (accountd rightly refuses an older one), signed by the key that signed REV
when its seed is in the home, else by the operator's account-signing key; it shows what changes,
asks, pushes, and writes the new JWT into the home.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from accountd.claims.codec import decode_account, decode_unverified
from accountd.claims.diff import diff_accounts
from accountd.claims.errors import ClaimsError
from accountd.claims.keys import KeyPair, Role
from accountd.claims.models import AccountClaims, OperatorClaims
from accountd.cli.admintoken import admin_token, admin_token_option
from accountd.cli.common import JsonCommand, nsc_command, open_home, operator_option
from accountd.cli.output import emit, fail, table
from accountd.cli.remote_http import HttpRemote, RemoteError
from accountd.cli.root import main
from accountd.nsc.atomic import Transaction
from accountd.nsc.entities import account_issuer, sign
from accountd.nsc.home import Home
from accountd.nsc.store import OperatorDir

__all__ = ["diff", "history", "rollback"]

_KEY = re.compile(r"A[A-Z2-7]{55}")


def _options(f: Any) -> Any:
    for option in reversed([
        click.option("--account", "-a", "account", required=True, metavar="NAME|KEY",
                     help="The account: its name in the home, or its public key."),
        operator_option,
        click.option("--url", "-u", metavar="URL",
                     help="accountd's base URL (http://H:9090 or http://H:9090/jwt/v1; with --admin-listen, "
                          "the admin listener). Default: the operator's account_server_url."),
        click.option("--timeout", type=float, default=10.0, show_default=True, metavar="SECONDS"),
        admin_token_option("the history routes"),
    ]):
        f = option(f)
    return f


class _Account:
    """The account the command is about: its key, and its name and JWT in the home if it is there."""

    def __init__(self, opdir: OperatorDir, text: str) -> None:
        self.opdir = opdir
        if opdir.has_account(text):
            self.name: str | None = text
            self.key = opdir.account(text).public_key
        elif _KEY.fullmatch(text):
            self.key, self.name = text, opdir.account_by_key(text)
        else:
            fail(f"account {text!r} is neither an account of operator {opdir.name!r} nor an account key",
                 "known accounts: " + (", ".join(opdir.accounts()) or "none"), code="not_found")
        self.local_iat = opdir.account(self.name).claims.iat if self.name else 0
        """The iat of the home's copy (0 when the home does not hold the account)."""


def _read_home(home: Path | None, operator: str | None, account: str) -> tuple[Home, OperatorClaims, _Account]:
    """The home, its operator's claims and the account the command is about, read under the home's lock."""
    h = open_home(home)
    with h.reading():
        opdir = h.pick_operator(operator)
        return h, opdir.operator().claims, _Account(opdir, account)


def _remote(op: OperatorClaims, url: str | None, timeout: float, token_file: str | None, as_json: bool) -> HttpRemote:
    base = url or op.nats.account_server_url
    if not base or not base.startswith(("http://", "https://")):
        fail("no accountd URL", "pass --url http://HOST:9090 (the operator has no http account_server_url)",
             as_json=as_json, code="usage")
    base = base.rstrip("/")
    if base.endswith("/jwt/v1"):
        base = base[: -len("/jwt/v1")]
    return HttpRemote(base + "/jwt/v1", timeout, token=admin_token(token_file, as_json=as_json))


def _admin(remote: HttpRemote, path: str, as_json: bool) -> Any:
    try:
        return remote.admin_json(path)
    except RemoteError as exc:
        fail(exc.message, exc.hint, as_json=as_json)


def _versions(remote: HttpRemote, key: str, as_json: bool, limit: int = 1000) -> list[dict[str, Any]]:
    doc = _admin(remote, f"/-/accounts/{key}/history?limit={limit}", as_json)
    return list(doc.get("versions") or [])


def _when(stored_at: Any) -> str:
    if not isinstance(stored_at, int | float) or stored_at <= 0:
        return "-"
    return datetime.fromtimestamp(stored_at, UTC).strftime("%Y-%m-%d %H:%M:%S")


def _source(source: Any) -> str:
    if not isinstance(source, dict) or not source:
        return "-"
    return " ".join(str(source[k]) for k in ("via", "path", "client", "subject") if source.get(k))


def _history_text(doc: dict[str, Any]) -> str:
    rows = [[str(v.get("revision")), _when(v.get("stored_at")), _source(v.get("source")),
             "deleted" if v.get("deleted") else str(v.get("iat", "")), str(v.get("jti", ""))[:12],
             str(v.get("issuer", ""))[:12]] for v in doc["versions"]]
    return f"account {doc['account']}\n" + table(rows, ["REVISION", "STORED (UTC)", "SOURCE", "IAT", "JTI", "ISSUER"])


@main.command(cls=JsonCommand, epilog="--json prints the server's {\"account\", \"versions\": [...]}.")
@_options
@click.option("--limit", type=click.IntRange(min=1), default=50, show_default=True, help="Versions to show.")
@nsc_command
def history(account: str, operator: str | None, url: str | None, timeout: float, admin_token_file: str | None,
            limit: int, as_json: bool, home: Path | None) -> None:
    """The versions accountd keeps of an account, newest first: when, how it arrived, who signed it."""
    _, op, who = _read_home(home, operator, account)
    remote = _remote(op, url, timeout, admin_token_file, as_json)
    doc = {"account": who.key, "versions": _versions(remote, who.key, as_json, limit)}
    emit(doc, as_json, _history_text)


@main.command(cls=JsonCommand, epilog="--json prints the structured diff with its \"lines\".")
@_options
@click.option("--from", "from_rev", type=int, metavar="REV", help="Default: the version before --to.")
@click.option("--to", "to_rev", type=int, metavar="REV", help="Default: the newest version.")
@nsc_command
def diff(account: str, operator: str | None, url: str | None, timeout: float, admin_token_file: str | None,
         from_rev: int | None, to_rev: int | None, as_json: bool, home: Path | None) -> None:
    """What changed in an account between two of its versions: limits, exports, imports, keys, revocations, tags."""
    _, op, who = _read_home(home, operator, account)
    remote = _remote(op, url, timeout, admin_token_file, as_json)
    query = "&".join(f"{k}={v}" for k, v in (("from", from_rev), ("to", to_rev)) if v is not None)
    doc = _admin(remote, f"/-/accounts/{who.key}/diff" + (f"?{query}" if query else ""), as_json)
    emit(doc, as_json, lambda d: "\n".join(d.get("lines") or ["no change"]))


def _issued_iat(token: str) -> int:
    try:
        return decode_unverified(token).iat
    except ClaimsError:
        return 0


def _signer(h: Home, op: OperatorClaims, claims: AccountClaims) -> KeyPair:
    """The key that signed the old version if the home has it and the operator still trusts it."""
    trusted = ([] if op.nats.strict_signing_key_usage else [op.sub]) + list(op.nats.signing_keys)
    if claims.iss in trusted:
        kp = h.keystore.load(claims.iss, Role.OPERATOR)
        if kp is not None:
            return kp
    return account_issuer(h, op)


@main.command(cls=JsonCommand, epilog="""\b
--json prints: {"account", "public_key", "from_revision", "to_revision", "jti", "iat", "changes": [...],
"pushed": BOOL, "written": PATH|null} (--json needs --yes).""")
@_options
@click.option("--to", "to_rev", type=int, required=True, metavar="REV", help="The revision to go back to.")
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
@nsc_command
def rollback(account: str, operator: str | None, url: str | None, timeout: float, admin_token_file: str | None,
             to_rev: int, yes: bool, as_json: bool, home: Path | None) -> None:
    """Go back to an earlier version: its claims, re-issued with a fresh iat, pushed, and written into the home."""
    if as_json and not yes:
        raise click.UsageError("--json needs --yes (there is nobody to ask)")
    h, op, who = _read_home(home, operator, account)
    opdir = who.opdir
    remote = _remote(op, url, timeout, admin_token_file, as_json)
    versions = _versions(remote, who.key, as_json)
    target = next((v for v in versions if v.get("revision") == to_rev), None)
    if target is None:
        fail(f"revision {to_rev} of {who.key} is not in accountd's history",
             "see `accountd history --account …` for the revisions kept", as_json=as_json, code="not_found")
    if target.get("deleted"):
        fail(f"revision {to_rev} is a deletion", "roll back to a live version", as_json=as_json, code="usage")
    current = versions[0]
    old = decode_account(str(target["jwt"]))
    claims = AccountClaims.from_go(old.to_go())
    previous = max(who.local_iat, *(_issued_iat(str(v.get("jwt", ""))) for v in versions))
    with h.lock():
        token = sign(claims, _signer(h, op, old), previous)
        new = decode_account(token)
        before = decode_account(str(current["jwt"])) if not current.get("deleted") else None
        changes = diff_accounts(before, new).lines() if before is not None else ["(the account is deleted now)"]
        if not yes:
            click.echo(f"rolling {who.name or who.key} back to revision {to_rev} "
                       f"(now revision {current.get('revision')}):", err=True)
            for line in changes or ["no change in the claims"]:
                click.echo(f"  {line}", err=True)
            if not click.confirm("push it?", err=True):
                fail("rollback cancelled", code="cancelled")
        response = remote.push(who.key, token)
        if response.status not in (200, 201, 202):
            fail(f"accountd refused the rolled-back JWT: HTTP {response.status}\n{response.quoted}",
                 as_json=as_json, code="push_failed")
        written = None
        if who.name:
            tx = Transaction()
            written = opdir.stage_account(tx, who.name, token)
            tx.commit()
    doc = {"account": who.name, "public_key": who.key, "from_revision": current.get("revision"),
           "to_revision": to_rev, "jti": new.jti, "iat": new.iat, "changes": changes, "pushed": True,
           "written": str(written) if written else None}
    emit(doc, as_json, lambda d: f"rolled back {d['account'] or d['public_key']} to revision {to_rev} "
                                 f"(jti {d['jti']}); pushed" + (f", written to {d['written']}" if d["written"] else ""))
