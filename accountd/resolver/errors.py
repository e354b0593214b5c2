"""Errors raised by :meth:`Resolver.get <accountd.resolver.Resolver.get>` and the fetchers.

::

    ResolverError                  code + message
    ├── AccountNotFound            the account server has no such account (HTTP 404, empty LOOKUP reply)
    ├── InvalidAccount             a JWT was found but nats-server would refuse it (``issues``)
    └── FetchFailed                no usable answer: timeouts, connection errors, 5xx after retries
"""

from __future__ import annotations

from accountd.claims import Issue

__all__ = ["AccountNotFound", "FetchFailed", "InvalidAccount", "ResolverError"]


class ResolverError(Exception):
    """Base class: a stable ``code`` and a human ``message``."""

    default_code = "resolver_error"

    def __init__(self, message: str, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code or self.default_code

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.code!r}, {self.message!r})"


class AccountNotFound(ResolverError):
    default_code = "not_found"


class InvalidAccount(ResolverError):
    """The fetched JWT does not validate; ``issues`` are the blocking ones, ``code`` the first's."""

    default_code = "invalid"

    def __init__(self, account: str, issues: tuple[Issue, ...]) -> None:
        first = issues[0] if issues else Issue("invalid", "invalid account JWT")
        super().__init__(f"account {account}: {first.message}", first.code)
        self.account = account
        self.issues = issues


class FetchFailed(ResolverError):
    default_code = "fetch_failed"
