"""The library against a real nats-server and a real accountd serve: live updates and what is refused.

One nats-server (full resolver), one accountd and one Resolver serve the whole module; every test
makes its own accounts.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import pytest_asyncio
from nats.aio.client import Client

from accountd.claims import Role, create
from accountd.natsclient import flushed
from accountd.natsserver import NatsServer
from accountd.resolver import InvalidAccount, Resolver
from accountd.server import Server
from world import Account, World

from .helpers import Calls, accountd_url, close_accountd, full_resolver, nats_server, signed, start_accountd, sys_client

pytestmark = pytest.mark.asyncio(loop_scope="module")


@dataclass
class Env:
    world: World
    files: dict[str, Path]
    nats: NatsServer
    accountd: Server
    url: str
    resolver: Resolver
    calls: Calls
    sys: Client

    async def post(self, account: Account | str, jwt: str | None = None) -> None:
        pub = account if isinstance(account, str) else account.pub
        body = jwt if jwt is not None else (account.jwt if isinstance(account, Account) else "")
        http = self.resolver.http
        assert http is not None
        async with http.session.post(f"{self.url}/jwt/v1/accounts/{pub}", data=body) as r:
            assert r.status == 200, await r.text()

    async def held(self, name: str, **limits: int) -> Account:
        """A new account, stored in accountd and held in the resolver's cache."""
        account = self.world.account(name, iat=int(time.time()) - 100, **limits)
        await self.post(account)
        await self.resolver.get(account.pub)
        return account

    async def publish(self, account: str, token: str, *, req: bool = False) -> None:
        subject = f"$SYS.REQ.ACCOUNT.{account}.CLAIMS.UPDATE" if req else f"$SYS.ACCOUNT.{account}.CLAIMS.UPDATE"
        await self.sys.publish(subject, token.encode())
        await flushed(self.sys)

    async def sentinel(self) -> None:
        """Change a held account through accountd and wait for its callback: every update published
        (and flushed) before has been handled — they share one subscription, handled in order."""
        account = await self.held("SENTINEL")
        await self.post(account.pub, self.world.reissue(account, iat=int(time.time()), subs=7).jwt)
        await self.calls.wait(account.pub)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def env(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Env]:
    root = tmp_path_factory.mktemp("updates")
    world = World()
    files = world.write(root / "files")
    server = nats_server(root / "n1", files, world.sys, full_resolver(root / "jwt")).start()
    accountd = await start_accountd(files, nats_url=server.url)
    url = accountd_url(accountd)
    calls = Calls()
    resolver = Resolver(world.operator_jwt, url=url, nats=[server.url], creds=str(files["sys_creds"]))
    resolver.on_update(calls)
    await resolver.start()
    assert await resolver.wait_live(15)
    sys = await sys_client(server.url, files["sys_creds"])
    try:
        yield Env(world, files, server, accountd, url, resolver, calls, sys)
    finally:
        await sys.close()
        await resolver.close()
        await close_accountd(accountd)
        server.stop()


async def test_a_post_to_accountd_reaches_the_cached_account_without_an_http_fetch(env: Env) -> None:
    a = await env.held("A")
    b = await env.held("B")
    fetches = env.resolver.stats.fetch_count("http")
    loop = asyncio.get_running_loop()

    changed = env.world.reissue(a, iat=int(time.time()), conn=1)
    started = loop.time()
    await env.post(a.pub, changed.jwt)
    diff = await env.calls.wait(a.pub, timeout=10)
    latency = loop.time() - started
    assert latency < 10  # the 100 ms is measured by bench/resolver.py, not asserted here

    assert diff.limits == {"conn": (-1, 1)}
    assert diff.changed and not diff.signing_keys_added and not diff.revocations_added
    assert (await env.resolver.get(a.pub)).nats.limits.conn == 1
    assert env.resolver.stats.fetch_count("http") == fetches  # nothing was fetched over HTTP

    # Any duplicate for A would have been delivered before B's later update: the callback fired once.
    await env.post(b.pub, env.world.reissue(b, iat=int(time.time()), subs=5).jwt)
    await env.calls.wait(b.pub)
    assert len(env.calls.of(a.pub)) == 1


async def test_updates_on_the_request_subject_apply_too(env: Env) -> None:
    a = await env.held("REQ")
    newer = env.world.reissue(a, iat=int(time.time()), leaf=3)
    await env.publish(a.pub, newer.jwt, req=True)
    diff = await env.calls.wait(a.pub)
    assert diff.limits == {"leaf": (-1, 3)}


async def test_untrusted_stale_mismatched_and_expired_updates_are_counted_and_ignored(env: Env) -> None:
    a = await env.held("VICTIM")
    other = await env.held("OTHER")
    before = env.resolver.jwt(a.pub)
    rejected = dict(env.resolver.stats.updates_rejected)
    now = int(time.time())
    foreign = World()  # another operator: its key is an operator key nobody trusts here

    forged = {
        "unknown_signing_key": signed(env.world, a, iat=now, signer=foreign.operator),
        "untrusted_issuer": signed(env.world, a, iat=now, signer=a.key),  # self-signed
        "stale": env.world.reissue(a, iat=a.claims.iat - 50, conn=0).jwt,
        "subject_mismatch": env.world.reissue(other, iat=now, conn=0).jwt,
        "expired": signed(env.world, a, iat=now, exp=now - 10),
        "bad_signature": before[:-6] + ("AAAAAA" if not before.endswith("AAAAAA") else "BBBBBB") if before else "",
        "malformed": "not-a-jwt",
    }
    for token in forged.values():
        await env.publish(a.pub, token)
    await env.sentinel()

    counted = {r: env.resolver.stats.updates_rejected[r] - rejected.get(r, 0) for r in forged}
    assert counted == dict.fromkeys(forged, 1)
    assert env.resolver.jwt(a.pub) == before
    assert env.calls.of(a.pub) == []
    assert env.resolver.jwt(other.pub) == other.jwt


