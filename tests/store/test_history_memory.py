"""History and search of the memory store (the reference the durable stores follow)."""

from __future__ import annotations

from accountd.store import MemoryStore
from accountd.types import JWT, AccountKey

A = AccountKey("A" + "B" * 55)
B = AccountKey("A" + "C" * 55)


async def test_versions_are_kept_newest_first_with_their_origin_and_a_bound() -> None:
    store = MemoryStore(history=2)
    await store.open()
    await store.put(A, JWT("j1"), origin={"via": "http", "client": "127.0.0.1"})
    await store.put(A, JWT("j2"), origin={"via": "nats", "subject": "$SYS.REQ.CLAIMS.UPDATE"})
    await store.delete(A, JWT("token"), origin={"via": "http"})
    versions = await store.history(A)
    assert [(v.jwt, v.deleted) for v in versions] == [("token", True), ("j2", False)]
    assert versions[1].origin == {"via": "nats", "subject": "$SYS.REQ.CLAIMS.UPDATE"}
    assert versions[0].revision > versions[1].revision and versions[0].stored_at >= versions[1].stored_at
    assert await store.history(A, limit=1) == versions[:1]
    assert await store.history(B) == []


async def test_history_off_keeps_nothing() -> None:
    store = MemoryStore(history=0)
    await store.open()
    await store.put(A, JWT("j1"))
    assert await store.history(A) == []


async def test_search_by_key_prefix_name_part_and_tag() -> None:
    store = MemoryStore()
    await store.open()
    await store.put(A, JWT("j"), meta={"name": "Tenant Blue", "tags": "tier:gold\nregion:eu"})
    await store.put(B, JWT("j"), meta={"name": "green"})
    assert await store.search("blue") == [A]
    assert await store.search("TIER:GOLD") == [A]
    assert await store.search("tier") == []  # tags match whole
    assert await store.search("ac") == [B]
    assert await store.search("") == [A, B]
    assert await store.search("", after=A) == [B]
    assert await store.search("", limit=1) == [A]
    await store.delete(B, JWT("t"))
    assert await store.search("green") == []
