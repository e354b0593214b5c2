"""The resolver survives NATS restarts and accountd restarts: it reconnects, re-subscribes and
revalidates its cache. Each test restarts a process, so each starts its own."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import nats
import pytest

from accountd.natsserver import NatsServer, free_port
from accountd.resolver import FetchFailed, Resolver
from world import World

from .helpers import (
    Calls,
    accountd_url,
    close_accountd,
    eventually,
    full_resolver,
    nats_server,
    start_accountd,
    sys_client,
)


@dataclass
class Setup:
    world: World
    files: dict[str, Path]
    server: NatsServer
    root: Path


@pytest.fixture
async def setup(tmp_path: Path, request: pytest.FixtureRequest) -> AsyncIterator[Setup]:
    """A nats-server with a full resolver, or ``MEMORY`` when parametrized so (indirect): then
    nothing but accountd answers a LOOKUP."""
    world = World()
    files = world.write(tmp_path / "files")
    memory = getattr(request, "param", "full") == "memory"
    resolver = "MEMORY" if memory else full_resolver(tmp_path / "jwt")
    server = nats_server(tmp_path / "n1", files, world.sys, resolver)
    server.start()
    yield Setup(world, files, server, tmp_path)
    server.stop()


async def _quiet(exc: Exception) -> None:
    pass


@pytest.mark.parametrize("connection", ["owned", "callers"])
async def test_after_a_nats_restart_missed_changes_are_caught_by_revalidation(setup: Setup, connection: str) -> None:
    # accountd without NATS: nothing announces the change, only the resolver's revalidation can see it.
    accountd = await start_accountd(setup.files)
    own = None
    if connection == "owned":
        nats_arg: object = [setup.server.url]
    else:
        own = await nats.connect(setup.server.url, user_credentials=str(setup.files["sys_creds"]),
                                 reconnect_time_wait=0.2, max_reconnect_attempts=-1, error_cb=_quiet)
        nats_arg = own
    resolver = Resolver(setup.world.operator_jwt, url=accountd_url(accountd), nats=nats_arg,  # type: ignore[arg-type]
                        creds=str(setup.files["sys_creds"]), reconnect_poll=0.1)
    calls = Calls()
    resolver.on_update(calls)
    await resolver.start()
    try:
        assert await resolver.wait_live(15)
        a = setup.world.account("A", iat=int(time.time()) - 100)
        await accountd.service.put(a.jwt)
        await resolver.get(a.pub)

        setup.server.stop()
        await eventually(lambda: not resolver.live, what="the resolver to notice the outage")
        assert (await resolver.get(a.pub)).jti == a.claims.jti  # still answered from the cache
        changed = setup.world.reissue(a, iat=int(time.time()), conn=1)
        await accountd.service.put(changed.jwt)
        setup.server.start()

        diff = await calls.wait(a.pub, changed.claims.jti, timeout=30)
        assert diff.limits == {"conn": (-1, 1)}
        assert resolver.stats.revalidations["changed"] == 1
        assert len(calls.of(a.pub)) == 1

        # The update subscription is back too.
        await eventually(lambda: resolver.live, what="the subscription to be live again")
        sys = await sys_client(setup.server.url, setup.files["sys_creds"])
        newest = setup.world.reissue(a, iat=int(time.time()) + 1, conn=2)
        await sys.publish(f"$SYS.ACCOUNT.{a.pub}.CLAIMS.UPDATE", newest.jwt.encode())
        await sys.close()
        assert (await calls.wait(a.pub, newest.claims.jti)).limits == {"conn": (1, 2)}
    finally:
        await resolver.close()
        if own is not None:
            await own.close()
        await close_accountd(accountd)


@pytest.mark.parametrize("setup", ["memory"], indirect=True)
async def test_an_accountd_restart_is_survived(setup: Setup) -> None:
    port = free_port()
    store = f"dir:{setup.root / 'store'}"
    accountd = await start_accountd(setup.files, port=port, nats_url=setup.server.url, store=store)
    url = accountd_url(accountd)
    resolver = Resolver(setup.world.operator_jwt, url=url, nats=[setup.server.url],
                        creds=str(setup.files["sys_creds"]), retries=0, revalidate_interval=0.5)
    calls = Calls()
    resolver.on_update(calls)
    await resolver.start()
    try:
        assert await resolver.wait_live(15)
        a, b = setup.world.account("A", iat=int(time.time()) - 100), setup.world.account("B")
        await accountd.service.put(a.jwt)
        await resolver.get(a.pub)

        await close_accountd(accountd)
        failed = resolver.stats.revalidations["failed"]
        await eventually(lambda: resolver.stats.revalidations["failed"] > failed, what="a failed revalidation")
        assert (await resolver.get(a.pub)).jti == a.claims.jti  # the cached copy keeps serving
        with pytest.raises(FetchFailed):
            await resolver.get(b.pub)

        accountd = await start_accountd(setup.files, port=port, nats_url=setup.server.url, store=store)
        unchanged = resolver.stats.revalidations["unchanged"]
        await eventually(lambda: resolver.stats.revalidations["unchanged"] > unchanged,
                         what="a successful revalidation against the restarted accountd")
        changed = setup.world.reissue(a, iat=int(time.time()), conn=1)
        await accountd.service.put(changed.jwt)
        assert (await calls.wait(a.pub, changed.claims.jti)).limits == {"conn": (-1, 1)}
        await accountd.service.put(b.jwt)
        assert (await resolver.get(b.pub)).jti == b.claims.jti
    finally:
        await resolver.close()
        await close_accountd(accountd)
