"""What every store shares about history and search; no I/O here.

:func:`clean_origin` checks the ``origin`` of a change, :func:`matches` is the one definition of
what a search matches, and :class:`Versions` keeps the last versions of each account in memory
(the memory store's history; others keep theirs durably).
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Mapping
from types import MappingProxyType

from accountd.store.base import Record, Version
from accountd.types import AccountKey

__all__ = ["EMPTY_ORIGIN", "MAX_ORIGIN", "Versions", "check_history", "clean_origin", "matches", "tags_of"]

EMPTY_ORIGIN: Mapping[str, str] = MappingProxyType({})
MAX_ORIGIN = 1024
"""Bytes an origin may take (keys and values together): it is a label, not a payload."""


def clean_origin(origin: Mapping[str, str] | None) -> Mapping[str, str]:
    """A read-only copy of ``origin``; ``ValueError`` unless it maps ``str`` to ``str`` and is small."""
    if not origin:
        return EMPTY_ORIGIN
    copy: dict[str, str] = {}
    for key, value in origin.items():
        if not isinstance(key, str) or not isinstance(value, str):
            raise ValueError(f"origin must map str to str, got {key!r}: {value!r}")
        copy[key] = value
    if sum(len(k) + len(v) for k, v in copy.items()) > MAX_ORIGIN:
        raise ValueError(f"origin is larger than {MAX_ORIGIN} bytes")
    return MappingProxyType(copy)


def check_history(history: int) -> int:
    if isinstance(history, bool) or not isinstance(history, int) or history < 0:
        raise ValueError(f"history must be a number of versions >= 0, got {history!r}")
    return history


def tags_of(meta: Mapping[str, int | str]) -> list[str]:
    tags = meta.get("tags")
    return [t for t in tags.split("\n") if t] if isinstance(tags, str) else []


def matches(text: str, account: AccountKey, meta: Mapping[str, int | str]) -> bool:
    """Whether a search for ``text`` finds ``account``: a key prefix, a part of its name, or a tag."""
    needle = text.strip().lower()
    if not needle:
        return True
    if account.lower().startswith(needle):
        return True
    name = meta.get("name")
    if isinstance(name, str) and needle in name.lower():
        return True
    return any(tag.lower() == needle for tag in tags_of(meta))


class Versions:
    """The last ``keep`` versions of each account, in memory."""

    def __init__(self, keep: int) -> None:
        self.keep = check_history(keep)
        self._by_account: dict[AccountKey, deque[Version]] = {}

    def add(self, record: Record, origin: Mapping[str, str], stored_at: float | None = None) -> None:
        if not self.keep:
            return
        kept = self._by_account.get(record.account)
        if kept is None:
            kept = self._by_account[record.account] = deque(maxlen=self.keep)
        kept.append(Version(record.account, record.revision, record.jwt, record.deleted,
                            time.time() if stored_at is None else stored_at, origin))

    def newest_first(self, account: AccountKey, limit: int | None = None) -> list[Version]:
        kept = self._by_account.get(account)
        if not kept:
            return []
        out = list(reversed(kept))
        return out if limit is None else out[: max(0, limit)]
