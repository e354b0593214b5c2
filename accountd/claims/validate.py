"""Decide about JWTs as nats-server does (SPEC §4), returning every problem as an :class:`Issue`.

* :class:`Trust` — the trusted operators: their identity keys (unless
  ``strict_signing_key_usage``) and signing keys.
* :func:`validate_account` — issuer trust, strict mode, subject, time checks, structure.
* :func:`validate_user` — the user against its account: signer, ``issuer_account``, scoped keys,
  revocations, time checks, structure.
* :func:`check_account_token` — decode + validate in one step; decode failures become issues.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import Final

from accountd.claims.codec import decode_account, decode_operator
from accountd.claims.errors import DecodeError, Issue
from accountd.claims.keys import Role, is_account_key, is_operator_key, public_role
from accountd.claims.models import (
    AccountClaims,
    Claims,
    OperatorClaims,
    UserClaims,
)
from accountd.claims.structure import structure_issues
from accountd.types import OperatorKey

__all__ = [
    "Trust",
    "Validation",
    "account_user_signers",
    "check_account_token",
    "check_times",
    "extract_jwt",
    "is_revoked",
    "structure_issues",
    "validate_account",
    "validate_operator",
    "validate_user",
]

_JWT_IN_TEXT: Final = re.compile(r"eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")


def extract_jwt(text: str | bytes) -> str:
    """The JWT inside ``text``: bare, surrounded by whitespace, or in an armored block."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", errors="replace")
    match = _JWT_IN_TEXT.search(text)
    if not match:
        raise DecodeError("bad_encoding", "no JWT found")
    return match.group(0)


@dataclass(frozen=True, slots=True)
class Validation:
    """The outcome of a validation: every issue found, blocking or not."""

    issues: tuple[Issue, ...] = ()

    @property
    def ok(self) -> bool:
        return not any(i.blocking for i in self.issues)

    @property
    def blocking(self) -> tuple[Issue, ...]:
        return tuple(i for i in self.issues if i.blocking)

    def codes(self) -> list[str]:
        return [i.code for i in self.issues]

    def __bool__(self) -> bool:
        return self.ok


@dataclass(frozen=True)
class Trust:
    """The trusted operators, as nats-server derives them from its ``operator`` setting."""

    operators: tuple[OperatorClaims, ...]

    @classmethod
    def from_jwts(cls, *tokens: str) -> Trust:
        return cls(tuple(decode_operator(extract_jwt(t)) for t in tokens))

    @property
    def operator(self) -> OperatorClaims:
        return self.operators[0]

    @property
    def system_account(self) -> str:
        return self.operators[0].nats.system_account if self.operators else ""

    def account_signers(self) -> frozenset[str]:
        """Keys that may issue account JWTs: identity keys (unless strict) and signing keys."""
        keys: set[str] = set()
        for op in self.operators:
            if not op.nats.strict_signing_key_usage:
                keys.add(op.sub)
            keys.update(op.nats.signing_keys)
        return frozenset(keys)

    def operator_of(self, key: str) -> OperatorClaims | None:
        for op in self.operators:
            if key == op.sub or key in op.nats.signing_keys:
                return op
        return None

    def is_operator_key(self, key: str, *, identity_ok: bool = True) -> bool:
        """True if ``key`` is a trusted operator key (identity only if allowed and not strict)."""
        op = self.operator_of(key)
        if op is None:
            return False
        if key == op.sub:
            return identity_ok and not op.nats.strict_signing_key_usage
        return True

    def identity_keys(self) -> list[OperatorKey]:
        return [OperatorKey(op.sub) for op in self.operators]


def check_times(claims: Claims, *, now: float | None = None, skew: int = 0, blocking: bool = True) -> list[Issue]:
    """``exp``/``nbf``: expired when ``now > exp``, not yet valid when ``nbf > now`` (± skew)."""
    t = time.time() if now is None else now
    issues = []
    if claims.exp > 0 and t - skew > claims.exp:
        issues.append(Issue("expired", f"claim is expired (exp {claims.exp})", blocking, True))
    if claims.nbf > 0 and claims.nbf > t + skew:
        issues.append(Issue("not_yet_valid", f"claim is not yet valid (nbf {claims.nbf})", blocking, True))
    return issues


def validate_operator(claims: OperatorClaims) -> Validation:
    issues = []
    if not is_operator_key(claims.sub):
        issues.append(Issue("invalid_key", "operator subject must be an operator key"))
    return Validation(tuple(issues + structure_issues(claims)))


