"""``accountd revocations add-user|delete-user|list-users`` — an account's user revocations.

A user is revoked when ``revocations[user] >= user.iat`` (or ``revocations["*"]``): users issued
up to and including the revocation time are refused; a user re-issued later is accepted again.
Push the account afterwards so running servers disconnect revoked users.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import click

from accountd.claims.keys import Role, public_role
from accountd.cli.changing import changing_account
from accountd.cli.claimopts import parse_time
from accountd.cli.common import JsonGroup, account_option, nsc_command, open_home, operator_option, pick_account
from accountd.cli.describe import when
from accountd.cli.output import emit, fail, table
from accountd.cli.root import main
from accountd.nsc.store import OperatorDir

__all__ = ["revocations"]

_CHANGE = '\b\n--json prints: {"account": NAME, "public_key": USER_KEY|"*", "user": NAME|null, "at": UNIX|null}'


@main.group(cls=JsonGroup)
def revocations() -> None:
    """Revoke users of an account, or lift revocations (nsc's `revocations`)."""


def _target(opdir: OperatorDir, account: str, name: str | None, key: str | None) -> tuple[str, str | None]:
    if bool(name) == bool(key):
        raise click.UsageError("give exactly one of --name USER or --user-public-key KEY")
    if key:
        if key != "*" and public_role(key) is not Role.USER:
            raise click.BadParameter(f"{key!r} is not a user public key (U…) or '*'", param_hint="--user-public-key")
        users = {opdir.user(account, u).public_key: u for u in opdir.users(account)}
        return key, users.get(key)
    assert name is not None
    return opdir.user(account, name).public_key, name


_who = (
    click.option("--name", "-n", metavar="USER", help="The user, by name."),
    click.option("--user-public-key", "-u", metavar="KEY", help="The user, by public key ('*' = all users)."),
)


@revocations.command("add-user", epilog=_CHANGE)
@account_option()
@operator_option
@_who[0]
@_who[1]
@click.option("--at", metavar="WHEN", default=None,
              help="Revoke users issued up to this time (default: now; same forms as --expiry).")
@nsc_command
def add_user(account: str | None, operator: str | None, name: str | None, user_public_key: str | None,
             at: str | None, as_json: bool, home: Path | None) -> None:
    """Revoke a user (or all users issued so far with --user-public-key '*')."""
    with changing_account(home, operator, account, validate=False) as change:
        account_name = change.name
        key, user = _target(change.opdir, account_name, name, user_public_key)
        c = change.claims
        stamp = parse_time(at) if at else int(time.time())
        c.nats.revocations[key] = stamp or int(time.time())
    stamp = c.nats.revocations[key]
    emit({"account": account_name, "public_key": key, "user": user, "at": stamp}, as_json,
         lambda _: f"revoked {user or key} in account {account_name} (users issued up to {when(stamp)})")


@revocations.command("delete-user", epilog=_CHANGE)
@account_option()
@operator_option
@_who[0]
@_who[1]
@nsc_command
def delete_user(account: str | None, operator: str | None, name: str | None, user_public_key: str | None,
                as_json: bool, home: Path | None) -> None:
    """Lift a user's revocation."""
    with changing_account(home, operator, account, validate=False) as change:
        account_name = change.name
        key, user = _target(change.opdir, account_name, name, user_public_key)
        c = change.claims
        if key not in c.nats.revocations:
            fail(f"{user or key} is not revoked in account {account_name!r}",
                 f"see `accountd revocations list-users --account {account_name}`", code="not_found")
        del c.nats.revocations[key]
    emit({"account": account_name, "public_key": key, "user": user, "at": None}, as_json,
         lambda _: f"lifted the revocation of {user or key} in account {account_name}")


@revocations.command("list-users", epilog='\b\n--json prints: {"account": NAME, "revocations": '
                                          '[{"public_key", "user": NAME|null, "at": UNIX}]}')
@account_option()
@operator_option
@nsc_command
def list_users(account: str | None, operator: str | None, as_json: bool, home: Path | None) -> None:
    """List an account's revoked users."""
    h = open_home(home)
    with h.reading():
        opdir = h.pick_operator(operator)
        account_name = pick_account(opdir, account)
        revs = opdir.account(account_name).claims.nats.revocations
        names = {opdir.user(account_name, u).public_key: u for u in opdir.users(account_name)}
    rows: list[dict[str, Any]] = [{"public_key": k, "user": names.get(k), "at": v} for k, v in sorted(revs.items())]
    emit({"account": account_name, "revocations": rows}, as_json, lambda _: table(
        [[r["user"] or "-", r["public_key"], when(r["at"])] for r in rows], ["User", "Public Key", "Revoked At"]))
