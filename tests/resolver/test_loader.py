"""The resolver's Loader on its own: fetcher fallback, and what revalidation hands back to the resolver."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import pytest

from accountd.claims import AccountClaims, Trust, decode_account
from accountd.resolver import AccountCache, AccountNotFound, Entry, Fetched, FetchFailed, ResolverStats
from accountd.resolver.loader import Loader
from world import World


@dataclass
class Scripted:
    """A fetcher answering from a list: a Fetched, an error to raise or None (not modified)."""

    source: str
    answers: list[Fetched | Exception | None]
    asked: list[tuple[str, str]] = field(default_factory=list)

    async def fetch(self, account: str, etag: str = "") -> Fetched | None:
        self.asked.append((account, etag))
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer


@dataclass
class Held:
    """The resolver's side: a cache, and a record of every call back."""

    cache: AccountCache = field(default_factory=lambda: AccountCache(10))
    calls: list[tuple[str, str]] = field(default_factory=list)

    async def put(self, entry: Entry) -> None:
        self.calls.append(("put", entry.jti))
        self.cache.put(entry)

    async def replace(self, held: Entry, entry: Entry) -> None:
        self.calls.append(("replace", f"{held.jti}->{entry.jti}"))
        self.cache.put(entry)

    async def evict(self, entry: Entry, reason: str) -> None:
        self.calls.append(("evict", reason))
        self.cache.pop(entry.account)


def loader(world: World, held: Held, *fetchers: Scripted) -> Loader:
    return Loader(fetchers, Trust.from_jwts(world.operator_jwt), held.cache, ResolverStats(),
                  put=held.put, replace=held.replace, evict=held.evict, clock=time.time)  # fmt: skip


def entry(claims: AccountClaims, jwt: str) -> Entry:
    return Entry(claims, jwt, f'"{claims.jti}"', "http")


async def test_a_transport_failure_falls_back_to_the_next_fetcher_and_the_result_is_put() -> None:
    world, held = World(), Held()
    acct = world.account("A")
    http = Scripted("http", [FetchFailed("connection refused")])
    lookup = Scripted("nats", [Fetched(acct.jwt, source="nats")])
    claims = await loader(world, held, http, lookup).load(acct.pub)
    assert claims.sub == acct.pub and held.calls == [("put", claims.jti)]
    cached = held.cache.peek(acct.pub)
    assert cached is not None and cached.source == "nats"


async def test_not_found_is_authoritative_and_no_store_is_not_put() -> None:
    world, held = World(), Held()
    acct = world.account("A")
    lookup = Scripted("nats", [Fetched(acct.jwt, source="nats")])
    with pytest.raises(AccountNotFound):
        await loader(world, held, Scripted("http", [AccountNotFound("gone")]), lookup).load(acct.pub)
    assert lookup.asked == []
    await loader(world, held, Scripted("http", [Fetched(acct.jwt, no_store=True)])).load(acct.pub)
    assert held.calls == [] and acct.pub not in held.cache


async def test_revalidation_replaces_a_newer_jwt_keeps_an_older_and_evicts_a_deleted_one() -> None:
    world, held = World(), Held()
    now = int(time.time())
    old = world.account("A", iat=now - 100)
    new = world.reissue(old, iat=now - 10, conn=5)
    current = entry(decode_account(old.jwt), old.jwt)
    held.cache.put(current)
    http = Scripted("http", [None, Fetched(new.jwt, etag="E"), Fetched(old.jwt), AccountNotFound("gone")])
    load = loader(world, held, http)
    assert await load.revalidate(current) is current  # 304: nothing to do
    assert http.asked[0] == (old.pub, current.etag)
    after = await load.revalidate(current)
    assert after.claims.nats.limits.conn == 5 and after.etag == "E"
    assert held.calls == [("replace", f"{current.jti}->{after.jti}")]
    assert await load.revalidate(after) is after  # an older JWT never replaces a newer one
    with pytest.raises(AccountNotFound):
        await load.revalidate(after)
    assert held.calls[-1] == ("evict", "deleted") and old.pub not in held.cache
    assert load.stats.revalidations == {"unchanged": 1, "changed": 1, "stale": 1, "not_found": 1}
