"""A store that lives only in memory: the reference semantics, for tests and ``--store memory:``."""

from __future__ import annotations

import builtins
from collections.abc import Mapping

from accountd.store._history import Versions, clean_origin, matches
from accountd.store._index import Index, IndexedReads, check_account, clean_jwt, clean_meta
from accountd.store.base import DEFAULT_HISTORY, Record, StoreError, Version
from accountd.types import JWT, AccountKey

__all__ = ["MemoryStore"]


class MemoryStore(IndexedReads):
    """Every change is applied at once; nothing survives the process."""

    name = "memory"

    def __init__(self, *, history: int = DEFAULT_HISTORY) -> None:
        self._index = Index()
        self._versions = Versions(history)
        self.versions_kept = self._versions.keep
        self._open = False
        self._writes = 0

    async def open(self) -> None:
        self._open = True

    async def close(self) -> None:
        self._open = False

    async def check(self) -> None:
        self._ready()

    async def put(
        self,
        account: AccountKey,
        jwt: JWT,
        *,
        meta: Mapping[str, int | str] | None = None,
        expect: int | None = None,
        publish: bool = True,
        origin: Mapping[str, str] | None = None,
    ) -> Record:
        account, jwt, clean, source = check_account(account), clean_jwt(jwt), clean_meta(meta), clean_origin(origin)
        self._ready()
        record = self._index.next_put(self._index.records.get(account), account, jwt, clean, expect)
        return self._apply(record, source, pending=publish)

    async def delete(
        self,
        account: AccountKey,
        token: JWT,
        *,
        meta: Mapping[str, int | str] | None = None,
        expect: int | None = None,
        origin: Mapping[str, str] | None = None,
    ) -> Record:
        account, token, clean, source = check_account(account), clean_jwt(token), clean_meta(meta), clean_origin(origin)
        self._ready()
        record = self._index.next_delete(self._index.records.get(account), account, token, clean, expect)
        return self._apply(record, source)

    async def history(self, account: AccountKey, *, limit: int | None = None) -> builtins.list[Version]:
        account = check_account(account)
        self._ready()
        return self._versions.newest_first(account, limit)

    async def search(
        self, text: str, *, after: AccountKey | None = None, limit: int = 100
    ) -> builtins.list[AccountKey]:
        self._ready()
        out: builtins.list[AccountKey] = []
        if limit <= 0:
            return out
        for account in self._index.page(after, None):
            if matches(text, account, self._index.records[account].meta):
                out.append(account)
                if len(out) >= limit:
                    break
        return out

    async def mark_published(self, account: AccountKey, revision: int) -> None:
        self._ready()
        self._index.mark_published(check_account(account), revision)

    def stats(self) -> dict[str, int | str]:
        return {"name": self.name, **self._index.counts(), "writes": self._writes}

    def _apply(self, record: Record, origin: Mapping[str, str], *, pending: bool = True) -> Record:
        self._index.apply(record, pending=pending)
        self._versions.add(record, origin)
        self._writes += 1
        return record

    def _ready(self) -> None:
        if not self._open:
            raise StoreError("memory store is not open")
