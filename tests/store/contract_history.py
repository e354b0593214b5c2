"""History and search, as test classes every store's tests inherit (beside :mod:`contract`).

A test module subclasses :class:`HistoryContract` (and :class:`SearchContract` where the store
searches names and tags) and provides a ``make`` fixture: an async callable that returns an opened,
empty store keeping ``history`` versions per account, closed at the end of the test.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

import pytest
from contract import A, B, C, Reopen, jwt, key

from accountd.store import DEFAULT_HISTORY, Store
from accountd.types import AccountKey

Make = Callable[[int], Awaitable[Store]]


class HistoryContract:
    async def test_every_change_is_a_version_newest_first(self, make: Make) -> None:
        store = await make(DEFAULT_HISTORY)
        before = time.time()
        first = await store.put(A, jwt(1))
        second = await store.put(A, jwt(2))
        versions = await store.history(A)
        assert [(v.account, v.revision, v.jwt, v.deleted) for v in versions] == [
            (A, second.revision, jwt(2), False), (A, first.revision, jwt(1), False)]
        assert before - 1 <= versions[1].stored_at <= versions[0].stored_at <= time.time() + 1

    async def test_a_deletion_is_a_version_holding_the_token(self, make: Make) -> None:
        store = await make(DEFAULT_HISTORY)
        await store.put(A, jwt(1))
        tombstone = await store.delete(A, jwt("token"))
        revived = await store.put(A, jwt(2))
        versions = await store.history(A)
        assert [(v.revision, v.jwt, v.deleted) for v in versions[:2]] == [
            (revived.revision, jwt(2), False), (tombstone.revision, jwt("token"), True)]

    async def test_the_origin_round_trips_and_defaults_to_empty(self, make: Make) -> None:
        store = await make(DEFAULT_HISTORY)
        origin = {"via": "nats", "client": "ünïcode client", "subject": "$SYS.REQ.CLAIMS.UPDATE"}
        await store.put(A, jwt(1), origin=origin)
        await store.put(A, jwt(2))
        await store.delete(A, jwt("token"), origin={"via": "http", "client": "10.0.0.7"})
        assert [dict(v.origin) for v in await store.history(A)] == [
            {"via": "http", "client": "10.0.0.7"}, {}, origin]

    async def test_an_origin_that_is_not_str_to_str_is_refused(self, make: Make) -> None:
        store = await make(DEFAULT_HISTORY)
        with pytest.raises(ValueError):
            await store.put(A, jwt(1), origin={"via": 1})  # type: ignore[dict-item]
        assert await store.lookup(A) is None

    async def test_only_the_last_history_versions_are_kept(self, make: Make) -> None:
        store = await make(3)
        records = [await store.put(A, jwt(n)) for n in range(6)]
        await store.put(B, jwt("b"))
        assert [v.revision for v in await store.history(A)] == [r.revision for r in reversed(records[-3:])]
        assert len(await store.history(B)) == 1

    async def test_limit_takes_the_newest(self, make: Make) -> None:
        store = await make(DEFAULT_HISTORY)
        records = [await store.put(A, jwt(n)) for n in range(4)]
        assert [v.revision for v in await store.history(A, limit=2)] == [records[3].revision, records[2].revision]
        assert await store.history(A, limit=0) == []

    async def test_an_account_never_stored_has_no_history(self, make: Make) -> None:
        store = await make(DEFAULT_HISTORY)
        await store.put(A, jwt(1))
        assert await store.history(B) == []

    async def test_history_zero_keeps_nothing(self, make: Make) -> None:
        store = await make(0)
        await store.put(A, jwt(1))
        await store.delete(A, jwt("token"))
        assert await store.history(A) == []

    async def test_versions_of_concurrent_writes_are_all_kept_in_revision_order(self, make: Make) -> None:
        store = await make(DEFAULT_HISTORY)
        records = await asyncio.gather(*(store.put(A, jwt(n)) for n in range(20)))
        assert [v.revision for v in await store.history(A)] == sorted((r.revision for r in records), reverse=True)


class SearchContract:
    async def _three(self, make: Make) -> Store:
        store = await make(DEFAULT_HISTORY)
        await store.put(A, jwt("a"), meta={"name": "Tenant Blue", "tags": "tier:gold\nRegion:EU"})
        await store.put(B, jwt("b"), meta={"name": "green ünïcode"})
        await store.put(C, jwt("c"), meta={"tags": "region:eu"})
        return store

    async def test_a_part_of_the_name_matches_whatever_its_case(self, make: Make) -> None:
        store = await self._three(make)
        assert await store.search("blue") == [A]
        assert await store.search("ANT bl") == [A]
        assert await store.search("ÜNÏ") == [B]

    async def test_a_tag_matches_whole_whatever_its_case(self, make: Make) -> None:
        store = await self._three(make)
        assert await store.search("TIER:GOLD") == [A]
        assert await store.search("region:eu") == [A, C]
        assert await store.search("tier") == []

    async def test_a_key_prefix_matches_whatever_its_case(self, make: Make) -> None:
        store = await self._three(make)
        assert await store.search(B[:6].lower()) == [B]
        assert await store.search("A") == [A, B, C]

    async def test_empty_text_lists_every_live_account(self, make: Make) -> None:
        store = await self._three(make)
        assert await store.search("  ") == [A, B, C]

    async def test_after_and_limit_page_through_the_matches_by_key(self, make: Make) -> None:
        store = await make(DEFAULT_HISTORY)
        accounts = sorted(key(n) for n in range(30))
        for n, account in enumerate(accounts):
            await store.put(account, jwt(n), meta={"name": f"tenant {n}" if n % 3 else "other"})
        matching = [a for n, a in enumerate(accounts) if n % 3]
        pages: list[list[AccountKey]] = []
        after: AccountKey | None = None
        while page := await store.search("tenant", after=after, limit=7):
            pages.append(page)
            after = page[-1]
        assert [len(p) for p in pages] == [7, 7, 6]
        assert [a for p in pages for a in p] == matching
        assert await store.search("tenant", limit=0) == []

    async def test_pages_mixing_tag_and_name_matches_miss_none(self, make: Make) -> None:
        store = await make(DEFAULT_HISTORY)
        accounts = sorted(key(n) for n in range(40))
        for n, account in enumerate(accounts):
            meta = [{"tags": "gold"}, {"name": f"golden {n}"}, {"name": "silver"}][n % 3]
            await store.put(account, jwt(n), meta=meta)
        pages: list[list[AccountKey]] = []
        after: AccountKey | None = None
        while page := await store.search("gold", after=after, limit=4):
            pages.append(page)
            after = page[-1]
        assert [a for p in pages for a in p] == [a for n, a in enumerate(accounts) if n % 3 != 2]
        assert all(len(p) == 4 for p in pages[:-1])

    async def test_deleted_accounts_are_not_found(self, make: Make) -> None:
        store = await self._three(make)
        await store.delete(A, jwt("token"))
        assert await store.search("blue") == []
        assert await store.search("region:eu") == [C]
        assert await store.search(A[:10]) == []

    async def test_a_new_version_replaces_what_the_old_one_matched(self, make: Make) -> None:
        store = await self._three(make)
        await store.put(A, jwt("a2"), meta={"name": "Tenant Red", "tags": "tier:silver"})
        assert await store.search("blue") == []
        assert await store.search("tier:gold") == []
        assert await store.search("red") == [A]
        assert await store.search("tier:silver") == [A]


class PersistentHistoryContract:
    """With :class:`contract.PersistentContract`'s ``store`` and ``reopen`` fixtures."""

    async def test_history_survives_a_reopen(self, store: Store, reopen: Reopen) -> None:
        await store.put(A, jwt(1), origin={"via": "http", "client": "10.0.0.7"})
        await store.delete(A, jwt("token"), origin={"via": "nats"})
        before = await store.history(A)
        store = await reopen(store)
        assert await store.history(A) == before
        assert [(v.deleted, v.origin["via"]) for v in before] == [(True, "nats"), (False, "http")]
