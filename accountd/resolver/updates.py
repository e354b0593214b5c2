"""Judge a claim update the way nats-server does (SPEC §5.3), plus rollback protection.

In order: an empty body is refused; an account the resolver does not hold is skipped (nats-server:
"jwt update skipped"); a byte-identical JWT is a no-op; the JWT must decode (signature included)
and its ``sub`` must equal the account in the subject; then nats-server's account validation —
trusted operator or operator signing key, strict signing-key usage, not expired, not before
``nbf``, structure — and finally what nats-server does not check: an equal ``jti`` is a no-op and
an older ``iat`` than the held JWT is refused as stale (equal ``iat`` replaces, as the full
resolver's save-if-newer does).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

from accountd.claims import AccountClaims, DecodeError, Trust, decode_account, validate_account
from accountd.resolver.cache import Entry

__all__ = ["REJECT_REASONS", "SKIP_REASONS", "Verdict", "judge_update"]

REJECT_REASONS: Final = (
    "empty",
    "malformed",
    "bad_signature",
    "subject_mismatch",
    "untrusted_issuer",
    "unknown_signing_key",
    "strict_signing_key",
    "expired",
    "not_yet_valid",
    "invalid",
    "stale",
)
SKIP_REASONS: Final = ("not_held", "unchanged")
_AS_IS: Final = frozenset(REJECT_REASONS)


@dataclass(frozen=True, slots=True)
class Verdict:
    action: Literal["apply", "reject", "skip"]
    reason: str = ""
    """One of :data:`REJECT_REASONS` or :data:`SKIP_REASONS`; empty when applied."""
    claims: AccountClaims | None = None
    detail: str = ""


_NOT_HELD: Final = Verdict("skip", "not_held")
_UNCHANGED: Final = Verdict("skip", "unchanged")


def judge_update(
    token: str, account: str, held: Entry | None, trust: Trust, *, now: float, skew: int = 0
) -> Verdict:
    """What to do with ``token`` received for ``account`` (the subject's account token)."""
    if not token:
        return Verdict("reject", "empty", detail="request body is empty")
    if held is None:
        return _NOT_HELD
    if token == held.jwt:
        return _UNCHANGED
    try:
        claims = decode_account(token)
    except DecodeError as exc:
        reason = "bad_signature" if exc.code == "bad_signature" else "malformed"
        return Verdict("reject", reason, detail=exc.message)
    if claims.sub != account:
        return Verdict("reject", "subject_mismatch", claims, f"subject does not match jwt content ({claims.sub})")
    result = validate_account(claims, trust, subject=account, now=now, skew=skew)
    if not result.ok:
        issue = result.blocking[0]
        return Verdict("reject", issue.code if issue.code in _AS_IS else "invalid", claims, issue.message)
    if claims.jti == held.claims.jti:
        return _UNCHANGED
    if claims.iat < held.claims.iat:
        return Verdict("reject", "stale", claims, f"iat {claims.iat} is older than the held iat {held.claims.iat}")
    return Verdict("apply", "", claims)
