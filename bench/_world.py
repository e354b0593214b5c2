"""The operator, system account, creds and accounts a benchmark starts from (``bench.serve``,
``bench.kv``, ``bench.resolver``): written to ``root`` as ``operator.jwt`` and ``sys.creds``."""

from __future__ import annotations

import time
from pathlib import Path

from accountd.claims import (
    AccountClaims,
    KeyPair,
    Role,
    create,
    encode,
    format_creds,
    new_account,
    new_operator,
    new_user,
)

__all__ = ["BenchWorld"]


class BenchWorld:
    """``n`` accounts ``A0`` … signed by a fresh operator, each with ``conn`` as its connection
    limit when given, issued at ``iat`` (default: now)."""

    def __init__(self, root: Path, n: int, *, conn: int | None = None, iat: int | None = None) -> None:
        self.operator = create(Role.OPERATOR)
        self.sys = create(Role.ACCOUNT)
        op = new_operator(self.operator.public_key, "BENCH")
        op.nats.system_account = self.sys.public_key
        self.operator_jwt = encode(op, self.operator)
        (root / "operator.jwt").write_text(self.operator_jwt)
        self.sys_jwt = encode(new_account(self.sys.public_key, "SYS"), self.operator)
        user = create(Role.USER)
        self.creds = root / "sys.creds"
        self.creds.write_text(format_creds(encode(new_user(user.public_key, "sys"), self.sys), user.seed))
        self.base = iat
        self.accounts: list[tuple[KeyPair, AccountClaims, str]] = []
        for i in range(n):
            key = create(Role.ACCOUNT)
            claims = new_account(key.public_key, f"A{i}")
            if conn is not None:
                claims.nats.limits.conn = conn
            self.accounts.append((key, claims, encode(claims, self.operator, now=iat)))

    def versions(self, count: int, first_iat: int | None = None) -> list[tuple[str, str]]:
        """``count`` changed JWTs spread over the accounts (``subs`` = 1000 + their number): each
        ``iat`` one more than the last from ``first_iat``, or all one second from now (an equal
        ``iat`` is accepted)."""
        same = int(time.time()) + 1
        out: list[tuple[str, str]] = []
        for v in range(count):
            key, claims, _ = self.accounts[v % len(self.accounts)]
            copy = AccountClaims.from_go(claims.to_go())
            copy.nats.limits.subs = 1000 + v
            out.append((key.public_key, encode(copy, self.operator, now=same if first_iat is None else first_iat + v)))
        return out
