"""Re-sign changed claims with the right key and stage the new JWT (and creds) for writing.

Used by ``edit``, ``revocations`` and ``dev``. Each function returns the new token; the caller
commits the transaction.
"""

from __future__ import annotations

from pathlib import Path

from accountd.claims.creds import format_creds
from accountd.claims.keys import Role
from accountd.claims.models import AccountClaims, OperatorClaims, UserClaims
from accountd.claims.validate import Trust, account_user_signers
from accountd.nsc.atomic import Transaction
from accountd.nsc.entities import account_issuer, sign, user_signer
from accountd.nsc.home import Home
from accountd.nsc.store import OperatorDir

__all__ = ["resign_account", "resign_operator", "resign_user"]


def resign_operator(home: Home, tx: Transaction, opdir: OperatorDir, claims: OperatorClaims) -> str:
    kp = home.keystore.require(claims.sub, f"operator {opdir.name!r}")
    token = sign(claims, kp, claims.iat)
    opdir.stage_operator(tx, token)
    return token


def resign_account(
    home: Home, tx: Transaction, opdir: OperatorDir, name: str, claims: AccountClaims, op: OperatorClaims
) -> str:
    token = sign(claims, account_issuer(home, op), claims.iat)
    opdir.stage_account(tx, name, token)
    return token


def resign_user(
    home: Home,
    tx: Transaction,
    opdir: OperatorDir,
    account_name: str,
    account: AccountClaims,
    op: OperatorClaims,
    user: str,
    claims: UserClaims,
) -> tuple[str, Path | None]:
    """Re-sign with the key that signed it before when still allowed; rewrite its creds if the seed is here."""
    previous = claims.iss
    allowed = account_user_signers(account, Trust((op,)))
    kp = home.keystore.load(previous, Role.ACCOUNT) if previous in allowed else None
    if kp is None:
        kp = user_signer(home, account, op)
    claims.nats.issuer_account = account.sub if kp.public_key != account.sub else ""
    token = sign(claims, kp, claims.iat)
    opdir.stage_user(tx, account_name, user, token)
    creds_path = None
    user_kp = home.keystore.load(claims.sub, Role.USER)
    if user_kp is not None:
        creds_path = home.keystore.stage_creds(tx, opdir.name, account_name, user, format_creds(token, user_kp.seed))
    return token, creds_path
