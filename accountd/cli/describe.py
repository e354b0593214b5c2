"""``accountd describe operator|account|user`` — show a JWT as a table, decoded JSON or raw."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from accountd.claims.codec import decode_unverified
from accountd.claims.creds import decorate_jwt
from accountd.claims.errors import ClaimsError
from accountd.claims.models import AccountClaims, Claims, OperatorClaims, Permission, UserClaims
from accountd.claims.validate import is_revoked
from accountd.cli.common import JsonGroup, account_option, nsc_command, open_home, operator_option, pick_account
from accountd.cli.field import field_option, go_json, select_field
from accountd.cli.output import emit, table
from accountd.cli.root import main
from accountd.nsc.store import Entity

__all__ = ["describe", "when"]

_SHAPE = """\b
--json prints the decoded claims: the JWT payload as a JSON object
({"jti", "iat", "iss", "name", "sub", "nats": {…}}); with --raw also: {"jwt": TOKEN}.
--raw prints the JWT armored as nsc's `describe --raw` does.
--field PATH prints one value of the payload as JSON (null when absent), with or without --json."""

raw_option = click.option("--raw", is_flag=True, help="Print the JWT itself (armored).")


@main.group(cls=JsonGroup)
def describe() -> None:
    """Show an operator, account or user JWT (nsc's `describe`)."""


def when(ts: int, zero: str = "never") -> str:
    if not ts:
        return zero
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _num(n: int) -> str:
    return "unlimited" if n == -1 else str(n)


def _perm(p: Permission) -> str:
    parts = []
    if p.allow:
        parts.append("allow " + ", ".join(p.allow))
    if p.deny:
        parts.append("deny " + ", ".join(p.deny))
    return "; ".join(parts) or "-"


def _common(c: Claims, kind: str) -> list[list[str]]:
    rows = [["Name", c.name], [f"{kind} ID", c.sub], ["Issuer ID", c.iss], ["Issued", when(c.iat)],
            ["Expires", when(c.exp)]]
    if c.nbf:
        rows.append(["Valid from", when(c.nbf)])
    return rows


def _operator_rows(c: OperatorClaims, accounts: dict[str, str]) -> list[list[str]]:
    n = c.nats
    sys_name = accounts.get(n.system_account, "")
    return [
        *_common(c, "Operator"),
        ["Account JWT Server", n.account_server_url or "-"],
        ["Operator Service URLs", ", ".join(n.operator_service_urls) or "-"],
        ["System Account", f"{n.system_account} ({sys_name})" if sys_name else n.system_account or "-"],
        ["Require Signing Keys", str(n.strict_signing_key_usage).lower()],
        ["Signing Keys", ", ".join(n.signing_keys) or "-"],
        ["Assert Server Version", n.assert_server_version or "-"],
        ["Tags", ", ".join(n.tags) or "-"],
    ]


def _account_rows(c: AccountClaims) -> list[list[str]]:
    n, lim = c.nats, c.nats.limits
    rows = [*_common(c, "Account")]
    rows += [
        ["Max Connections", _num(lim.conn)], ["Max Leaf Node Connections", _num(lim.leaf)],
        ["Max Subscriptions", _num(lim.subs)], ["Max Data", _num(lim.data)], ["Max Msg Payload", _num(lim.payload)],
        ["Max Imports", _num(lim.imports)], ["Max Exports", _num(lim.exports)],
        ["Wildcard Exports", str(lim.wildcards).lower()], ["Disallow Bearer Token", str(lim.disallow_bearer).lower()],
    ]
    js = lim.jetstream_flat()
    if js.enabled():
        rows += [["JetStream Memory", _num(js.mem_storage)], ["JetStream Disk", _num(js.disk_storage)],
                 ["JetStream Streams", _num(js.streams)], ["JetStream Consumers", _num(js.consumer)]]
    elif lim.tiered_limits:
        for tier, t in sorted(lim.tiered_limits.items()):
            rows.append([f"JetStream {tier}", f"mem {_num(t.mem_storage)}, disk {_num(t.disk_storage)}, "
                                              f"streams {_num(t.streams)}, consumers {_num(t.consumer)}"])
    else:
        rows.append(["JetStream", "disabled"])
    keys = []
    for k in n.signing_keys:
        keys.append(k if isinstance(k, str) else f"{k.key} (scoped, role {k.role or '-'})")
    rows += [
        ["Signing Keys", ", ".join(keys) or "-"],
        ["Imports", str(len(n.imports))], ["Exports", str(len(n.exports))],
        ["Revocations", str(len(n.revocations))], ["Tags", ", ".join(n.tags) or "-"],
    ]
    for source, targets in sorted(n.mappings.items()):
        rows.append([f"Mapping {source}", ", ".join(
            f"{t.subject} ({t.weight or 100}%{', cluster ' + t.cluster if t.cluster else ''})" for t in targets)])
    if n.description:
        rows.append(["Description", n.description])
    return rows


def _user_rows(c: UserClaims, account: AccountClaims) -> list[list[str]]:
    n = c.nats
    rows = [*_common(c, "User")]
    rows += [
        ["Issuer Account", n.issuer_account or c.iss],
        ["Scoped", "yes" if account.nats.scoped_key(c.iss) else "no"],
        ["Pub", _perm(n.pub)], ["Sub", _perm(n.sub)],
        ["Response Permissions", f"max {n.resp.max}, ttl {n.resp.ttl}ns" if n.resp else "-"],
        ["Max Subscriptions", _num(n.subs)], ["Max Data", _num(n.data)], ["Max Msg Payload", _num(n.payload)],
        ["Bearer Token", str(n.bearer_token).lower()],
        ["Source Networks", ", ".join(n.src) or "-"],
        ["Allowed Connection Types", ", ".join(n.allowed_connection_types) or "-"],
        ["Times", ", ".join(f"{t.start}-{t.end}" for t in n.times) or "-"],
        ["Revoked", "yes" if is_revoked(account, c.sub, c.iat) else "no"],
        ["Tags", ", ".join(n.tags) or "-"],
    ]
    return rows


def _exports_imports(c: AccountClaims, names: dict[str, str]) -> str:
    """nsc's Exports and Imports tables below an account (empty when it has neither)."""
    parts = []
    if c.nats.exports:
        parts.append(table([[e.name, e.type, e.subject, "private" if e.token_req else "public",
                             e.response_type or "-", str(e.account_token_position or "-"), str(len(e.revocations))]
                            for e in c.nats.exports],
                           ["Exports", "Type", "Subject", "Access", "Response", "Account Token", "Revocations"]))
    if c.nats.imports:
        rows = []
        for i in c.nats.imports:
            try:
                access = f"activation, expires {when(decode_unverified(i.token).exp)}" if i.token else "public"
            except ClaimsError:
                access = "activation (unreadable)"
            rows.append([i.name, i.type, i.subject, i.local_subject or "-",
                         f"{names[i.account]} ({i.account})" if i.account in names else i.account, access])
        parts.append(table(rows, ["Imports", "Type", "Remote", "Local", "From Account", "Access"]))
    return "".join(f"\n\n{p}" for p in parts)


def _show(entity: Entity[Any], kind: str, rows: list[list[str]], as_json: bool, raw: bool, extra: str = "",
          field: str | None = None) -> None:
    if field is not None:
        if raw:
            raise click.UsageError("--field and --raw do not go together")
        click.echo(go_json(select_field(entity.token, field)))  # the same JSON with or without --json, as nsc's
        return
    if raw:
        emit({"jwt": entity.token}, as_json, lambda _: decorate_jwt(entity.token, kind).rstrip("\n"))
        return
    emit(entity.claims.to_go(), as_json, lambda _: table(rows, [f"{kind.capitalize()} Details", ""]) + extra)


@describe.command("operator", epilog=_SHAPE)
@operator_option
@click.option("--name", "-n", "name", metavar="NAME", help="Same as --operator.")
@raw_option
@field_option
@nsc_command
def describe_operator(operator: str | None, name: str | None, raw: bool, field: str | None, as_json: bool,
                      home: Path | None) -> None:
    """Show the operator JWT."""
    h = open_home(home)
    with h.reading():
        opdir = h.pick_operator(name or operator)
        op = opdir.operator()
        accounts = {opdir.account(a).public_key: a for a in opdir.accounts()}
    _show(op, "operator", _operator_rows(op.claims, accounts), as_json, raw, field=field)


@describe.command("account", epilog=_SHAPE)
@click.option("--name", "-n", metavar="NAME", help="Account (default: the only account).")
@operator_option
@raw_option
@field_option
@nsc_command
def describe_account(name: str | None, operator: str | None, raw: bool, field: str | None, as_json: bool,
                     home: Path | None) -> None:
    """Show an account JWT."""
    h = open_home(home)
    with h.reading():
        opdir = h.pick_operator(operator)
        acct = opdir.account(pick_account(opdir, name))
        names = {opdir.account(a).public_key: a for a in opdir.accounts()}
    _show(acct, "account", _account_rows(acct.claims), as_json, raw, _exports_imports(acct.claims, names), field)


@describe.command("user", epilog=_SHAPE)
@click.option("--name", "-n", required=True, metavar="NAME", help="User.")
@account_option()
@operator_option
@raw_option
@field_option
@nsc_command
def describe_user(name: str, account: str | None, operator: str | None, raw: bool, field: str | None,
                  as_json: bool, home: Path | None) -> None:
    """Show a user JWT."""
    h = open_home(home)
    with h.reading():
        opdir = h.pick_operator(operator)
        account_name = pick_account(opdir, account)
        acct = opdir.account(account_name)
        user = opdir.user(account_name, name)
    _show(user, "user", _user_rows(user.claims, acct.claims), as_json, raw, field=field)
