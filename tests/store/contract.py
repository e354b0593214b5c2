"""The behaviour every store must have, as test classes to inherit.

A test module subclasses :class:`StoreContract` and provides a ``store`` fixture (an opened,
empty store, closed afterwards). A persistent store also subclasses :class:`PersistentContract`
and provides ``reopen``: an async callable that closes the given store and returns a new, opened
one on the same backing storage::

    class TestMyStore(StoreContract, PersistentContract):
        @pytest.fixture
        async def store(self): ...

        @pytest.fixture
        def reopen(self): ...
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
from collections.abc import Awaitable, Callable

import pytest

from accountd.store import Conflict, NotFound, Store, StoreError
from accountd.types import JWT, AccountKey

Reopen = Callable[[Store], Awaitable[Store]]


def key(n: int | str) -> AccountKey:
    """A well-formed account public key, distinct per ``n`` (the CRC is not checked by stores)."""
    digest = hashlib.sha512(str(n).encode()).digest()
    return AccountKey("A" + base64.b32encode(digest).decode()[:55])


def jwt(n: int | str) -> JWT:
    """An opaque stand-in for a JWT (stores never decode what they keep)."""
    return JWT(f"eyJhbGciOiJlZDI1NTE5LW5rZXkifQ.{n}.c2ln")


A, B, C = sorted(key(name) for name in "abc")


class StoreContract:
    """Get/lookup/put/delete, compare-and-set, tombstones, paging, pending marks, meta, concurrency."""

    # -- put / get / lookup ------------------------------------------------------------------

    async def test_get_returns_the_jwt_that_put_stored(self, store: Store) -> None:
        put = await store.put(A, jwt(1))
        got = await store.get(A)
        assert got == put
        assert (got.account, got.jwt, got.deleted) == (A, jwt(1), False)

    async def test_put_strips_surrounding_whitespace(self, store: Store) -> None:
        await store.put(A, JWT(f"\n  {jwt(1)}\r\n"))
        assert (await store.get(A)).jwt == jwt(1)

    async def test_get_of_an_unknown_account_raises_not_found(self, store: Store) -> None:
        with pytest.raises(NotFound) as info:
            await store.get(A)
        assert info.value.account == A

    async def test_not_found_is_a_store_error(self) -> None:
        assert issubclass(NotFound, StoreError) and issubclass(Conflict, StoreError)

    async def test_lookup_of_an_unknown_account_returns_none(self, store: Store) -> None:
        assert await store.lookup(A) is None

    async def test_lookup_returns_the_live_record(self, store: Store) -> None:
        put = await store.put(A, jwt(1))
        assert await store.lookup(A) == put

    async def test_revisions_are_positive_and_increase_on_every_change(self, store: Store) -> None:
        first = await store.put(A, jwt(1))
        second = await store.put(A, jwt(2))
        tombstone = await store.delete(A, jwt("token"))
        third = await store.put(A, jwt(3))
        assert 0 < first.revision < second.revision < tombstone.revision < third.revision

    async def test_putting_the_same_jwt_again_is_still_a_new_revision(self, store: Store) -> None:
        first = await store.put(A, jwt(1))
        second = await store.put(A, jwt(1))
        assert second.revision > first.revision

    # -- compare-and-set ---------------------------------------------------------------------

    async def test_put_with_expect_zero_creates_a_new_account(self, store: Store) -> None:
        record = await store.put(A, jwt(1), expect=0)
        assert (await store.get(A)) == record

    async def test_put_with_expect_zero_on_an_existing_account_raises_conflict(self, store: Store) -> None:
        existing = await store.put(A, jwt(1))
        with pytest.raises(Conflict) as info:
            await store.put(A, jwt(2), expect=0)
        assert (info.value.account, info.value.expected, info.value.actual) == (A, 0, existing.revision)
        assert await store.get(A) == existing

    async def test_put_with_the_current_revision_succeeds(self, store: Store) -> None:
        first = await store.put(A, jwt(1))
        second = await store.put(A, jwt(2), expect=first.revision)
        assert (await store.get(A)) == second

    async def test_put_with_a_stale_revision_raises_conflict_and_changes_nothing(self, store: Store) -> None:
        first = await store.put(A, jwt(1))
        second = await store.put(A, jwt(2))
        with pytest.raises(Conflict) as info:
            await store.put(A, jwt(3), expect=first.revision)
        assert (info.value.expected, info.value.actual) == (first.revision, second.revision)
        assert await store.get(A) == second

    async def test_put_expecting_a_revision_of_an_unknown_account_raises_conflict(self, store: Store) -> None:
        with pytest.raises(Conflict) as info:
            await store.put(A, jwt(1), expect=5)
        assert info.value.actual == 0
        assert await store.lookup(A) is None

    async def test_negative_expect_is_refused(self, store: Store) -> None:
        with pytest.raises(ValueError):
            await store.put(A, jwt(1), expect=-1)

    async def test_delete_with_a_stale_revision_raises_conflict(self, store: Store) -> None:
        first = await store.put(A, jwt(1))
        second = await store.put(A, jwt(2))
        with pytest.raises(Conflict):
            await store.delete(A, jwt("token"), expect=first.revision)
        assert await store.get(A) == second

    async def test_delete_with_the_current_revision_succeeds(self, store: Store) -> None:
        first = await store.put(A, jwt(1))
        tombstone = await store.delete(A, jwt("token"), expect=first.revision)
        assert tombstone.deleted

    # -- tombstones --------------------------------------------------------------------------

    async def test_delete_leaves_a_tombstone_holding_the_token(self, store: Store) -> None:
        await store.put(A, jwt(1))
        tombstone = await store.delete(A, JWT(f" {jwt('token')}\n"))
        assert (tombstone.account, tombstone.jwt, tombstone.deleted) == (A, jwt("token"), True)
        assert await store.lookup(A) == tombstone

    async def test_get_of_a_tombstoned_account_raises_not_found(self, store: Store) -> None:
        await store.put(A, jwt(1))
        await store.delete(A, jwt("token"))
        with pytest.raises(NotFound):
            await store.get(A)

    async def test_delete_of_an_unknown_account_raises_not_found(self, store: Store) -> None:
        with pytest.raises(NotFound):
            await store.delete(A, jwt("token"))
        assert await store.lookup(A) is None

    async def test_delete_of_a_tombstoned_account_raises_not_found(self, store: Store) -> None:
        await store.put(A, jwt(1))
        tombstone = await store.delete(A, jwt("token"))
        with pytest.raises(NotFound):
            await store.delete(A, jwt("token2"), expect=tombstone.revision)
        assert await store.lookup(A) == tombstone

    async def test_put_over_a_tombstone_with_expect_zero_raises_conflict(self, store: Store) -> None:
        await store.put(A, jwt(1))
        tombstone = await store.delete(A, jwt("token"))
        with pytest.raises(Conflict) as info:
            await store.put(A, jwt(2), expect=0)
        assert info.value.actual == tombstone.revision

    async def test_put_over_a_tombstone_with_its_revision_revives_the_account(self, store: Store) -> None:
        await store.put(A, jwt(1))
        tombstone = await store.delete(A, jwt("token"))
        revived = await store.put(A, jwt(2), expect=tombstone.revision)
        assert revived.revision > tombstone.revision
        assert await store.get(A) == revived
        assert await store.list() == [A]

    async def test_list_and_count_exclude_tombstones(self, store: Store) -> None:
        for account in (A, B, C):
            await store.put(account, jwt(account))
        await store.delete(B, jwt("token"))
        assert await store.list() == [A, C]
        assert await store.count() == 2

    # -- list / count ------------------------------------------------------------------------

    async def test_an_empty_store_lists_nothing(self, store: Store) -> None:
        assert await store.list() == []
        assert await store.count() == 0

    async def test_list_is_sorted_by_key(self, store: Store) -> None:
        accounts = [key(n) for n in range(20)]
        for account in accounts:
            await store.put(account, jwt(account))
        assert await store.list() == sorted(accounts)
        assert await store.count() == 20

    async def test_list_pages_with_after_and_limit(self, store: Store) -> None:
        accounts = sorted(key(n) for n in range(25))
        for account in accounts:
            await store.put(account, jwt(account))
        pages: list[list[AccountKey]] = []
        after: AccountKey | None = None
        while page := await store.list(after=after, limit=10):
            pages.append(page)
            after = page[-1]
        assert [len(page) for page in pages] == [10, 10, 5]
        assert [account for page in pages for account in page] == accounts

    async def test_list_after_a_key_that_is_not_stored_starts_after_its_position(self, store: Store) -> None:
        await store.put(A, jwt(1))
        await store.put(C, jwt(3))
        assert await store.list(after=B) == [C]

    async def test_list_with_limit_zero_is_empty(self, store: Store) -> None:
        await store.put(A, jwt(1))
        assert await store.list(limit=0) == []

    # -- pending / published -----------------------------------------------------------------

    async def test_put_marks_the_account_pending(self, store: Store) -> None:
        record = await store.put(A, jwt(1))
        assert await store.pending() == [record]

    async def test_delete_marks_the_account_pending_with_the_tombstone(self, store: Store) -> None:
        record = await store.put(A, jwt(1))
        await store.mark_published(A, record.revision)
        tombstone = await store.delete(A, jwt("token"))
        assert await store.pending() == [tombstone]

    async def test_pending_lists_only_the_latest_change_per_account_sorted(self, store: Store) -> None:
        await store.put(C, jwt(1))
        await store.put(A, jwt(2))
        latest = await store.put(C, jwt(3))
        assert [r.account for r in await store.pending()] == [A, C]
        assert (await store.pending())[1] == latest

    async def test_mark_published_clears_the_pending_mark(self, store: Store) -> None:
        record = await store.put(A, jwt(1))
        await store.mark_published(A, record.revision)
        assert await store.pending() == []
        assert await store.get(A) == record

    async def test_mark_published_with_an_old_revision_keeps_a_newer_change_pending(
        self, store: Store
    ) -> None:
        old = await store.put(A, jwt(1))
        new = await store.put(A, jwt(2))
        await store.mark_published(A, old.revision)
        assert await store.pending() == [new]

    async def test_a_change_after_publication_is_pending_again(self, store: Store) -> None:
        old = await store.put(A, jwt(1))
        await store.mark_published(A, old.revision)
        new = await store.put(A, jwt(2))
        assert await store.pending() == [new]

    async def test_a_put_without_publish_is_stored_but_not_pending(self, store: Store) -> None:
        record = await store.put(A, jwt(1), publish=False)
        assert await store.get(A) == record
        assert await store.pending() == []

    async def test_pending_with_a_limit_returns_the_first_accounts_by_key(self, store: Store) -> None:
        for account in (C, A, B):
            await store.put(account, jwt(account))
        assert [r.account for r in await store.pending(limit=2)] == [A, B]

    async def test_mark_published_of_an_unknown_account_does_nothing(self, store: Store) -> None:
        await store.mark_published(A, 1)
        assert await store.pending() == []

    # -- meta --------------------------------------------------------------------------------

    async def test_meta_round_trips_with_the_record(self, store: Store) -> None:
        meta = {"iat": 1_700_000_000, "self_signed_iat": -3, "note": "ünïcode \n ok"}
        await store.put(A, jwt(1), meta=meta)
        assert dict((await store.get(A)).meta) == meta

    async def test_meta_of_a_tombstone_round_trips(self, store: Store) -> None:
        await store.put(A, jwt(1), meta={"iat": 1})
        await store.delete(A, jwt("token"), meta={"iat": 2})
        record = await store.lookup(A)
        assert record is not None and dict(record.meta) == {"iat": 2}

    async def test_meta_defaults_to_empty(self, store: Store) -> None:
        await store.put(A, jwt(1), meta={"iat": 1})
        await store.put(A, jwt(2))
        assert dict((await store.get(A)).meta) == {}

    async def test_meta_is_a_copy_of_the_callers_mapping(self, store: Store) -> None:
        meta: dict[str, int | str] = {"iat": 1}
        await store.put(A, jwt(1), meta=meta)
        meta["iat"] = 2
        assert (await store.get(A)).meta["iat"] == 1

    @pytest.mark.parametrize("meta", [{"flag": True}, {"x": 1.5}, {"x": None}, {"x": [1]}, {1: 1}])
    async def test_meta_that_is_not_str_to_int_or_str_is_refused(
        self, store: Store, meta: dict[object, object]
    ) -> None:
        with pytest.raises(ValueError):
            await store.put(A, jwt(1), meta=meta)  # type: ignore[arg-type]
        assert await store.lookup(A) is None

    # -- argument checks ---------------------------------------------------------------------

    @pytest.mark.parametrize(
        "bad",
        [
            "",
            "A",
            "../" + "A" * 53,
            "A" * 55 + "/",
            "a" * 56,
            "O" + "A" * 55,
            "A" * 57,
            "A" * 55 + "1",
            "A" * 55 + "\n",
        ],
    )
    async def test_malformed_account_keys_are_refused(self, store: Store, bad: str) -> None:
        account = AccountKey(bad)
        with pytest.raises(ValueError):
            await store.put(account, jwt(1))
        with pytest.raises(ValueError):
            await store.get(account)
        with pytest.raises(ValueError):
            await store.lookup(account)
        with pytest.raises(ValueError):
            await store.delete(account, jwt("token"))
        with pytest.raises(ValueError):
            await store.mark_published(account, 1)
        assert await store.count() == 0

    @pytest.mark.parametrize("blank", ["", "  \n\t"])
    async def test_an_empty_jwt_is_refused(self, store: Store, blank: str) -> None:
        with pytest.raises(ValueError):
            await store.put(A, JWT(blank))
        assert await store.lookup(A) is None

    # -- concurrency -------------------------------------------------------------------------

    async def test_concurrent_puts_to_different_accounts_all_land(self, store: Store) -> None:
        accounts = [key(n) for n in range(100)]
        records = await asyncio.gather(*(store.put(a, jwt(a)) for a in accounts))
        assert len({r.revision for r in records}) == 100
        assert await store.count() == 100
        assert await store.list() == sorted(accounts)
        for record in records:
            assert await store.get(record.account) == record
        assert await store.pending() == sorted(records, key=lambda r: r.account)

    async def test_concurrent_puts_to_one_account_leave_the_highest_revision(self, store: Store) -> None:
        records = await asyncio.gather(*(store.put(A, jwt(n)) for n in range(100)))
        revisions = [r.revision for r in records]
        assert revisions == sorted(set(revisions))  # distinct, in call order
        assert await store.get(A) == records[-1]
        assert await store.count() == 1
        assert await store.pending() == [records[-1]]

    async def test_concurrent_compare_and_set_lets_exactly_one_writer_win(self, store: Store) -> None:
        base = await store.put(A, jwt("base"))
        results = await asyncio.gather(
            *(store.put(A, jwt(n), expect=base.revision) for n in range(100)), return_exceptions=True
        )
        winners = [r for r in results if not isinstance(r, BaseException)]
        assert len(winners) == 1
        assert all(isinstance(r, Conflict) for r in results if r not in winners)
        assert await store.get(A) == winners[0]

    async def test_concurrent_puts_and_deletes_agree_with_the_final_state(self, store: Store) -> None:
        accounts = [key(n) for n in range(50)]
        await asyncio.gather(*(store.put(a, jwt(a)) for a in accounts))
        deleted = accounts[::2]
        changes = [store.delete(a, jwt("token")) for a in deleted] + [
            store.put(a, jwt(2)) for a in accounts[1::2]
        ]
        await asyncio.gather(*changes)
        assert await store.list() == sorted(accounts[1::2])
        for account in deleted:
            record = await store.lookup(account)
            assert record is not None and record.deleted

    # -- lifecycle and introspection ---------------------------------------------------------

    async def test_check_passes_on_a_healthy_store(self, store: Store) -> None:
        await store.check()

    async def test_stats_count_records_tombstones_and_pending(self, store: Store) -> None:
        for account in (A, B, C):
            await store.put(account, jwt(account))
        await store.delete(B, jwt("token"))
        record = await store.lookup(C)
        assert record is not None
        await store.mark_published(C, record.revision)
        stats = store.stats()
        assert stats["name"] == store.name
        assert (stats["records"], stats["tombstones"], stats["pending"]) == (2, 1, 2)
        assert stats["writes"] == 4

    async def test_close_is_idempotent(self, store: Store) -> None:
        await store.close()
        await store.close()

    async def test_operations_after_close_raise_store_error(self, store: Store) -> None:
        await store.put(A, jwt(1))
        await store.close()
        with pytest.raises(StoreError):
            await store.get(A)
        with pytest.raises(StoreError):
            await store.put(A, jwt(2))


class PersistentContract:
    """What survives closing and reopening the store."""

    async def test_reopen_returns_every_record_with_its_revision(self, store: Store, reopen: Reopen) -> None:
        accounts = [key(n) for n in range(30)]
        records = [await store.put(a, jwt(a), meta={"n": i}) for i, a in enumerate(accounts)]
        tombstone = await store.delete(accounts[0], jwt("token"), meta={"iat": 7})
        store = await reopen(store)
        assert await store.list() == sorted(accounts[1:])
        assert await store.lookup(accounts[0]) == tombstone
        for record in records[1:]:
            again = await store.get(record.account)
            assert again == record
            assert dict(again.meta) == dict(record.meta)

    async def test_reopen_keeps_pending_marks(self, store: Store, reopen: Reopen) -> None:
        published = await store.put(A, jwt(1))
        await store.mark_published(A, published.revision)
        pending = await store.put(B, jwt(2))
        store = await reopen(store)
        assert await store.pending() == [pending]

    async def test_revisions_keep_increasing_after_reopen(self, store: Store, reopen: Reopen) -> None:
        await store.put(A, jwt(1))
        before = await store.put(B, jwt(2))
        store = await reopen(store)
        after = await store.put(A, jwt(3))
        assert after.revision > before.revision

    async def test_reopen_of_an_empty_store_is_empty(self, store: Store, reopen: Reopen) -> None:
        store = await reopen(store)
        assert await store.count() == 0
        assert await store.pending() == []
