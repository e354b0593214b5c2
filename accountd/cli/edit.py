"""``accountd edit operator|account|user|signing-key`` — change claims and re-sign (like ``nsc edit``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from accountd.claims.keys import KeyPair, Role, create, load_seed, public_role
from accountd.claims.models import ScopedSigningKey, UserPermissionLimits
from accountd.claims.validate import Trust
from accountd.cli.changing import changing_account
from accountd.cli.claimopts import (
    apply_limits,
    apply_tags,
    apply_validity,
    limit_options,
    tag_options,
    validity_options,
)
from accountd.cli.common import (
    JsonGroup,
    account_option,
    check_url,
    nsc_command,
    open_home,
    operator_option,
    pick_account,
    require_valid,
    waiting,
)
from accountd.cli.output import emit, fail, say
from accountd.cli.permopts import apply_permissions, permission_changes_requested, permission_options
from accountd.cli.root import main
from accountd.nsc.atomic import Transaction
from accountd.nsc.home import Home
from accountd.nsc.resign import resign_account, resign_operator, resign_user

__all__ = ["edit"]

_SHAPE = """\b
--json prints: {"kind": "operator"|"account"|"user", "name", "public_key", "jwt_path",
"changes": [TEXT], "resigned": [{"kind", "name"}]}"""
_SK_HELP = "Add a signing key: 'generate', a public key, a seed or a seed file (repeatable)."


@main.group(cls=JsonGroup)
def edit() -> None:
    """Change an operator, account, user or scoped signing key, and re-sign it (nsc's `edit`)."""


def _signing_key(value: str, role: Role, home: Home, tx: Transaction) -> str:
    """The public key for an --sk value; stores the seed when one is given or generated."""
    kp: KeyPair | None
    if value == "generate":
        kp = create(role)
    elif public_role(value) is role:
        return value
    elif value.startswith("S"):
        kp = load_seed(value, role)
    elif Path(value).is_file():
        kp = load_seed(Path(value), role)
    else:
        raise click.BadParameter(f"{value!r} is not 'generate', a {role.name.lower()} key, a seed or a seed file",
                                 param_hint="--sk")
    home.keystore.stage_key(tx, kp)
    return kp.public_key


def _done(kind: str, name: str, public_key: str, path: Path, changes: list[str], resigned: list[dict[str, str]],
          as_json: bool) -> None:
    if not changes:
        raise click.UsageError("nothing to change: give at least one option (see --help)")
    doc = {"kind": kind, "name": name, "public_key": public_key, "jwt_path": str(path), "changes": changes,
           "resigned": resigned}
    text = f"updated {kind} {name}: " + ", ".join(changes)
    text += "".join(f"\nre-signed {r['kind']} {r['name']}" for r in resigned)
    emit(doc, as_json, lambda _: text)


@edit.command("operator", epilog=_SHAPE)
@operator_option
@click.option("--account-server-url", "-u", metavar="URL", help="Set the account server URL.")
@click.option("--rm-account-server-url", is_flag=True, help="Remove the account server URL.")
@click.option("--service-url", multiple=True, metavar="URL", help="Add an operator service URL (nats://…).")
@click.option("--rm-service-url", multiple=True, metavar="URL", help="Remove an operator service URL.")
@click.option("--system-account", metavar="NAME|KEY", help="Set the system account.")
@click.option("--sk", multiple=True, metavar="KEY", help=_SK_HELP)
@click.option("--rm-sk", multiple=True, metavar="PUB", help="Remove a signing key.")
@click.option("--require-signing-keys/--no-require-signing-keys", "strict", default=None,
              help="Set strict_signing_key_usage: accounts must be signed by signing keys.")
@click.option("--assert-server-version", metavar="X.Y.Z", help="Minimum nats-server version.")
@click.option("--resign", is_flag=True, help="Re-sign accounts whose signer is no longer trusted.")
@validity_options()
@tag_options()
@nsc_command
def edit_operator(operator: str | None, account_server_url: str | None, rm_account_server_url: bool,
                  service_url: tuple[str, ...], rm_service_url: tuple[str, ...], system_account: str | None,
                  sk: tuple[str, ...], rm_sk: tuple[str, ...], strict: bool | None,
                  assert_server_version: str | None, resign: bool, as_json: bool, home: Path | None,
                  **opts: Any) -> None:
    """Change the operator JWT (URLs, system account, signing keys, strict mode)."""
    h = open_home(home)
    resigned: list[dict[str, str]] = []
    with h.writing(waiting) as tx:
        opdir = h.pick_operator(operator)
        op = opdir.operator()
        c, changes = op.claims, []
        if account_server_url is not None:
            c.nats.account_server_url = check_url(account_server_url, "--account-server-url")
            changes.append(f"account_server_url={account_server_url}")
        if rm_account_server_url:
            c.nats.account_server_url = ""
            changes.append("account_server_url removed")
        for url in service_url:
            c.nats.operator_service_urls.append(check_url(url, "--service-url", ("nats", "tls", "ws", "wss")))
            changes.append(f"service_url+={url}")
        for url in rm_service_url:
            if url in c.nats.operator_service_urls:
                c.nats.operator_service_urls.remove(url)
                changes.append(f"service_url-={url}")
        if system_account is not None:
            key = system_account if public_role(system_account) is Role.ACCOUNT else None
            if key is None:
                key = opdir.account(pick_account(opdir, system_account)).public_key
            c.nats.system_account = key
            changes.append(f"system_account={key}")
        for value in sk:
            key = _signing_key(value, Role.OPERATOR, h, tx)
            if key not in c.nats.signing_keys:
                c.nats.signing_keys.append(key)
                changes.append(f"signing_key+={key}")
        for key in rm_sk:
            if key not in c.nats.signing_keys:
                fail(f"{key} is not a signing key of operator {opdir.name!r}",
                     "its signing keys: " + (", ".join(c.nats.signing_keys) or "none"), code="not_found")
            c.nats.signing_keys.remove(key)
            changes.append(f"signing_key-={key}")
        if strict is not None:
            if strict and not c.nats.signing_keys:
                fail("strict signing key usage needs an operator signing key", "add one with --sk generate",
                     code="usage")
            c.nats.strict_signing_key_usage = strict
            changes.append(f"strict_signing_key_usage={strict}")
        if assert_server_version is not None:
            c.nats.assert_server_version = assert_server_version
            changes.append(f"assert_server_version={assert_server_version}")
        changes += apply_validity(c, opts) + apply_tags(c.nats.tags, opts)
        require_valid(c, "operator")
        resign_operator(h, tx, opdir, c)
        trusted = Trust((c,)).account_signers()
        for name in opdir.accounts():
            acct = opdir.account(name)
            if acct.claims.iss in trusted:
                continue
            if resign:
                resign_account(h, tx, opdir, name, acct.claims, c)
                resigned.append({"kind": "account", "name": name})
            else:
                say(f"warning: account {name} is signed by {acct.claims.iss}, which the operator no longer trusts;"
                    " run again with --resign or edit the account")
    _done("operator", opdir.name, c.sub, opdir.jwt_path, changes, resigned, as_json)


@edit.command("account", epilog=_SHAPE)
@click.option("--name", "-n", metavar="NAME", help="Account to change (default: the only account).")
@operator_option
@limit_options()
@click.option("--sk", multiple=True, metavar="KEY", help=_SK_HELP)
@click.option("--rm-sk", multiple=True, metavar="PUB", help="Remove a signing key.")
@click.option("--description", default=None, help="A description.")
@click.option("--info-url", default=None, metavar="URL", help="A link to more information.")
@click.option("--resign", is_flag=True, help="Re-sign users whose signing key was removed.")
@validity_options()
@tag_options()
@nsc_command
def edit_account(name: str | None, operator: str | None, sk: tuple[str, ...], rm_sk: tuple[str, ...],
                 description: str | None, info_url: str | None, resign: bool, as_json: bool, home: Path | None,
                 **opts: Any) -> None:
    """Change an account's limits, signing keys, tags or validity, and re-sign it."""
    resigned: list[dict[str, str]] = []
    with changing_account(home, operator, name, operator_first=True) as change:
        h, tx, opdir, name, c = change.home, change.tx, change.opdir, change.name, change.claims
        changes = apply_limits(c.nats.limits, opts)
        for value in sk:
            key = _signing_key(value, Role.ACCOUNT, h, tx)
            if key not in c.nats.signing_key_ids():
                c.nats.signing_keys.append(key)
                changes.append(f"signing_key+={key}")
        for key in rm_sk:
            if key not in c.nats.signing_key_ids():
                fail(f"{key} is not a signing key of account {name!r}",
                     "its signing keys: " + (", ".join(c.nats.signing_key_ids()) or "none"), code="not_found")
            c.nats.signing_keys = [k for k in c.nats.signing_keys if (k if isinstance(k, str) else k.key) != key]
            changes.append(f"signing_key-={key}")
        if description is not None:
            c.nats.description = description
            changes.append("description")
        if info_url is not None:
            c.nats.info_url = info_url
            changes.append("info_url")
        changes += apply_validity(c, opts) + apply_tags(c.nats.tags, opts)
        change.resign()  # before its users are re-signed, in the same transaction
        signers = set(c.nats.signing_key_ids()) | {c.sub}
        for user in opdir.users(name):
            u = opdir.user(name, user)
            if u.claims.iss in signers:
                continue
            if resign:
                resign_user(h, tx, opdir, name, c, change.operator_claims, user, u.claims)
                resigned.append({"kind": "user", "name": user})
            else:
                say(f"warning: user {user} was signed by the removed key {u.claims.iss}; run again with --resign")
    _done("account", name, c.sub, opdir.account_path(name), changes, resigned, as_json)


@edit.command("user", epilog=_SHAPE)
@click.option("--name", "-n", required=True, help="User to change.")
@account_option()
@operator_option
@permission_options()
@validity_options()
@tag_options()
@nsc_command
def edit_user(name: str, account: str | None, operator: str | None, as_json: bool, home: Path | None,
              **opts: Any) -> None:
    """Change a user's permissions, limits or validity; re-sign it and rewrite its creds."""
    h = open_home(home)
    with h.writing(waiting) as tx:
        opdir = h.pick_operator(operator)
        op = opdir.operator()
        account_name = pick_account(opdir, account)
        acct = opdir.account(account_name)
        user = opdir.user(account_name, name)
        c = user.claims
        if acct.claims.nats.scoped_key(c.iss) is not None and permission_changes_requested(opts):
            fail(f"user {name!r} is signed by the scoped key {c.iss}: its permissions come from the key's template",
                 f"change the template: `accountd edit signing-key --account {account_name} --sk {c.iss} …`",
                 code="usage")
        changes = apply_permissions(c.nats, opts, sort_src=True)
        changes += apply_validity(c, opts) + apply_tags(c.nats.tags, opts)
        require_valid(c, "user")
        if changes:
            resign_user(h, tx, opdir, account_name, acct.claims, op.claims, name, c)
    _done("user", name, c.sub, opdir.user_path(account_name, name), changes, [], as_json)


@edit.command("signing-key", epilog=_SHAPE)
@account_option()
@operator_option
@click.option("--sk", required=True, metavar="PUB", help="The account signing key to scope.")
@click.option("--role", default=None, help="A name for the scope.")
@click.option("--description", default=None, help="A description of the scope.")
@click.option("--unscope", is_flag=True, help="Turn the key back into a plain signing key.")
@permission_options()
@nsc_command
def edit_signing_key(account: str | None, operator: str | None, sk: str, role: str | None,
                     description: str | None, unscope: bool, as_json: bool, home: Path | None,
                     **opts: Any) -> None:
    """Make an account signing key scoped: users it signs get the template's permissions.

    Templates may use {{name()}}, {{subject()}}, {{account-name()}}, {{account-subject()}},
    {{tag(x)}} and {{account-tag(x)}} in subjects; nats-server expands them at login.
    """
    with changing_account(home, operator, account, operator_first=True) as change:
        opdir, account_name, c = change.opdir, change.name, change.claims
        if sk not in c.nats.signing_key_ids():
            fail(f"{sk} is not a signing key of account {account_name!r}",
                 f"add it first: `accountd edit account --name {account_name} --sk {sk}`", code="not_found")
        index = c.nats.signing_key_ids().index(sk)
        entry = c.nats.signing_keys[index]
        changes: list[str] = []
        if unscope:
            c.nats.signing_keys[index] = sk
            changes.append("unscoped")
        else:
            scope = entry if isinstance(entry, ScopedSigningKey) else ScopedSigningKey(
                key=sk, template=UserPermissionLimits())
            if not isinstance(entry, ScopedSigningKey):
                changes.append("scoped")
            if role is not None:
                scope.role = role
                changes.append(f"role={role}")
            if description is not None:
                scope.description = description
                changes.append("description")
            changes += apply_permissions(scope.template, opts)
            c.nats.signing_keys[index] = scope
    _done("account", account_name, c.sub, opdir.account_path(account_name), changes, [], as_json)
