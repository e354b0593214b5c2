"""The SQLite store: the contract, persistence, and a store that cannot be opened."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
from contract import A, B, PersistentContract, Reopen, StoreContract, jwt, key

from accountd.store import SQLiteStore, Store, StoreError, open_store

OpenStore = Callable[[], Awaitable[SQLiteStore]]


@pytest.fixture
async def opener(tmp_path: Path) -> AsyncIterator[OpenStore]:
    opened: list[SQLiteStore] = []

    async def open_one() -> SQLiteStore:
        store = SQLiteStore(tmp_path / "data" / "accounts.db")
        await store.open()
        opened.append(store)
        return store

    yield open_one
    for store in opened:
        await store.close()


class TestSQLiteStore(StoreContract, PersistentContract):
    @pytest.fixture
    async def store(self, opener: OpenStore) -> Store:
        return await opener()

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


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads and writes files whatever their mode")
async def test_a_database_without_permission_is_a_clear_store_error(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "accounts.db")
    await store.open()
    await store.close()
    (tmp_path / "accounts.db").chmod(0)
    with pytest.raises(StoreError, match=r"permission|unable to open|readonly"):
        await SQLiteStore(tmp_path / "accounts.db").open()


async def test_marks_are_committed_without_a_write_of_their_own(opener: OpenStore) -> None:
    store = await opener()
    record = await store.put(A, jwt(1))
    await store.put(B, jwt(2))
    await store.mark_published(A, record.revision)
    await store.flush()
    await store.close()
    store = await opener()
    assert [r.account for r in await store.pending()] == [B]
