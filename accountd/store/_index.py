"""The in-memory state every store keeps, and the argument checks they share; no I/O here.

:class:`Index` holds the current record of each account, the sorted live keys (for paging), the
pending set and the highest revision handed out. The memory store is an :class:`Index`; the
directory store keeps its durable state in one and stages uncommitted changes beside it.
"""

from __future__ import annotations

import builtins
from bisect import bisect_left, bisect_right, insort
from collections.abc import Mapping
from types import MappingProxyType

from accountd.claims.keys import looks_like_account_key
from accountd.store.base import Conflict, NotFound, Record
from accountd.types import JWT, AccountKey

__all__ = ["EMPTY_META", "Index", "IndexedReads", "check_account", "check_expect", "clean_jwt", "clean_meta"]

EMPTY_META: Mapping[str, int | str] = MappingProxyType({})


def check_account(account: str) -> AccountKey:
    """``account`` if it looks like an account public key, else ``ValueError`` (never a path)."""
    if not looks_like_account_key(account):
        raise ValueError(f"not an account public key: {account!r}")
    return AccountKey(account)


def clean_jwt(jwt: str) -> JWT:
    """``jwt`` without surrounding whitespace; ``ValueError`` if nothing is left."""
    if not isinstance(jwt, str):
        raise ValueError(f"a JWT must be a string, not {type(jwt).__name__}")
    stripped = jwt.strip()
    if not stripped:
        raise ValueError("empty JWT")
    return JWT(stripped)


def clean_meta(meta: Mapping[str, int | str] | None) -> Mapping[str, int | str]:
    """A read-only copy of ``meta``; ``ValueError`` unless it maps ``str`` to ``int`` or ``str``."""
    if not meta:
        return EMPTY_META
    copy: dict[str, int | str] = {}
    for key, value in meta.items():
        # bool is an int but would come back from JSON as a different type: refuse it.
        if not isinstance(key, str) or isinstance(value, bool) or not isinstance(value, int | str):
            raise ValueError(f"meta must map str to int or str, got {key!r}: {value!r}")
        copy[key] = value
    return MappingProxyType(copy)


def check_expect(account: AccountKey, current: Record | None, expect: int | None) -> None:
    """Raise :class:`Conflict` unless ``expect`` is ``None`` or the revision of ``current`` (0: none)."""
    if expect is None:
        return
    if isinstance(expect, bool) or not isinstance(expect, int) or expect < 0:
        raise ValueError(f"expect must be None or a revision >= 0, got {expect!r}")
    actual = current.revision if current is not None else 0
    if actual != expect:
        raise Conflict(account, expect, actual)


class Index:
    """Current records by account, sorted live keys, pending marks, and the revision counter."""

    def __init__(self) -> None:
        self.records: dict[AccountKey, Record] = {}
        self.live: list[AccountKey] = []
        self.pending: set[AccountKey] = set()
        self.revision = 0
        """The highest revision handed out so far."""

    def next_put(
        self,
        current: Record | None,
        account: AccountKey,
        jwt: JWT,
        meta: Mapping[str, int | str],
        expect: int | None,
    ) -> Record:
        """The record a put would create over ``current`` (checked arguments); takes a revision."""
        check_expect(account, current, expect)
        self.revision += 1
        return Record(account, jwt, self.revision, False, meta)

    def next_delete(
        self,
        current: Record | None,
        account: AccountKey,
        token: JWT,
        meta: Mapping[str, int | str],
        expect: int | None,
    ) -> Record:
        """The tombstone a delete would create over ``current``; :class:`NotFound` if not live."""
        if current is None or current.deleted:
            raise NotFound(account)
        check_expect(account, current, expect)
        self.revision += 1
        return Record(account, token, self.revision, True, meta)

    def apply(self, record: Record, *, pending: bool) -> None:
        """Make ``record`` current."""
        account = record.account
        old = self.records.get(account)
        self.records[account] = record
        self.revision = max(self.revision, record.revision)
        was_live = old is not None and not old.deleted
        if record.deleted and was_live:
            del self.live[bisect_left(self.live, account)]
        elif not record.deleted and not was_live:
            insort(self.live, account)
        if pending:
            self.pending.add(account)
        else:
            self.pending.discard(account)

    def get(self, account: AccountKey) -> Record:
        record = self.records.get(account)
        if record is None or record.deleted:
            raise NotFound(account)
        return record

    def page(self, after: AccountKey | None, limit: int | None) -> list[AccountKey]:
        if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 0):
            raise ValueError(f"limit must be None or >= 0, got {limit!r}")
        start = bisect_right(self.live, check_account(after)) if after is not None else 0
        end = len(self.live) if limit is None else start + limit
        return self.live[start:end]

    def pending_records(self, limit: int | None = None) -> list[Record]:
        keys = sorted(self.pending)
        return [self.records[account] for account in (keys if limit is None else keys[:limit])]

    def mark_published(self, account: AccountKey, revision: int) -> bool:
        """Clear the pending mark if ``revision`` is current; True if a mark was cleared."""
        record = self.records.get(account)
        if record is None or record.revision != revision or account not in self.pending:
            return False
        self.pending.discard(account)
        return True

    def counts(self) -> dict[str, int | str]:
        return {
            "records": len(self.live),
            "tombstones": len(self.records) - len(self.live),
            "pending": len(self.pending),
            "revision": self.revision,
        }


class IndexedReads:
    """The read half of a store whose committed state lives in an :class:`Index` (every store here).

    Reads never touch the disk or the network; ``_ready()`` raises ``StoreError`` when closed.
    """

    _index: Index

    def _ready(self) -> None:
        raise NotImplementedError

    async def get(self, account: AccountKey) -> Record:
        account = check_account(account)
        self._ready()
        return self._index.get(account)

    async def lookup(self, account: AccountKey) -> Record | None:
        account = check_account(account)
        self._ready()
        return self._index.records.get(account)

    async def list(self, *, after: AccountKey | None = None, limit: int | None = None) -> builtins.list[AccountKey]:
        self._ready()
        return self._index.page(after, limit)

    async def count(self) -> int:
        self._ready()
        return len(self._index.live)

    async def pending(self, *, limit: int | None = None) -> builtins.list[Record]:
        self._ready()
        return self._index.pending_records(limit)

