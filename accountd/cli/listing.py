"""``accountd list operators|accounts|users|keys`` — what the home holds (nsc's `list`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from accountd.claims.validate import is_revoked
from accountd.cli.common import JsonGroup, account_option, nsc_command, open_home, operator_option, pick_account
from accountd.cli.describe import when
from accountd.cli.output import emit, table
from accountd.cli.root import main
from accountd.nsc.home import Home
from accountd.nsc.store import OperatorDir

__all__ = ["list_group"]


@main.group("list", cls=JsonGroup)
def list_group() -> None:
    """List operators, accounts, users or keys."""


@list_group.command("operators", epilog='\b\n--json prints: {"home": PATH, "operators": [{"name", "public_key", '
                                        '"account_server_url", "system_account", "accounts"}]}')
@nsc_command
def list_operators(as_json: bool, home: Path | None) -> None:
    """List the operators in the home."""
    h = open_home(home)
    rows: list[dict[str, Any]] = []
    with h.reading():
        h.require()
        for name in h.operators():
            opdir = h.operator_dir(name)
            c = opdir.operator().claims
            rows.append({"name": name, "public_key": c.sub, "account_server_url": c.nats.account_server_url,
                         "system_account": c.nats.system_account, "accounts": len(opdir.accounts())})
    emit({"home": str(h.root), "operators": rows}, as_json, lambda _: table(
        [[r["name"], r["public_key"], r["account_server_url"] or "-", str(r["accounts"])] for r in rows],
        ["Operator", "Public Key", "Account Server URL", "Accounts"]))


@list_group.command("accounts", epilog='\b\n--json prints: {"operator": NAME, "accounts": [{"name", "public_key", '
                                       '"iss", "iat", "exp", "system", "users"}]}')
@operator_option
@nsc_command
def list_accounts(operator: str | None, as_json: bool, home: Path | None) -> None:
    """List the accounts of an operator."""
    h = open_home(home)
    with h.reading():
        opdir = h.pick_operator(operator)
        sys_key = opdir.operator().claims.nats.system_account
        rows: list[dict[str, Any]] = []
        for name in opdir.accounts():
            c = opdir.account(name).claims
            rows.append({"name": name, "public_key": c.sub, "iss": c.iss, "iat": c.iat, "exp": c.exp,
                         "system": c.sub == sys_key, "users": len(opdir.users(name))})
    emit({"operator": opdir.name, "accounts": rows}, as_json, lambda _: table(
        [[r["name"] + (" (system)" if r["system"] else ""), r["public_key"], str(r["users"]), when(r["exp"])]
         for r in rows], ["Account", "Public Key", "Users", "Expires"]))


@list_group.command("users", epilog='\b\n--json prints: {"operator": NAME, "account": NAME, "users": [{"name", '
                                    '"public_key", "iss", "exp", "revoked", "creds_path"}]}')
@account_option()
@operator_option
@nsc_command
def list_users(account: str | None, operator: str | None, as_json: bool, home: Path | None) -> None:
    """List the users of an account."""
    h = open_home(home)
    with h.reading():
        opdir = h.pick_operator(operator)
        account_name = pick_account(opdir, account)
        acct = opdir.account(account_name).claims
        rows: list[dict[str, Any]] = []
        for name in opdir.users(account_name):
            c = opdir.user(account_name, name).claims
            creds = h.keystore.creds_path(opdir.name, account_name, name)
            rows.append({"name": name, "public_key": c.sub, "iss": c.iss, "exp": c.exp,
                         "revoked": is_revoked(acct, c.sub, c.iat),
                         "creds_path": str(creds) if creds.is_file() else None})
    emit({"operator": opdir.name, "account": account_name, "users": rows}, as_json, lambda _: table(
        [[r["name"], r["public_key"], "yes" if r["revoked"] else "no", r["creds_path"] or "-"] for r in rows],
        ["User", "Public Key", "Revoked", "Creds"]))


def _keys(h: Home, opdir: OperatorDir, only_account: str | None) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []

    def add(kind: str, name: str, key: str, parent: str, signing: bool) -> None:
        rows.append({"kind": kind, "name": name, "public_key": key, "parent": parent, "signing_key": signing,
                     "stored": h.keystore.has(key)})

    op = opdir.operator().claims
    if not only_account:
        add("operator", opdir.name, op.sub, "", False)
        for k in op.nats.signing_keys:
            add("operator", opdir.name, k, "", True)
    for a in opdir.accounts():
        if only_account and a != only_account:
            continue
        c = opdir.account(a).claims
        add("account", a, c.sub, opdir.name, False)
        for k in c.nats.signing_key_ids():
            add("account", a, k, opdir.name, True)
        for u in opdir.users(a):
            add("user", u, opdir.user(a, u).public_key, a, False)
    return rows


@list_group.command("keys", epilog='\b\n--json prints: {"operator": NAME, "keys": [{"kind", "name", "public_key", '
                                   '"parent", "signing_key", "stored"}], "unreferenced": [PUB]}')
@account_option("Only this account and its users.")
@operator_option
@click.option("--unreferenced", is_flag=True, help="Also list seeds in the keystore that nothing uses.")
@nsc_command
def list_keys(account: str | None, operator: str | None, unreferenced: bool, as_json: bool,
              home: Path | None) -> None:
    """List the keys of the operator, its accounts and users, and whether their seeds are stored."""
    h = open_home(home)
    with h.reading():
        opdir = h.pick_operator(operator)
        if account:
            pick_account(opdir, account)
        rows = _keys(h, opdir, account)
        extra: list[str] = []
        if unreferenced:
            used = {r["public_key"] for r in _keys(h, opdir, None)}
            extra = [k for k in h.keystore.public_keys() if k not in used]
    text = table([[r["kind"], r["name"], r["public_key"], "*" if r["signing_key"] else "",
                   "yes" if r["stored"] else "no"] for r in rows], ["Entity", "Name", "Key", "Signing Key", "Stored"])
    if extra:
        text += "\n\nunreferenced seeds:\n" + "\n".join(extra)
    emit({"operator": opdir.name, "keys": rows, "unreferenced": extra}, as_json, lambda _: text)
