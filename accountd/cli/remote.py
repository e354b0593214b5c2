"""What ``push`` and ``pull`` share: where to talk to, how, and with which credentials.

The target is ``--url``, else the operator's ``account_server_url`` (HTTP) or its first
``operator_service_urls`` entry (NATS). The transport is ``--transport``, else the URL's scheme:
``http(s)://`` → HTTP, ``nats://``, ``tls://``, ``ws(s)://`` → NATS (as nsc decides it). Over NATS,
``--nats-tls-*`` give the TLS files.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlparse

import click

from accountd.claims.codec import encode
from accountd.claims.keys import KeyPair, Role
from accountd.claims.models import GenericClaims, OperatorClaims
from accountd.claims.validate import Trust, account_user_signers
from accountd.cli.claimopts import stack
from accountd.cli.common import nats_tls_options, operator_option
from accountd.cli.output import fail
from accountd.cli.remote_nats import temporary_user
from accountd.natsclient import NatsTLS
from accountd.nsc.entities import account_issuer
from accountd.nsc.home import Home
from accountd.nsc.store import OperatorDir

__all__ = ["Target", "choose_target", "delete_request", "nats_credentials", "remote_options", "select_accounts"]

_NATS_SCHEMES = ("nats", "tls", "ws", "wss")
F = TypeVar("F", bound=Callable[..., Any])


def remote_options(verb: str) -> Callable[[F], F]:
    return stack(
        click.option("--account", "-a", "account", metavar="NAME", help=f"The account to {verb}."),
        click.option("--all", "-A", "all_accounts", is_flag=True, help=f"{verb.capitalize()} every account."),
        operator_option,
        click.option("--url", "-u", metavar="URL",
                     help="Account server base (http://H:9090/jwt/v1) or a nats:// server URL. "
                          "Default: the operator's account_server_url / service URL."),
        click.option("--transport", type=click.Choice(["http", "nats"]), default=None,
                     help="Default: from the URL's scheme."),
        click.option("--timeout", type=float, default=5.0, show_default=True, metavar="SECONDS",
                     help="Per request (HTTP), or the longest wait for the expected replies (NATS)."),
        click.option("--expect", type=click.IntRange(min=1), default=1, show_default=True, metavar="N",
                     help="NATS: servers that must answer before a request is done (your cluster size)."),
        click.option("--creds", type=click.Path(dir_okay=False, exists=True, path_type=Path),
                     help="NATS: a system-account user's creds (default: a temporary user signed by the "
                          "system account key)."),
        nats_tls_options,
    )


@dataclass(frozen=True)
class Target:
    transport: str
    url: str
    tls: NatsTLS = field(default_factory=NatsTLS)
    """NATS only: the TLS files."""


def choose_target(op: OperatorClaims, url: str | None, transport: str | None, tls: NatsTLS | None = None) -> Target:
    target = _choose_target(op, url, transport)
    return Target(target.transport, target.url, tls or NatsTLS())


def _choose_target(op: OperatorClaims, url: str | None, transport: str | None) -> Target:
    if url:
        scheme = urlparse(url).scheme
        if scheme not in ("http", "https", *_NATS_SCHEMES):
            raise click.BadParameter(f"{url!r} is neither http(s):// nor nats://", param_hint="--url")
        guessed = "nats" if scheme in _NATS_SCHEMES else "http"
        if transport and transport != guessed:
            raise click.BadParameter(f"--transport {transport} does not fit the URL {url}", param_hint="--url")
        return Target(guessed, url)
    asu = op.nats.account_server_url
    if transport != "nats" and asu:
        if urlparse(asu).scheme in _NATS_SCHEMES:
            return Target("nats", asu)
        return Target("http", asu)
    if transport != "http":
        for service in op.nats.operator_service_urls:
            if urlparse(service).scheme in _NATS_SCHEMES:
                return Target("nats", service)
    if transport == "nats":
        fail(f"operator {op.name!r} has no NATS service URL",
             "pass --url nats://HOST:4222, or add one with `accountd edit operator --service-url nats://HOST:4222`",
             code="usage")
    fail(f"operator {op.name!r} has no account_server_url",
         "pass --url http://HOST:9090/jwt/v1, or set it with `accountd edit operator --account-server-url URL`",
         code="usage")


def select_accounts(opdir: OperatorDir, account: str | None, all_accounts: bool) -> list[str]:
    if bool(account) == all_accounts:
        raise click.UsageError("give exactly one of --account NAME or --all")
    if all_accounts:
        return opdir.accounts()
    assert account is not None
    if not opdir.has_account(account):
        fail(f"account {account!r} does not exist in operator {opdir.name!r}",
             "known accounts: " + (", ".join(opdir.accounts()) or "none"), code="not_found")
    return [account]


def _system_signer(h: Home, opdir: OperatorDir, op: OperatorClaims) -> KeyPair | None:
    sys_key = op.nats.system_account
    name = opdir.account_by_key(sys_key) if sys_key else None
    if name is None:
        return None
    account = opdir.account(name).claims
    allowed = account_user_signers(account, Trust((op,)))
    for key in [account.sub, *account.nats.signing_key_ids()]:
        if key in allowed and account.nats.scoped_key(key) is None:
            kp = h.keystore.load(key, Role.ACCOUNT)
            if kp is not None:
                return kp
    return None


def nats_credentials(h: Home, opdir: OperatorDir, op: OperatorClaims, creds: Path | None) -> tuple[str, bool]:
    """(creds text or path, is_path): ``--creds``, else a temporary system user, else a stored SYS user."""
    if creds is not None:
        return str(creds.absolute()), True
    signer = _system_signer(h, opdir, op)
    if signer is not None:
        return temporary_user(signer, op.nats.system_account), False
    sys_name = opdir.account_by_key(op.nats.system_account) if op.nats.system_account else None
    if sys_name:
        for user in opdir.users(sys_name):
            path = h.keystore.creds_path(opdir.name, sys_name, user)
            if path.is_file():
                return str(path), True
    fail(f"no credentials for the system account of operator {opdir.name!r}",
         "pass --creds FILE (a system-account user), or use the home that holds the system account's key",
         code="not_found")


def delete_request(h: Home, op: OperatorClaims, accounts: list[str]) -> str:
    """nsc's delete request: a generic JWT, ``sub == iss`` = an operator key, ``nats.accounts`` (SPEC §3.10)."""
    kp = account_issuer(h, op)
    claims = GenericClaims(sub=kp.public_key, nats={"accounts": sorted(accounts)})
    return str(encode(claims, kp))
