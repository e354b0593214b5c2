"""Managed mode: accountd signs account claims with an operator signing key, within a policy.

An account-signed JWT (self-signed, or by one of the account's own signing keys) is checked as if
the operator had signed it, held to the policy's limit ceilings (refused, or clamped), and then
re-signed by the service with the operator signing key.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from accountd.claims import AccountClaims, DecodeError, KeyPair, Trust, Validation, decode_account, validate_account
from accountd.errors import BadRequest, Forbidden, StaleJWT
from accountd.store import Record

__all__ = ["ManagedPolicy", "Signer"]


@dataclass(frozen=True)
class ManagedPolicy:
    """What managed mode (an operator signing key) may sign."""

    allow_new_accounts: bool = False
    ceilings: Mapping[str, int] = field(default_factory=dict)
    """Maximum value per ``limits`` key (e.g. ``{"conn": 100}``); -1 (unlimited) exceeds any ceiling."""
    clamp: bool = False
    """Clamp limits above a ceiling instead of refusing the JWT."""


class Signer:
    """Judges an account-signed JWT for re-signing; the service counts and raises what it says."""

    def __init__(self, key: KeyPair | None, policy: ManagedPolicy, trust: Trust) -> None:
        self.key = key
        self.policy = policy
        self.trust = trust

    def admit(
        self, claims: AccountClaims, current: Record | None, *, now: float, skew: int,
        raise_invalid: object,
    ) -> tuple[tuple[str, ...], dict[str, int | str]]:
        """The notes and meta of re-signing ``claims``; raises the service's errors when refused."""
        self_signed = claims.iss == claims.sub
        if self.key is None:
            if self_signed:
                raise BadRequest("Signing service not enabled", "untrusted_issuer")
            raise BadRequest("bad JWT Issuer in request", "untrusted_issuer")
        live = current is not None and not current.deleted
        if not self_signed:
            stored_keys: list[str] = []
            if live:
                assert current is not None
                try:
                    stored_keys = decode_account(current.jwt).nats.signing_key_ids()
                except DecodeError:
                    stored_keys = []
            if claims.iss not in stored_keys or claims.iss not in claims.nats.signing_key_ids():
                raise BadRequest("bad JWT issuer is not trusted", "untrusted_issuer")
        if not live and not self.policy.allow_new_accounts:
            raise Forbidden(
                "account not known: this server signs only accounts it already stores "
                "(start it with --allow-new-accounts to admit new ones)",
                "account_not_known",
            )
        if current is not None:
            last = int(current.meta.get("self_iat", 0))
            if claims.iat < last:
                raise StaleJWT(f"stale JWT: iat {claims.iat} is older than the last accepted iat {last}")
        assert callable(raise_invalid)
        raise_invalid(self.validate_self_signed(claims, now=now, skew=skew))
        notes = self.apply_ceilings(claims)
        return notes, {"self_iat": claims.iat}

    def validate_self_signed(self, claims: AccountClaims, *, now: float, skew: int) -> Validation:
        """The structural and time checks on what the account asked for, before signing it."""
        signed_by_op = AccountClaims.from_go(claims.to_go())
        assert self.key is not None
        signed_by_op.iss = self.key.public_key
        return validate_account(signed_by_op, self.trust, now=now, skew=skew)

    def apply_ceilings(self, claims: AccountClaims) -> tuple[str, ...]:
        over: list[str] = []
        notes: list[str] = []
        limits = claims.nats.limits
        for name, ceiling in sorted(self.policy.ceilings.items()):
            value = getattr(limits, name, None)
            if not isinstance(value, int) or isinstance(value, bool):
                continue
            if value == -1 or value > ceiling:
                if self.policy.clamp:
                    setattr(limits, name, ceiling)
                    notes.append(f"clamped: {name} {value} -> {ceiling}")
                else:
                    over.append(f"{name} {value} exceeds the ceiling {ceiling}")
        if over:
            raise Forbidden("limits above the allowed ceiling: " + "; ".join(over), "limit_exceeded")
        return tuple(notes)
