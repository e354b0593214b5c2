"""The memory store passes the store contract, history and search included."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from contract import A, StoreContract, jwt
from contract_history import HistoryContract, Make, SearchContract

from accountd.store import MemoryStore, Store, StoreError


class TestMemoryStore(StoreContract, HistoryContract, SearchContract):
    @pytest.fixture
    async def store(self) -> AsyncIterator[Store]:
        store = MemoryStore()
        await store.open()
        yield store
        await store.close()

    @pytest.fixture
    def make(self) -> Make:
        async def make(history: int) -> Store:
            store = MemoryStore(history=history)
            await store.open()
            return store

        return make


async def test_a_memory_store_that_is_not_open_raises_store_error() -> None:
    with pytest.raises(StoreError):
        await MemoryStore().put(A, jwt(1))


async def test_a_new_memory_store_is_empty() -> None:
    first, second = MemoryStore(), MemoryStore()
    await first.open()
    await second.open()
    await first.put(A, jwt(1))
    assert await second.count() == 0
