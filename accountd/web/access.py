"""Which HTTP requests are public and which are admin: the one table the edge middleware reads.

*Public* is what nats-servers and nsc need, unchanged from the original: the resolver probe,
``GET``/``HEAD`` of an account JWT (``check``, ``text``, ``decode``), the operator JWT, the help
text, the health checks (``/healthz`` and its JSON twin ``/-/healthz``, which say no more than
it), and ``POST``/``DELETE`` of an account, whose JWT signature is the authorisation.

*Admin* is everything that reveals more than one account or makes accountd act: the status
page, every other ``/-/`` route, ``/metrics``, ``?notify=true`` (publishes), ``?list=true`` and
``/jwt/v1/pack`` (both reveal every key) — and any path not listed here, so a route added later
is admin until someone decides otherwise.

*Sign-in* (``/-/signin``, ``/-/signout``) lives with the admin routes but needs no credentials:
it is where a browser trades a token for a session cookie.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import Enum
from typing import Final

from accountd.web.accounts import is_true

__all__ = ["ACCOUNT_PREFIX", "Access", "classify"]


class Access(Enum):
    PUBLIC = "public"
    ADMIN = "admin"
    SIGNIN = "signin"


ACCOUNT_PREFIX: Final = "/jwt/v1/accounts/"
_PUBLIC_PATHS: Final = frozenset({"/healthz", "/-/healthz", "/jwt/v1/help", "/jwt/v1/operator"})
_ACCOUNTS_ROOT: Final = frozenset({"/jwt/v1/accounts", ACCOUNT_PREFIX})
_SIGNIN_PATHS: Final = frozenset({"/-/signin", "/-/signout"})


def classify(method: str, path: str, query: Mapping[str, str]) -> Access:
    """The class of a request; for a CORS preflight pass the method it asks about."""
    if path in _PUBLIC_PATHS:
        return Access.PUBLIC
    if path in _ACCOUNTS_ROOT:
        return Access.ADMIN if is_true(query.get("list")) else Access.PUBLIC
    if path.startswith(ACCOUNT_PREFIX):  # one account (a key with a "/" in it is a 400 of its own)
        notify = method in ("GET", "HEAD") and is_true(query.get("notify"))
        return Access.ADMIN if notify else Access.PUBLIC
    if path in _SIGNIN_PATHS:
        return Access.SIGNIN
    return Access.ADMIN
