"""A small NATS trust world made with accountd's own claims code, for tests.

An operator (with a signing key), a system account with a user, and helpers to issue accounts
and users. Everything is fresh per instance; nothing is shared between tests.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from accountd.claims import (
    AccountClaims,
    GenericClaims,
    KeyPair,
    Role,
    create,
    encode,
    format_creds,
    new_account,
    new_operator,
    new_user,
)


@dataclass
class Account:
    name: str
    key: KeyPair
    claims: AccountClaims
    jwt: str

    @property
    def pub(self) -> str:
        return self.key.public_key


@dataclass
class World:
    strict: bool = False
    account_server_url: str = ""
    operator: KeyPair = field(default_factory=lambda: create(Role.OPERATOR))
    signing_key: KeyPair = field(default_factory=lambda: create(Role.OPERATOR))
    sys_key: KeyPair = field(default_factory=lambda: create(Role.ACCOUNT))

    def __post_init__(self) -> None:
        op = new_operator(self.operator.public_key, "OP")
        op.nats.signing_keys = [self.signing_key.public_key]
        op.nats.system_account = self.sys_key.public_key
        op.nats.strict_signing_key_usage = self.strict
        op.nats.account_server_url = self.account_server_url
        self.operator_claims = op
        self.operator_jwt = encode(op, self.operator)
        self.sys = self.account("SYS", key=self.sys_key)

    def account(
        self, name: str, *, key: KeyPair | None = None, signer: KeyPair | None = None, iat: int | None = None,
        **limits: Any,
    ) -> Account:
        key = key or create(Role.ACCOUNT)
        claims = new_account(key.public_key, name)
        for k, v in limits.items():
            setattr(claims.nats.limits, k, v)
        signer = signer or (self.signing_key if self.strict else self.operator)
        jwt = encode(claims, signer, now=iat)
        return Account(name, key, claims, jwt)

    def reissue(self, account: Account, *, iat: int | None = None, signer: KeyPair | None = None,
                **limits: Any) -> Account:
        claims = AccountClaims.from_go(account.claims.to_go())
        for k, v in limits.items():
            setattr(claims.nats.limits, k, v)
        signer = signer or (self.signing_key if self.strict else self.operator)
        return Account(account.name, account.key, claims, encode(claims, signer, now=iat))

    def user_creds(self, account: Account, name: str = "u", path: Path | None = None) -> str:
        user = create(Role.USER)
        claims = new_user(user.public_key, name)
        text = format_creds(encode(claims, account.key), user.seed)
        if path is not None:
            path.write_text(text)
        return text

    def delete_token(self, *accounts: str, iat: int | None = None, signer: KeyPair | None = None) -> str:
        signer = signer or self.operator
        claims = GenericClaims(sub=signer.public_key, nats={"accounts": list(accounts)})
        return encode(claims, signer, now=iat if iat is not None else int(time.time()))

    def write(self, directory: Path) -> dict[str, Path]:
        """Operator JWT, sys creds and the signing-key seed as files."""
        directory.mkdir(parents=True, exist_ok=True)
        paths = {
            "operator": directory / "operator.jwt",
            "sys_creds": directory / "sys.creds",
            "signing_key": directory / "operator_sk.nk",
        }
        paths["operator"].write_text(self.operator_jwt)
        self.user_creds(self.sys, "sys", paths["sys_creds"])
        paths["signing_key"].write_text(self.signing_key.seed.reveal())
        return paths