def validate_account(
    claims: AccountClaims,
    trust: Trust,
    *,
    subject: str | None = None,
    now: float | None = None,
    skew: int = 0,
    time_blocking: bool = True,
) -> Validation:
    """Would nats-server accept this account JWT (``verifyAccountClaims``, SPEC §4.2)?"""
    issues: list[Issue] = []
    if not is_account_key(claims.sub):
        issues.append(Issue("invalid_key", f"account subject {claims.sub!r} is not an account key"))
    if subject is not None and claims.sub != subject:
        issues.append(Issue("subject_mismatch", f"JWT subject {claims.sub} does not match {subject}"))
    op = trust.operator_of(claims.iss)
    if op is None:
        if public_role(claims.iss) is Role.OPERATOR:
            issues.append(Issue(
                "unknown_signing_key",
                f"issuer {claims.iss} is neither a trusted operator nor one of its signing keys",
            ))
        elif claims.iss == claims.sub:
            message = "account is self-signed; nats-server trusts operator-signed accounts only"
            issues.append(Issue("untrusted_issuer", message))
        else:
            issues.append(Issue("untrusted_issuer", f"issuer {claims.iss} is not trusted"))
    elif claims.iss == op.sub and op.nats.strict_signing_key_usage:
        issues.append(Issue(
            "strict_signing_key",
            "operator requires issuer to be a signing key (strict_signing_key_usage)",
        ))
    issues += check_times(claims, now=now, skew=skew, blocking=time_blocking)
    issues += structure_issues(claims)
    return Validation(tuple(issues))


def check_account_token(
    token: str | bytes,
    trust: Trust,
    *,
    subject: str | None = None,
    now: float | None = None,
    skew: int = 0,
) -> tuple[AccountClaims | None, Validation]:
    """Decode and validate an account JWT; decode failures are returned as issues."""
    try:
        claims = decode_account(token)
    except DecodeError as exc:
        return None, Validation((Issue(exc.code, exc.message),))
    return claims, validate_account(claims, trust, subject=subject, now=now, skew=skew)


def account_user_signers(account: AccountClaims, trust: Trust | None = None) -> set[str]:
    """Keys that may sign users of ``account`` (SPEC §4.3).

    Its signing keys, plus its own key — unless the account was issued by a signing key of a
    strict operator, in which case users must be signed by account signing keys.
    """
    keys = set(account.nats.signing_key_ids())
    op = trust.operator_of(account.iss) if trust else None
    strict_issued = op is not None and op.nats.strict_signing_key_usage and account.iss != op.sub
    if not strict_issued:
        keys.add(account.sub)
    return keys


def is_revoked(account: AccountClaims, user: str, iat: int) -> bool:
    """``revocations[user] >= iat`` or ``revocations["*"] >= iat`` (note ``>=``)."""
    revs = account.nats.revocations
    return any(k in revs and revs[k] >= iat for k in (user, "*"))


def validate_user(
    claims: UserClaims,
    account: AccountClaims,
    trust: Trust | None = None,
    *,
    now: float | None = None,
    skew: int = 0,
) -> Validation:
    """Would nats-server let this user authenticate against ``account`` (SPEC §4.3, minus nonce)?"""
    issues = check_times(claims, now=now, skew=skew)
    if public_role(claims.sub) is not Role.USER:
        issues.append(Issue("invalid_key", f"user subject {claims.sub!r} is not a user key"))
    # The server finds the user's account by issuer_account, else by iss (SPEC §4.3).
    owner = claims.nats.issuer_account or claims.iss
    if owner != account.sub:
        if not claims.nats.issuer_account and claims.iss in account.nats.signing_key_ids():
            issues.append(Issue(
                "missing_issuer_account",
                "user is signed by a signing key but has no issuer_account",
            ))
        else:
            issues.append(Issue("subject_mismatch", f"user belongs to account {owner}, not {account.sub}"))
    elif claims.iss != account.sub:
        if claims.iss not in account.nats.signing_key_ids():
            issues.append(Issue(
                "unknown_signing_key",
                f"user issuer {claims.iss} is not a signing key of account {account.sub}",
            ))
        elif account.nats.scoped_key(claims.iss) is not None and claims.nats.has_permissions_or_limits():
            issues.append(Issue(
                "scoped_user_has_permissions",
                "user signed by a scoped signing key must not carry permissions or limits",
            ))
    elif claims.iss not in account_user_signers(account, trust):
        issues.append(Issue(
            "strict_signing_key",
            "account was issued under strict signing key usage; users must be signed by an account signing key",
        ))
    if trust is not None:
        issues += [i for i in validate_account(account, trust, now=now, skew=skew).issues if i.blocking]
    if is_revoked(account, claims.sub, claims.iat):
        issues.append(Issue("revoked", f"user {claims.sub} has been revoked"))
    issues += structure_issues(claims)
    return Validation(tuple(issues))