async def test_an_update_for_an_account_not_held_is_skipped(env: Env) -> None:
    c = env.world.account("NOT-HELD")
    await env.post(c)
    skipped = env.resolver.stats.updates_skipped["not_held"]
    await env.sentinel()
    assert env.resolver.stats.updates_skipped["not_held"] >= skipped + 1
    assert env.resolver.peek(c.pub) is None


async def test_the_same_jwt_again_is_a_no_op(env: Env) -> None:
    a = await env.held("SAME")
    unchanged = env.resolver.stats.updates_skipped["unchanged"]
    await env.publish(a.pub, a.jwt)
    await env.sentinel()
    # accountd's own announcements of accounts already fetched count here too: at least ours.
    assert env.resolver.stats.updates_skipped["unchanged"] >= unchanged + 1
    assert env.calls.of(a.pub) == []
    verdict = await env.resolver.apply_update(a.jwt, a.pub)
    assert (verdict.action, verdict.reason) == ("skip", "unchanged")


async def test_revocations_arrive_with_the_diff_and_answer_is_revoked(env: Env) -> None:
    a = await env.held("REVOKING")
    user = create(Role.USER).public_key
    cut = int(time.time()) - 10
    changed = env.world.reissue(a, iat=int(time.time()))
    changed.claims.nats.revocations = {user: cut}
    from accountd.claims import encode

    token = encode(changed.claims, env.world.operator, now=int(time.time()))
    assert not await env.resolver.is_revoked(a.pub, user, cut)
    await env.post(a.pub, token)
    diff = await env.calls.wait(a.pub)
    assert diff.revocations_added == {user: cut}
    assert await env.resolver.is_revoked(a.pub, user, cut)  # revoked when revocation >= iat
    assert await env.resolver.is_revoked(a.pub, user, cut - 100)
    assert not await env.resolver.is_revoked(a.pub, user, cut + 1)


async def test_an_account_is_evicted_when_it_expires(env: Env) -> None:
    exp = int(time.time()) + 2
    account = env.world.account("SHORT-LIVED")
    token = signed(env.world, account, iat=int(time.time()), exp=exp)
    await env.post(account.pub, token)
    evicted = asyncio.Event()
    reasons: list[str] = []

    def on_evict(claims: object, reason: str) -> None:
        if getattr(claims, "sub", "") == account.pub:
            reasons.append(reason)
            evicted.set()

    remove = env.resolver.on_evict(on_evict)
    try:
        assert (await env.resolver.get(account.pub)).exp == exp
        await asyncio.wait_for(evicted.wait(), 10)
    finally:
        remove()
    assert reasons == ["expired"]
    assert env.resolver.peek(account.pub) is None
    with pytest.raises(InvalidAccount) as info:
        await env.resolver.get(account.pub)  # accountd still serves it; nats-server would refuse it
    assert info.value.code == "expired"


async def test_the_cache_is_bounded_least_recently_used_first(env: Env) -> None:
    accounts = [env.world.account(f"LRU{i}") for i in range(3)]
    for a in accounts:
        await env.post(a)
    async with Resolver(env.world.operator_jwt, url=env.url, max_size=2, revalidate_interval=None) as small:
        await small.get(accounts[0].pub)
        await small.get(accounts[1].pub)
        await small.get(accounts[0].pub)  # A0 is now the most recently used
        await small.get(accounts[2].pub)
        assert small.peek(accounts[1].pub) is None
        assert small.peek(accounts[0].pub) is not None
        assert small.stats.evictions["lru"] == 1
        assert (small.stats.hits, small.stats.misses) == (1, 3)


async def test_concurrent_gets_share_one_fetch(env: Env) -> None:
    a = env.world.account("CONCURRENT")
    await env.post(a)
    fetches = env.resolver.stats.fetch_count("http")
    results = await asyncio.gather(*(env.resolver.get(a.pub) for _ in range(20)))
    assert {r.jti for r in results} == {a.claims.jti}
    assert env.resolver.stats.fetch_count("http") == fetches + 1


async def test_metrics_and_state(env: Env) -> None:
    from prometheus_client import generate_latest

    text = generate_latest(env.resolver.registry).decode()
    for name in ("accountd_resolver_cache_hits_total", "accountd_resolver_cache_misses_total",
                 "accountd_resolver_fetches_total", "accountd_resolver_updates_applied_total",
                 "accountd_resolver_cached_accounts", "accountd_resolver_nats_connected 1.0"):
        assert name in text
    state = env.resolver.state()
    assert state["live"] is True
    assert state["cached"] == len(state["accounts"]) > 0
