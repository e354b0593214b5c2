"""The service's bounded cache: its bounds, its counters, and never an older JWT than the store holds."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from accountd.claims import KeyPair, Role, Trust, create, encode, new_account, new_operator
from accountd.service import AccountCache, AccountService, CachedAccount, parse_cache_size
from accountd.store import SQLiteStore
from accountd.types import JWT, AccountKey


def entry(n: int, revision: int = 1, size: int = 100) -> CachedAccount:
    return CachedAccount(AccountKey(f"A{n:055d}"), JWT("x" * size), revision, f'"{n}"', 1, 0)


@pytest.mark.parametrize(("text", "bounds"), [
    ("10000", (10000, None)), ("64MiB", (None, 64 << 20)), ("500MB", (None, 500_000_000)),
    ("1gib", (None, 1 << 30)), ("0", (0, None)), ("2048B", (None, 2048)),
])
def test_a_cache_size_is_a_count_or_bytes(text: str, bounds: tuple[int | None, int | None]) -> None:
    assert parse_cache_size(text) == bounds


@pytest.mark.parametrize("text", ["", "lots", "-1", "10 apples", "1.5MB"])
def test_a_bad_cache_size_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="bad cache size"):
        parse_cache_size(text)


def test_the_least_recently_used_entry_is_evicted_beyond_the_count() -> None:
    cache = AccountCache(max_entries=2)
    for n in range(2):
        cache.put(entry(n))
    assert cache.get(entry(0).account) is not None  # 1 is now the least recently used
    cache.put(entry(2))
    assert [cache.peek(entry(n).account) is not None for n in range(3)] == [True, False, True]
    assert cache.stats()["cache_evictions"] == 1


def test_the_byte_bound_counts_each_entrys_jwt() -> None:
    one = entry(0, size=1000).size
    cache = AccountCache(max_bytes=3 * one)
    for n in range(10):
        cache.put(entry(n, size=1000))
    assert len(cache) == 3 and cache.bytes == 3 * one
    assert cache.stats()["cache_evictions"] == 7


def test_hits_and_misses_are_counted() -> None:
    cache = AccountCache(max_entries=5)
    cache.put(entry(1))
    cache.get(entry(1).account)
    cache.get(entry(2).account)
    stats = cache.stats()
    assert (stats["cache_hits"], stats["cache_misses"]) == (1, 1)


def test_an_older_revision_never_replaces_a_newer_one() -> None:
    cache = AccountCache(max_entries=5)
    cache.put(entry(1, revision=5))
    cache.put(entry(1, revision=4))
    held = cache.peek(entry(1).account)
    assert held is not None and held.revision == 5


def test_a_cache_of_zero_holds_nothing() -> None:
    cache = AccountCache(max_entries=0)
    cache.put(entry(1))
    assert len(cache) == 0


# -- the service over a real store, with a cache far smaller than the working set -----------------

ACCOUNTS = 60
VERSIONS = 12


@pytest.fixture
async def service(tmp_path: Path) -> AsyncIterator[tuple[AccountService, KeyPair]]:
    operator = create(Role.OPERATOR)
    trust = Trust.from_jwts(encode(new_operator(operator.public_key, "OP"), operator))
    store = SQLiteStore(tmp_path / "accounts.db")
    await store.open()
    yield AccountService(store, trust, cache=AccountCache(max_entries=5)), operator
    await store.close()


async def test_reads_never_see_a_jwt_older_than_the_last_acknowledged_write(
    service: tuple[AccountService, KeyPair]
) -> None:
    svc, operator = service
    keys = [create(Role.ACCOUNT).public_key for _ in range(ACCOUNTS)]
    versions = {k: [] for k in keys}  # type: dict[str, list[str]]
    for version in range(VERSIONS):
        for k in keys:
            versions[k].append(encode(new_account(k, f"v{version}"), operator, now=1_800_000_000 + version))
    acknowledged = dict.fromkeys(keys, -1)
    rng = random.Random(7)
    stale: list[str] = []

    async def writer(k: str) -> None:
        for version, token in enumerate(versions[k]):
            await svc.put(token)
            acknowledged[k] = version
            await asyncio.sleep(0)

    async def reader() -> None:
        for _ in range(1500):
            k = rng.choice(keys)
            floor = acknowledged[k]
            if floor < 0:
                await asyncio.sleep(0)
                continue
            got = await svc.get(k)
            if got.iat < 1_800_000_000 + floor:
                stale.append(f"{k}: iat {got.iat} after version {floor} was acknowledged")

    await asyncio.gather(*(writer(k) for k in keys), *(reader() for _ in range(4)))
    assert stale == []
    assert svc.cache.stats()["cache_evictions"] > 0 and len(svc.cache) <= 5
    for k in keys:
        assert (await svc.get(k)).iat == 1_800_000_000 + VERSIONS - 1
