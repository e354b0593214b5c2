"""The SQLite store: the contract, persistence, and a store that cannot be opened."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
from contract import A, B, PersistentContract, Reopen, StoreContract, jwt, key
from contract_history import HistoryContract, Make, PersistentHistoryContract, SearchContract
from storm import check_history, storm

from accountd.store import SQLiteStore, Store, StoreError, open_store
from accountd.types import AccountKey

OpenStore = Callable[..., Awaitable[SQLiteStore]]


@pytest.fixture
async def opener(tmp_path: Path) -> AsyncIterator[OpenStore]:
    opened: list[SQLiteStore] = []

    async def open_one(**options: int) -> SQLiteStore:
        store = SQLiteStore(tmp_path / "data" / "accounts.db", **options)
        await store.open()
        opened.append(store)
        return store

    yield open_one
    for store in opened:
        await store.close()


class TestSQLiteStore(StoreContract, PersistentContract, HistoryContract, PersistentHistoryContract, SearchContract):
    @pytest.fixture
    async def store(self, opener: OpenStore) -> Store:
        return await opener()

    @pytest.fixture
    def make(self, opener: OpenStore) -> Make:
        return lambda history: opener(history=history)

    @pytest.fixture
    def reopen(self, opener: OpenStore) -> Reopen:
        async def reopen(store: Store) -> Store:
            await store.close()
            return await opener()

        return reopen


def test_sqlite_scheme_opens_an_sqlite_store(tmp_path: Path) -> None:
    store = open_store(f"sqlite:{tmp_path}/a.db")
    assert isinstance(store, SQLiteStore) and store.path == tmp_path / "a.db"


async def test_the_database_and_its_directory_are_private(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "new" / "accounts.db")
    await store.open()
    await store.put(A, jwt(1))
    await store.close()
    assert (tmp_path / "new").stat().st_mode & 0o777 == 0o700
    assert (tmp_path / "new" / "accounts.db").stat().st_mode & 0o077 == 0


async def test_counts_survive_a_reopen(opener: OpenStore) -> None:
    store = await opener()
    for n in range(5):
        await store.put(key(n), jwt(n))
    await store.delete(key(0), jwt("token"))
    await store.close()
    store = await opener()
    assert await store.count() == 4
    assert store.stats()["tombstones"] == 1


async def test_a_second_store_cannot_open_the_same_file(opener: OpenStore, tmp_path: Path) -> None:
    await opener()
    with pytest.raises(StoreError, match="in use"):
        await SQLiteStore(tmp_path / "data" / "accounts.db").open()


async def test_a_file_that_is_not_a_database_is_a_clear_store_error(tmp_path: Path) -> None:
    path = tmp_path / "accounts.db"
    path.write_bytes(b"this is not a database\n" * 100)
    with pytest.raises(StoreError, match="not a database"):
        await SQLiteStore(path).open()


async def test_marks_are_committed_without_a_write_of_their_own(opener: OpenStore) -> None:
    store = await opener()
    record = await store.put(A, jwt(1))
    await store.put(B, jwt(2))
    await store.mark_published(A, record.revision)
    await store.flush()
    await store.close()
    store = await opener()
    assert [r.account for r in await store.pending()] == [B]


async def test_paging_over_50000_accounts_returns_each_key_once_sorted(opener: OpenStore) -> None:
    store = await opener()
    accounts = [key(n) for n in range(50_000)]
    for start in range(0, len(accounts), 5000):
        await asyncio.gather(*(store.put(a, jwt(a)) for a in accounts[start : start + 5000]))
    await asyncio.gather(*(store.delete(a, jwt("gone")) for a in accounts[:100]))
    seen: list[str] = []
    after = None
    while page := await store.list(after=after, limit=997):
        seen += page
        after = page[-1]
    assert seen == sorted(accounts[100:])
    assert await store.count() == len(seen)


async def test_sigkill_during_a_write_storm_loses_no_acknowledged_write(tmp_path: Path) -> None:
    db = tmp_path / "accounts.db"
    acks = storm(f"sqlite:{db}", lines=2000)
    store = SQLiteStore(db)
    await store.open()
    try:
        live = {account: value for kind, account, value in acks if kind == "put"}
        tombstones = {account: token for kind, account, token in acks if kind == "del"}
        for account, value in live.items():
            record = await store.lookup(AccountKey(account))
            assert record is not None, account
            if account in tombstones:
                assert record.deleted and record.jwt == tombstones[account]
            elif record.deleted:  # a delete that was committed but not acknowledged before the kill
                assert record.jwt == f"tok.{account}"
            else:  # never torn: the whole value of its own account
                assert record.jwt == value
        hot = [int(n) for kind, _, n in acks if kind == "hot"]
        stored = (await store.get(key("hot"))).jwt
        assert int(stored.rsplit(".", 1)[1]) >= max(hot)
        assert await store.count() == len(await store.list())
        await check_history(store, acks)
    finally:
        await store.close()
