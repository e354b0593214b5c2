"""Create and re-sign operators, accounts and users in a home.

What ``accountd add``/``edit`` and ``accountd dev`` share. Every function stages its files in a
:class:`~accountd.nsc.atomic.Transaction`; nothing is written until the caller commits.

Signers follow nats-server's trust rules (SPEC §4.1, §4.3): accounts are signed by the operator's
identity key, or — when the operator sets ``strict_signing_key_usage`` — by one of its signing
keys; users by the account key or one of the account's signing keys (then ``issuer_account`` is
set, and a scoped key's users carry no permissions of their own).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from accountd.claims.codec import encode
from accountd.claims.creds import format_creds
from accountd.claims.keys import KeyPair, Role, create
from accountd.claims.models import AccountClaims, Claims, OperatorClaims, UserClaims
from accountd.claims.new import new_account, new_operator, new_user
from accountd.claims.validate import Trust, account_user_signers
from accountd.nsc.atomic import Transaction
from accountd.nsc.errors import AlreadyExists, NotFound
from accountd.nsc.home import Home
from accountd.nsc.store import OperatorDir, check_name

__all__ = [
    "Written",
    "account_issuer",
    "add_account",
    "add_operator",
    "add_user",
    "next_iat",
    "sign",
    "user_signer",
]


@dataclass(frozen=True)
class Written:
    """What a command created or changed."""

    kind: str
    name: str
    public_key: str
    jwt_path: Path
    key_path: Path | None = None
    creds_path: Path | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "name": self.name,
            "public_key": self.public_key,
            "jwt_path": str(self.jwt_path),
            "key_path": str(self.key_path) if self.key_path else None,
            "creds_path": str(self.creds_path) if self.creds_path else None,
        }


def next_iat(previous: int = 0) -> int:
    """Now, but always after ``previous``.

    The ``jti`` covers only the standard claims, so two signings within one second would get the
    same jti and an account server would take the second for the first. Bumping ``iat`` keeps
    every re-signed JWT distinct and newer than the one it replaces.
    """
    return max(int(time.time()), previous + 1)


def sign(claims: Claims, signer: KeyPair, previous_iat: int = 0) -> str:
    return str(encode(claims, signer, now=next_iat(previous_iat)))


def account_issuer(home: Home, op: OperatorClaims) -> KeyPair:
    """The key that signs this operator's accounts."""
    ks = home.keystore
    strict = op.nats.strict_signing_key_usage
    if not strict:
        kp = ks.load(op.sub, Role.OPERATOR)
        if kp is not None:
            return kp
    for key in op.nats.signing_keys:
        kp = ks.load(key, Role.OPERATOR)
        if kp is not None:
            return kp
    if strict:
        raise NotFound(
            f"operator {op.name!r} requires signing keys, and no operator signing key has its seed in {ks.keys_dir}",
            "add one with `accountd edit operator --sk generate`",
        )
    raise NotFound(
        f"the seed of operator {op.name!r} ({op.sub}) is not in {ks.keys_dir}",
        "accounts are signed by the operator: use the home that holds its key",
    )


def user_signer(home: Home, account: AccountClaims, op: OperatorClaims, wanted: str | None = None) -> KeyPair:
    """The key that signs a user of ``account``: ``wanted`` (a public key) or the best one available."""
    allowed = account_user_signers(account, Trust((op,)))
    if wanted:
        if wanted not in allowed and wanted != account.sub:
            keys = ", ".join(sorted(account.nats.signing_key_ids())) or "none"
            raise NotFound(
                f"{wanted} is not a signing key of account {account.name!r}",
                f"its signing keys: {keys}; add one with `accountd edit account --name {account.name} --sk generate`",
            )
        return home.keystore.require(wanted, f"signing key of account {account.name!r}")
    order = [account.sub] + [k for k in account.nats.signing_key_ids() if account.nats.scoped_key(k) is None]
    for key in order:
        if key in allowed:
            kp = home.keystore.load(key, Role.ACCOUNT)
            if kp is not None:
                return kp
    raise NotFound(
        f"no key that may sign users of account {account.name!r} has its seed in {home.keystore.keys_dir}",
        "pass --signing-key PUB for a scoped key, or use the home that holds the account key",
    )


