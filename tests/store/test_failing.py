"""The failing store refuses every data operation with StoreError."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest
from contract import A, jwt

from accountd.store import FailingStore, StoreError


@pytest.fixture
async def store() -> FailingStore:
    store = FailingStore()
    await store.open()
    return store


@pytest.mark.parametrize(
    "call",
    [
        lambda s: s.check(),
        lambda s: s.get(A),
        lambda s: s.lookup(A),
        lambda s: s.put(A, jwt(1)),
        lambda s: s.put(A, jwt(1), meta={"iat": 1}, expect=0),
        lambda s: s.delete(A, jwt("token")),
        lambda s: s.list(),
        lambda s: s.list(after=A, limit=10),
        lambda s: s.count(),
        lambda s: s.pending(),
        lambda s: s.mark_published(A, 1),
        lambda s: s.history(A),
        lambda s: s.search("x"),
    ],
    ids=[
        "check",
        "get",
        "lookup",
        "put",
        "put-cas",
        "delete",
        "list",
        "list-page",
        "count",
        "pending",
        "mark",
        "history",
        "search",
    ],
)
async def test_every_operation_raises_the_injected_store_error(
    store: FailingStore, call: Callable[[FailingStore], Awaitable[object]]
) -> None:
    with pytest.raises(StoreError, match="injected failure"):
        await call(store)


async def test_open_and_close_succeed_so_an_application_can_start() -> None:
    store = FailingStore()
    await store.open()
    await store.close()


async def test_fail_open_makes_open_fail_too() -> None:
    with pytest.raises(StoreError):
        await FailingStore(fail_open=True).open()


async def test_stats_answer_and_count_the_refusals(store: FailingStore) -> None:
    with pytest.raises(StoreError):
        await store.get(A)
    assert store.stats() == {"name": "failing", "failures": 1}


async def test_the_message_can_be_chosen() -> None:
    with pytest.raises(StoreError, match="disk on fire"):
        await FailingStore("disk on fire").count()
