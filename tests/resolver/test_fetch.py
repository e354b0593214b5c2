"""Fetching without NATS: retries, timeouts, ETag revalidation and Cache-Control, against a scripted
HTTP server; and LOOKUP against a real accountd over a real nats-server."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from aiohttp import web

from accountd.natsserver import free_port
from accountd.resolver import AccountNotFound, FetchFailed, HttpFetcher, InvalidAccount, Resolver, accounts_url
from world import World

from .helpers import Calls, close_accountd, full_resolver, nats_server, start_accountd


@dataclass
class Script:
    """An account server whose answers the test decides."""

    world: World
    jwts: dict[str, str] = field(default_factory=dict)
    failures: int = 0
    """Answer this many requests with 503 first."""
    delay: float = 0.0
    cache_control: str = "no-cache"
    requests: list[tuple[str, str]] = field(default_factory=list)
    """(path, If-None-Match) of every request."""

    async def handle(self, request: web.Request) -> web.Response:
        self.requests.append((request.path, request.headers.get("If-None-Match", "")))
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.failures > 0:
            self.failures -= 1
            return web.Response(status=503, text="busy")
        token = self.jwts.get(request.match_info["pub"])
        if token is None:
            return web.Response(status=404, text="no matching account JWT")
        from accountd.claims import decode_account

        etag = f'"{decode_account(token).jti}"'
        if request.headers.get("If-None-Match") == etag:
            return web.Response(status=304, headers={"ETag": etag})
        return web.Response(text=token + "\n", headers={"ETag": etag, "Cache-Control": self.cache_control})


@pytest.fixture
async def scripted() -> AsyncIterator[tuple[Script, str]]:
    script = Script(World())
    app = web.Application()
    app.router.add_get("/jwt/v1/accounts/{pub}", script.handle)
    runner = web.AppRunner(app, shutdown_timeout=0.2)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    yield script, f"http://127.0.0.1:{port}"
    await runner.cleanup()


def resolver_for(script: Script, url: str, **kw: object) -> Resolver:
    kw.setdefault("revalidate_interval", None)
    return Resolver(script.world.operator_jwt, url=url, backoff=0.01, **kw)  # type: ignore[arg-type]


def test_accounts_url_accepts_the_usual_spellings() -> None:
    assert accounts_url("http://h:9090") == "http://h:9090/jwt/v1/accounts"
    assert accounts_url("http://h:9090/") == "http://h:9090/jwt/v1/accounts"
    assert accounts_url("http://h:9090/jwt/v1") == "http://h:9090/jwt/v1/accounts"
    assert accounts_url("http://h:9090/jwt/v1/accounts/") == "http://h:9090/jwt/v1/accounts"


async def test_5xx_answers_are_retried_with_backoff(scripted: tuple[Script, str]) -> None:
    script, url = scripted
    a = script.world.account("A")
    script.jwts[a.pub] = a.jwt
    script.failures = 2
    async with resolver_for(script, url, retries=2) as r:
        assert (await r.get(a.pub)).jti == a.claims.jti
    assert len(script.requests) == 3


async def test_a_server_that_keeps_failing_gives_fetch_failed(scripted: tuple[Script, str]) -> None:
    script, url = scripted
    a = script.world.account("A")
    script.jwts[a.pub] = a.jwt
    script.failures = 10
    async with resolver_for(script, url, retries=1) as r:
        with pytest.raises(FetchFailed, match="503"):
            await r.get(a.pub)
        assert r.stats.fetches[("http", "failed")] == 1
    assert len(script.requests) == 2


async def test_a_slow_server_times_out(scripted: tuple[Script, str]) -> None:
    script, url = scripted
    a = script.world.account("A")
    script.jwts[a.pub] = a.jwt
    script.delay = 1
    async with resolver_for(script, url, retries=1, fetch_timeout=0.2) as r:
        with pytest.raises(FetchFailed, match="after 2 attempts"):
            await r.get(a.pub)


async def test_not_found_is_not_retried(scripted: tuple[Script, str]) -> None:
    script, url = scripted
    async with resolver_for(script, url, retries=3) as r:
        with pytest.raises(AccountNotFound):
            await r.get(script.world.account("NOWHERE").pub)
    assert len(script.requests) == 1


async def test_an_untrusted_account_is_refused(scripted: tuple[Script, str]) -> None:
    script, url = scripted
    stranger = World().account("STRANGER")
    script.jwts[stranger.pub] = stranger.jwt
    async with resolver_for(script, url) as r:
        with pytest.raises(InvalidAccount) as info:
            await r.get(stranger.pub)
        assert info.value.code == "unknown_signing_key"
        assert r.peek(stranger.pub) is None


async def test_a_jwt_served_under_another_key_is_refused(scripted: tuple[Script, str]) -> None:
    script, url = scripted
    a, b = script.world.account("A"), script.world.account("B")
    script.jwts[a.pub] = b.jwt
    async with resolver_for(script, url) as r:
        with pytest.raises(InvalidAccount) as info:
            await r.get(a.pub)
        assert info.value.code == "subject_mismatch"


async def test_without_nats_no_cache_means_revalidating_with_the_etag(scripted: tuple[Script, str]) -> None:
    script, url = scripted
    a = script.world.account("A")
    script.jwts[a.pub] = a.jwt
    async with resolver_for(script, url) as r:
        await r.get(a.pub)
        await r.get(a.pub)
        assert script.requests[-1] == (f"/jwt/v1/accounts/{a.pub}", f'"{a.claims.jti}"')
        assert r.stats.fetches[("http", "not_modified")] == 1

        newer = script.world.reissue(a, iat=a.claims.iat + 1, conn=3)
        script.jwts[a.pub] = newer.jwt
        seen = []
        r.on_update(lambda old, new, diff: seen.append(diff.limits))
        assert (await r.get(a.pub)).nats.limits.conn == 3
        assert seen == [{"conn": (-1, 3)}]


async def test_max_age_keeps_an_entry_fresh_and_no_store_is_not_kept(scripted: tuple[Script, str]) -> None:
    script, url = scripted
    a = script.world.account("A")
    script.jwts[a.pub] = a.jwt
    script.cache_control = "max-age=3600"
    async with resolver_for(script, url) as r:
        await r.get(a.pub)
        await r.get(a.pub)
        assert len(script.requests) == 1
    script.cache_control = "no-store"
    script.requests.clear()
    async with resolver_for(script, url) as r:
        await r.get(a.pub)
        assert r.peek(a.pub) is None
        await r.get(a.pub)
        assert len(script.requests) == 2


async def test_an_unreachable_server_leaves_the_cached_copy_in_use(scripted: tuple[Script, str]) -> None:
    script, url = scripted
    a = script.world.account("A")
    script.jwts[a.pub] = a.jwt
    async with resolver_for(script, url, retries=0) as r:
        await r.get(a.pub)
        script.failures = 100
        assert (await r.get(a.pub)).jti == a.claims.jti
        assert r.stats.revalidations["failed"] == 1


async def test_an_account_deleted_at_the_server_is_evicted_on_refresh(scripted: tuple[Script, str]) -> None:
    script, url = scripted
    a = script.world.account("A")
    script.jwts[a.pub] = a.jwt
    async with resolver_for(script, url) as r:
        await r.get(a.pub)
        del script.jwts[a.pub]
        reasons: list[str] = []
        r.on_evict(lambda claims, reason: reasons.append(reason))
        with pytest.raises(AccountNotFound):
            await r.refresh(a.pub)
        assert reasons == ["deleted"]


async def test_an_account_listing_is_paged(tmp_path: Path) -> None:
    world = World()
    files = world.write(tmp_path / "files")
    accountd = await start_accountd(files)
    host, port = accountd.address
    try:
        fetcher = HttpFetcher(f"http://{host}:{port}")
        accounts = [world.account(f"L{i}") for i in range(5)]
        for a in accounts:
            async with fetcher.session.post(f"{fetcher.url}/{a.pub}", data=a.jwt) as resp:
                assert resp.status == 200
        pages = [page async for page in fetcher.list_accounts(page=2)]
        assert [len(p) for p in pages] == [2, 2, 1]
        listed = [x for p in pages for x in p]
        assert [x["account"] for x in listed] == sorted(a.pub for a in accounts)
        assert {x["jti"] for x in listed} == {a.claims.jti for a in accounts}
        later = [x["account"] async for p in fetcher.list_accounts(page=2, after=listed[2]["account"]) for x in p]
        assert later == [x["account"] for x in listed[3:]]
        await fetcher.close()
    finally:
        await close_accountd(accountd)


async def test_lookup_over_nats_finds_accountd_and_an_empty_reply_means_not_found(tmp_path: Path) -> None:
    world = World()
    files = world.write(tmp_path / "files")
    server = nats_server(tmp_path / "n1", files, world.sys, "MEMORY").start()
    try:
        accountd = await start_accountd(files, nats_url=server.url)
        a = world.account("A")
        await accountd.service.put(a.jwt)
        async with Resolver(world.operator_jwt, nats=[server.url], creds=str(files["sys_creds"])) as r:
            assert await r.wait_live(15)
            assert (await r.get(a.pub)).jti == a.claims.jti
            assert r.stats.fetches[("nats", "ok")] == 1
            with pytest.raises(AccountNotFound):
                await r.get(world.account("NOWHERE").pub)
        await close_accountd(accountd)
    finally:
        server.stop()


async def test_http_falls_back_to_lookup_when_the_url_is_down(tmp_path: Path) -> None:
    world = World()
    files = world.write(tmp_path / "files")
    server = nats_server(tmp_path / "n1", files, world.sys, full_resolver(tmp_path / "jwt")).start()
    try:
        accountd = await start_accountd(files, nats_url=server.url)
        a = world.account("A")
        await accountd.service.put(a.jwt)
        dead = f"http://127.0.0.1:{free_port()}"
        async with Resolver(world.operator_jwt, url=dead, nats=[server.url], creds=str(files["sys_creds"]),
                            retries=0) as r:
            assert await r.wait_live(15)
            assert (await r.get(a.pub)).jti == a.claims.jti
            assert r.stats.fetches[("http", "failed")] == 1
            assert r.stats.fetches[("nats", "ok")] == 1
        await close_accountd(accountd)
    finally:
        server.stop()


async def test_periodic_revalidation_finds_a_change_without_any_get(scripted: tuple[Script, str]) -> None:
    script, url = scripted
    a = script.world.account("A")
    script.jwts[a.pub] = a.jwt
    async with resolver_for(script, url, revalidate_interval=0.2) as r:
        await r.get(a.pub)
        calls = Calls()
        r.on_update(calls)
        script.jwts[a.pub] = script.world.reissue(a, iat=a.claims.iat + 1, conn=4).jwt
        assert (await calls.wait(a.pub)).limits == {"conn": (-1, 4)}
        assert r.stats.revalidations["changed"] == 1
