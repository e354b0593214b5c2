"""Constructors with Go's defaults (``NewOperatorClaims``, ``NewAccountClaims``, ``NewUserClaims``)."""

from __future__ import annotations

from accountd.claims.models import (
    Account,
    AccountClaims,
    Operator,
    OperatorClaims,
    User,
    UserClaims,
)

__all__ = ["new_account", "new_operator", "new_user"]


def new_operator(subject: str, name: str = "") -> OperatorClaims:
    return OperatorClaims(sub=subject, name=name, nats=Operator())


def new_account(subject: str, name: str = "") -> AccountClaims:
    """Unlimited NATS limits (-1), wildcards on, JetStream off, ``authorization: {}``."""
    return AccountClaims(sub=subject, name=name, nats=Account())


def new_user(subject: str, name: str = "", issuer_account: str = "") -> UserClaims:
    """subs/data/payload unlimited (-1); ``issuer_account`` when signed by an account signing key."""
    return UserClaims(sub=subject, name=name, nats=User(issuer_account=issuer_account))