def add_operator(
    home: Home,
    tx: Transaction,
    name: str,
    *,
    account_server_url: str = "",
    service_urls: tuple[str, ...] = (),
    system_account: bool = False,
    signing_key: bool = False,
    configure: Callable[[OperatorClaims], None] | None = None,
) -> list[Written]:
    """A new operator (and with ``system_account`` its ``SYS`` account and ``sys`` user)."""
    opdir = home.operator_dir(check_name(name, "operator"))
    if opdir.dir.exists() and any(opdir.dir.iterdir()):
        raise AlreadyExists(
            f"operator {opdir.name!r} already exists in {home.stores}",
            "pick another --name, or change it with `accountd edit operator`",
        )
    op_kp = create(Role.OPERATOR)
    claims = new_operator(op_kp.public_key, opdir.name)
    claims.nats.account_server_url = account_server_url
    claims.nats.operator_service_urls = list(service_urls)
    written: list[Written] = []
    if signing_key:
        sk = create(Role.OPERATOR)
        claims.nats.signing_keys.append(sk.public_key)
        home.keystore.stage_key(tx, sk)
    sys_kp = create(Role.ACCOUNT) if system_account else None
    if sys_kp is not None:
        claims.nats.system_account = sys_kp.public_key
    if configure is not None:
        configure(claims)
    token = sign(claims, op_kp)
    opdir.stage_info(tx)
    path = opdir.stage_operator(tx, token)
    key_path = home.keystore.stage_key(tx, op_kp)
    written.append(Written("operator", opdir.name, op_kp.public_key, path, key_path))
    if sys_kp is not None:
        issuer = op_kp
        if claims.nats.strict_signing_key_usage and claims.nats.signing_keys:
            issuer = home.keystore.require(claims.nats.signing_keys[0], "operator signing key")
        account = add_account(home, tx, opdir, "SYS", issuer, account_kp=sys_kp)
        written.append(account)
        account_claims = new_account(sys_kp.public_key, "SYS")
        written.append(add_user(home, tx, opdir, "SYS", account_claims, "sys", sys_kp))
    return written


def add_account(
    home: Home,
    tx: Transaction,
    opdir: OperatorDir,
    name: str,
    issuer: KeyPair,
    *,
    account_kp: KeyPair | None = None,
    configure: Callable[[AccountClaims], None] | None = None,
) -> Written:
    name = check_name(name, "account")
    path = opdir.account_path(name)
    if path.exists() or tx.staged(path) is not None:
        raise AlreadyExists(
            f"account {name!r} already exists in operator {opdir.name!r}",
            f"pick another --name, or change it with `accountd edit account --name {name}`",
        )
    kp = account_kp or create(Role.ACCOUNT)
    claims = new_account(kp.public_key, name)
    if configure is not None:
        configure(claims)
    token = sign(claims, issuer)
    opdir.stage_account(tx, name, token)
    key_path = home.keystore.stage_key(tx, kp)
    return Written("account", name, kp.public_key, path, key_path)


def add_user(
    home: Home,
    tx: Transaction,
    opdir: OperatorDir,
    account_name: str,
    account: AccountClaims,
    name: str,
    signer: KeyPair,
    *,
    configure: Callable[[UserClaims], None] | None = None,
) -> Written:
    name = check_name(name, "user")
    path = opdir.user_path(account_name, name)
    if path.exists() or tx.staged(path) is not None:
        raise AlreadyExists(
            f"user {name!r} already exists in account {account_name!r}",
            f"pick another --name, or change it with `accountd edit user --account {account_name} --name {name}`",
        )
    kp = create(Role.USER)
    on_behalf = signer.public_key != account.sub
    claims = new_user(kp.public_key, name, issuer_account=account.sub if on_behalf else "")
    scoped = account.nats.scoped_key(signer.public_key) is not None
    if scoped:
        claims.nats.clear_for_scope()
    if configure is not None:
        configure(claims)
    token = sign(claims, signer)
    opdir.stage_user(tx, account_name, name, token)
    key_path = home.keystore.stage_key(tx, kp)
    creds = home.keystore.stage_creds(tx, opdir.name, account_name, name, format_creds(token, kp.seed))
    return Written("user", name, kp.public_key, path, key_path, creds)
