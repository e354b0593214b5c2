"""Errors of the on-disk layer. Each carries a stable ``code``, a message and a hint.

::

    NscError (Exception)          code + message + hint (what to do)
    ├── NotFound                  an unknown operator, account, user or key; a missing home
    ├── AlreadyExists             a duplicate name
    ├── KeyConflict               a different seed is already stored for a public key
    ├── LayoutError               a file or directory that is not what the layout says
    └── LockTimeout               another command holds the home lock for too long

The CLI turns them into its error output in one place (``accountd.cli.common``).
"""

from __future__ import annotations

__all__ = ["AlreadyExists", "KeyConflict", "LayoutError", "LockTimeout", "NotFound", "NscError"]


class NscError(Exception):
    code = "failed"

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r})"


class NotFound(NscError):
    code = "not_found"


class AlreadyExists(NscError):
    code = "already_exists"


class KeyConflict(NscError):
    code = "key_conflict"


class LayoutError(NscError):
    code = "layout"


class LockTimeout(NscError):
    code = "locked"
