"""What an instance keeps in memory of the bucket: each account's revision and whether it is a tombstone.

No JWTs and no meta: reads fetch the record itself from the stream (:meth:`Bucket.last
<accountd.store.kv.bucket.Bucket.last>`). One ``dict`` entry per account (the key, and ``revision × 2 +
1 if a tombstone`` as one int) and the sorted live keys, which share the key strings: about 200 bytes
per account on CPython 3.11 (``python -m bench.kv --accounts 100000`` prints the measured figure).

The sorted list is brought up to date lazily, on the next :meth:`Revisions.page`: the initial load
(tens of thousands of new keys in stream order) becomes one sort instead of one insertion each.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right, insort

from accountd.store._index import check_account
from accountd.types import AccountKey

__all__ = ["Revisions"]

_FEW = 64
"""Up to this many keys added (removed) since the last page are inserted (deleted) one by one."""


class Revisions:
    """account → (revision, tombstone?), the sorted live accounts, and the highest revision seen."""

    def __init__(self) -> None:
        self._entries: dict[AccountKey, int] = {}
        self._live: list[AccountKey] = []
        self._added: set[AccountKey] = set()
        """Live now, not in ``_live`` yet."""
        self._removed: set[AccountKey] = set()
        """Still in ``_live``, not live any more."""
        self.live = 0
        self.top = 0

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, account: AccountKey) -> tuple[int, bool] | None:
        """``(revision, deleted)``, or ``None`` for an account never seen."""
        packed = self._entries.get(account)
        return None if packed is None else (packed >> 1, bool(packed & 1))

    def revision(self, account: AccountKey) -> int:
        """The revision seen last (0: none)."""
        return self._entries.get(account, 0) >> 1

    def apply(self, account: AccountKey, revision: int, deleted: bool) -> bool:
        """Record ``revision`` if it is newer than the one known; True if it was."""
        old = self._entries.get(account)
        if old is not None and old >> 1 >= revision:
            return False
        self._entries[account] = revision << 1 | int(deleted)
        self.top = max(self.top, revision)
        was_live = old is not None and not old & 1
        if deleted and was_live:
            self._unlist(account)
        elif not deleted and not was_live:
            self._list(account)
        return True

    def drop(self, account: AccountKey) -> None:
        """Forget ``account`` (its messages are gone from the stream)."""
        old = self._entries.pop(account, None)
        if old is not None and not old & 1:
            self._unlist(account)

    def page(self, after: AccountKey | None, limit: int | None) -> list[AccountKey]:
        """Live accounts, sorted, strictly after ``after``, at most ``limit``."""
        if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 0):
            raise ValueError(f"limit must be None or >= 0, got {limit!r}")
        self._settle()
        start = bisect_right(self._live, check_account(after)) if after is not None else 0
        end = len(self._live) if limit is None else start + limit
        return self._live[start:end]

    def prefixed(self, prefix: str, after: AccountKey | None, limit: int) -> list[AccountKey]:
        """Live accounts starting with ``prefix``, sorted, strictly after ``after``, at most ``limit``."""
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 0:
            raise ValueError(f"limit must be >= 0, got {limit!r}")
        self._settle()
        start = bisect_left(self._live, prefix)
        if after is not None:
            start = max(start, bisect_right(self._live, check_account(after)))
        out = []
        for account in self._live[start : start + limit]:
            if not account.startswith(prefix):
                break
            out.append(account)
        return out

    def counts(self) -> dict[str, int | str]:
        return {"records": self.live, "tombstones": len(self._entries) - self.live, "revision": self.top}

    def _list(self, account: AccountKey) -> None:
        self.live += 1
        if account in self._removed:
            self._removed.discard(account)
        else:
            self._added.add(account)

    def _unlist(self, account: AccountKey) -> None:
        self.live -= 1
        if account in self._added:
            self._added.discard(account)
        else:
            self._removed.add(account)

    def _settle(self) -> None:
        if self._removed:
            if len(self._removed) <= _FEW:
                for account in self._removed:
                    del self._live[bisect_left(self._live, account)]
            else:
                self._live = [a for a in self._live if a not in self._removed]
            self._removed.clear()
        if self._added:
            if len(self._added) <= _FEW:
                for account in self._added:
                    insort(self._live, account)
            else:
                self._live.extend(self._added)
                self._live.sort()
            self._added.clear()
