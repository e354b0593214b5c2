"""``accountd add operator|account|user`` — create entities in nsc's layout (like ``nsc add``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from accountd.claims.models import AccountClaims, OperatorClaims, UserClaims
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
    written_text,
)
from accountd.cli.output import emit, fail
from accountd.cli.permopts import apply_permissions, permission_changes_requested, permission_options
from accountd.cli.root import main
from accountd.nsc import entities

__all__ = ["add"]

_SHAPE = """\b
--json prints: {"home": PATH, "operator": NAME, "created": [{"kind", "name", "public_key",
"jwt_path", "key_path", "creds_path"}]}"""


@main.group(cls=JsonGroup)
def add() -> None:
    """Create an operator, an account or a user (nsc's `add`)."""


def _result(home: Path, operator: str, written: list[entities.Written], as_json: bool) -> None:
    emit({"home": str(home), "operator": operator, "created": [w.to_json() for w in written]}, as_json,
         lambda _: written_text(written))


@add.command("operator", epilog=_SHAPE)
@click.option("--name", "-n", required=True, help="Operator name (a directory name).")
@click.option("--sys", "with_sys", is_flag=True, help="Also create the system account SYS and its user sys.")
@click.option("--account-server-url", "-u", metavar="URL", default="",
              help="Where accounts are pushed and nats-server fetches them, e.g. http://127.0.0.1:9090/jwt/v1.")
@click.option("--service-url", "service_urls", multiple=True, metavar="URL",
              help="A nats:// URL of the operator's servers (repeat for more).")
@click.option("--generate-signing-key", is_flag=True, help="Also create an operator signing key.")
@validity_options()
@tag_options()
@nsc_command
def add_operator(name: str, with_sys: bool, account_server_url: str, service_urls: tuple[str, ...],
                 generate_signing_key: bool, as_json: bool, home: Path | None, **opts: Any) -> None:
    """Create an operator: its key, its self-signed JWT and the store directory."""
    if account_server_url:
        check_url(account_server_url, "--account-server-url")
    for url in service_urls:
        check_url(url, "--service-url", ("nats", "tls", "ws", "wss"))

    def configure(claims: OperatorClaims) -> None:
        apply_validity(claims, opts)
        apply_tags(claims.nats.tags, opts)
        require_valid(claims, "operator")

    h = open_home(home)
    with h.writing(waiting, create=True) as tx:
        written = entities.add_operator(
            h, tx, name, account_server_url=account_server_url, service_urls=service_urls,
            system_account=with_sys, signing_key=generate_signing_key, configure=configure,
        )
    _result(h.root, written[0].name, written, as_json)


@add.command("account", epilog=_SHAPE)
@click.option("--name", "-n", required=True, help="Account name (a directory name).")
@operator_option
@limit_options()
@validity_options()
@tag_options()
@nsc_command
def add_account(name: str, operator: str | None, as_json: bool, home: Path | None, **opts: Any) -> None:
    """Create an account signed by the operator (limits default to unlimited, JetStream off)."""

    def configure(claims: AccountClaims) -> None:
        apply_limits(claims.nats.limits, opts)
        apply_validity(claims, opts)
        apply_tags(claims.nats.tags, opts)
        require_valid(claims, "account")

    h = open_home(home)
    with h.writing(waiting) as tx:
        opdir = h.pick_operator(operator)
        op = opdir.operator()
        issuer = entities.account_issuer(h, op.claims)
        written = entities.add_account(h, tx, opdir, name, issuer, configure=configure)
    _result(h.root, opdir.name, [written], as_json)


@add.command("user", epilog=_SHAPE)
@click.option("--name", "-n", required=True, help="User name (a file name).")
@account_option()
@operator_option
@click.option("--signing-key", "-K", metavar="PUB",
              help="Sign with this account signing key (default: the account key).")
@permission_options()
@validity_options()
@tag_options()
@nsc_command
def add_user(name: str, account: str | None, operator: str | None, signing_key: str | None, as_json: bool,
             home: Path | None, **opts: Any) -> None:
    """Create a user of an account, with its seed and a .creds file."""
    h = open_home(home)
    with h.writing(waiting) as tx:
        opdir = h.pick_operator(operator)
        op = opdir.operator()
        account_name = pick_account(opdir, account)
        acct = opdir.account(account_name)
        signer = entities.user_signer(h, acct.claims, op.claims, signing_key)
        scoped = acct.claims.nats.scoped_key(signer.public_key) is not None
        if scoped and permission_changes_requested(opts):
            fail(f"{signer.public_key} is a scoped signing key: its users take the permissions of its template",
                 f"change the template with `accountd edit signing-key --account {account_name} "
                 f"--sk {signer.public_key} …`", code="usage")

        def configure(claims: UserClaims) -> None:
            apply_permissions(claims.nats, opts)
            apply_validity(claims, opts)
            apply_tags(claims.nats.tags, opts)
            require_valid(claims, "user")

        written = entities.add_user(h, tx, opdir, account_name, acct.claims, name, signer, configure=configure)
    _result(h.root, opdir.name, [written], as_json)
