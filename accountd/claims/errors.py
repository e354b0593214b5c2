"""Errors and issues of the claims layer.

::

    ClaimsError (ValueError)        code + message
    ├── InvalidKey                  a malformed nkey (accountd.claims.keys)
    └── DecodeError                 a token that cannot be decoded or is not what it must be

:class:`Issue` is not an exception: validation returns every problem as a list of issues.
Codes are stable (SPEC §4.7); messages are plain sentences.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["ClaimsError", "DecodeError", "Issue"]


class ClaimsError(ValueError):
    """Base of the claims errors: a stable ``code`` and a human ``message``."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.code!r}, {self.message!r})"


class DecodeError(ClaimsError):
    """The token is not a valid NATS JWT of the expected kind."""


@dataclass(frozen=True, slots=True)
class Issue:
    """One validation problem.

    ``blocking`` issues make a JWT unacceptable. ``time_check`` marks expiry/not-before issues,
    which nats-server treats as blocking only in some places (SPEC §4.4).
    """

    code: str
    message: str
    blocking: bool = True
    time_check: bool = False

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"
