"""``accountd delete account|user|operator`` — remove entities from the home (like ``nsc delete``).

Local only: a deleted account stays on account servers and nats-servers until ``accountd push
--prune`` removes it there. Each command lists what it removes and asks first (``--yes`` skips the
question; ``--json`` needs it). Other modules add ``delete mapping``, ``delete export`` … to the
:data:`delete` group.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import click

from accountd.cli.claimopts import F, split_values, stack
from accountd.cli.common import (
    JsonGroup,
    account_option,
    nsc_command,
    open_home,
    operator_option,
    pick_account,
    waiting,
)
from accountd.cli.output import emit, fail
from accountd.cli.root import main
from accountd.nsc.deletion import Deleted, stage_delete_account, stage_delete_operator, stage_delete_users

__all__ = ["confirm", "delete", "yes_option"]

_SHAPE = """\b
--json prints: {"home", "operator", "deleted": [{"kind", "name", "public_key", "files": [PATH],
"keys": [PUB], "revoked": BOOL}]} (--json needs --yes)."""

yes_option = click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")


def _key_options(what: str) -> Callable[[F], F]:
    return stack(
        click.option("--rm-nkey", "-D", "rm_nkeys", is_flag=True, help=f"Also delete the seeds of {what}."),
        click.option("--rm-creds", "-C", "rm_creds", is_flag=True, help="Also delete the users' creds files."),
    )


@main.group(cls=JsonGroup)
def delete() -> None:
    """Delete an operator, an account or users (nsc's `delete`; local: `push --prune` follows)."""


def confirm(yes: bool, as_json: bool, question: str, lines: list[str]) -> None:
    """Ask ``question`` after ``lines`` (stderr) unless ``yes``; refuse ``--json`` without ``--yes``."""
    if yes:
        return
    if as_json:
        raise click.UsageError("--json needs --yes (there is nobody to ask)")
    for line in lines:
        click.echo(line, err=True)
    if not click.confirm(question, err=True):
        fail("delete cancelled", code="cancelled")


def _plan(deleted: list[Deleted], rm_nkeys: bool) -> list[str]:
    lines = [f"  {d.kind} {d.name} ({d.public_key})" for d in deleted]
    if rm_nkeys:
        lines.append(f"  and {sum(len(d.keys) for d in deleted)} seeds")
    return lines


def _human(deleted: list[Deleted]) -> str:
    lines = []
    for d in deleted:
        extra = (", revoked" if d.revoked else "") + (f", {len(d.keys)} seeds removed" if d.keys else "")
        lines.append(f"deleted {d.kind} {d.name} ({d.public_key}){extra}")
    return "\n".join(lines)


def _done(home: Path, operator: str, deleted: list[Deleted], as_json: bool, note: str = "") -> None:
    doc = {"home": str(home), "operator": operator, "deleted": [d.to_json() for d in deleted]}
    emit(doc, as_json, lambda _: _human(deleted) + (f"\n{note}" if note else ""))


def _managed(managed: bool, force: bool, what: str) -> None:
    if managed and not force:
        fail(f"the operator is managed: deleting {what} here does not cancel it with the operator",
             "run again with --force if you mean it", code="usage")


@delete.command("account", epilog=_SHAPE)
@click.option("--name", "-n", required=True, metavar="NAME", help="The account to delete (with its users).")
@operator_option
@_key_options("the account, its signing keys and its users")
@click.option("--force", "-F", is_flag=True, help="Delete the system account, or an account of a managed operator.")
@yes_option
@nsc_command
def delete_account(name: str, operator: str | None, rm_nkeys: bool, rm_creds: bool, force: bool, yes: bool,
                   as_json: bool, home: Path | None) -> None:
    """Delete an account and its users from the home; `push --prune` then removes it from the servers."""
    h = open_home(home)
    with h.writing(waiting) as tx:
        opdir = h.pick_operator(operator)
        op = opdir.operator().claims
        name = pick_account(opdir, name)
        deleted = stage_delete_account(h, tx, opdir, name, rm_nkeys=rm_nkeys, rm_creds=rm_creds)
        _managed(opdir.managed, force, f"account {name!r}")
        if deleted[0].public_key == op.nats.system_account and not force:
            fail(f"{name!r} is the system account of operator {opdir.name!r}",
                 "set another with `accountd edit operator --system-account NAME` first, or pass --force",
                 code="usage")
        confirm(yes, as_json, "deleting accounts, users, seeds or creds cannot be undone - continue?",
                [f"deleting from {h.root}:", *_plan(deleted, rm_nkeys)])
    _done(h.root, opdir.name, deleted, as_json,
          f"remove it from the servers with `accountd push --prune --operator {opdir.name}`")


@delete.command("user", epilog=_SHAPE)
@click.option("--name", "-n", "names", required=True, multiple=True, metavar="NAME",
              help="The user(s) to delete (repeatable, comma-separated).")
@account_option()
@operator_option
@click.option("--revoke", "-R", is_flag=True, help="Revoke the users in the account first (re-signs it).")
@_key_options("the users")
@yes_option
@nsc_command
def delete_user(names: tuple[str, ...], account: str | None, operator: str | None, revoke: bool, rm_nkeys: bool,
                rm_creds: bool, yes: bool, as_json: bool, home: Path | None) -> None:
    """Delete users of an account (`--revoke`: also revoke them, so their creds stop working once pushed)."""
    h = open_home(home)
    with h.writing(waiting) as tx:
        opdir = h.pick_operator(operator)
        op = opdir.operator().claims
        account_name = pick_account(opdir, account)
        deleted = stage_delete_users(h, tx, opdir, account_name, list(dict.fromkeys(split_values(names))), op,
                                     revoke=revoke, rm_nkeys=rm_nkeys, rm_creds=rm_creds)
        confirm(yes, as_json, "deleting users, seeds or creds cannot be undone - continue?",
                [f"deleting from account {account_name}:", *_plan(deleted, rm_nkeys)])
    note = f"push the account for the revocation to apply: `accountd push --account {account_name}`" if revoke else ""
    _done(h.root, opdir.name, deleted, as_json, note)


@delete.command("operator", epilog=_SHAPE)
@click.option("--name", "-n", required=True, metavar="NAME", help="The operator to delete (with everything in it).")
@_key_options("the operator and everything it holds")
@yes_option
@nsc_command
def delete_operator(name: str, rm_nkeys: bool, rm_creds: bool, yes: bool, as_json: bool, home: Path | None) -> None:
    """Delete an operator with its accounts and users from the home (nsc has no such command)."""
    h = open_home(home)
    with h.writing(waiting) as tx:
        opdir = h.pick_operator(name)
        deleted = stage_delete_operator(h, tx, opdir, rm_nkeys=rm_nkeys, rm_creds=rm_creds)
        confirm(yes, as_json, "deleting an operator, its accounts, users, seeds or creds cannot be undone - continue?",
                [f"deleting from {h.root}:", *_plan(deleted, rm_nkeys)])
    _done(h.root, opdir.name, deleted, as_json)
