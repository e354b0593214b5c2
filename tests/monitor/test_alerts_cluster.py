"""Alerts on a two-node cluster (2.15): a node that shuts down is ``server_gone``, healthy nodes raise
no ``health`` alert, and a node that did not take a claim update is ``fleet_stale`` until it does."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from nats.aio.client import Client

from accountd.claims import Role, create, encode
from accountd.monitor import Monitor
from accountd.monitor.alerts import Alerts, AlertSettings
from accountd.natsclient import flushed
from accountd.natsserver import NatsServer, free_port
from accountd.resolver.fleet import Held
from harness import operator_mode_config
from world import Account, World

from .support import open_client


@dataclass
class Cluster:
    world: World
    a: Account
    servers: list[NatsServer]
    sys_creds: Path
    a_creds: Path


@pytest.fixture
def cluster(nats_server_binary: str, tmp_path: Path) -> Iterator[Cluster]:
    world = World()
    files = world.write(tmp_path / "files")
    a = world.account("A", iat=1_700_000_000)
    a_creds = tmp_path / "a.creds"
    world.user_creds(a, "u", a_creds)
    ports = [free_port(), free_port()]
    servers = []
    for i, name in enumerate(("c1", "c2")):
        block = (f"cluster {{ name: c, listen: 127.0.0.1:{ports[i]}, "
                 f"routes: [nats-route://127.0.0.1:{ports[1 - i]}] }}\n")  # fmt: skip
        config = operator_mode_config(files["operator"], world.sys.pub, "MEMORY",
                                      {world.sys.pub: world.sys.jwt, a.pub: a.jwt}, block)  # fmt: skip
        servers.append(NatsServer(workdir=tmp_path / name, config=config, name=name, binary=nats_server_binary))
    try:
        for server in servers:
            server.start()
        yield Cluster(world, a, servers, files["sys_creds"], a_creds)
    finally:
        for server in servers:
            server.stop()


@pytest.fixture
async def monitor(cluster: Cluster) -> AsyncIterator[Monitor]:
    nc = await open_client(cluster.servers[0].url, cluster.sys_creds, "alerts-cluster")
    mon = Monitor(nc, ping_interval=None, quiet=0.2)
    await mon.start()
    async with asyncio.timeout(30):  # until the route is up only c1 answers
        while len(mon.state.servers) < 2:
            await mon.refresh()
    yield mon
    await mon.stop()
    await nc.close()


async def test_a_node_that_shuts_down_is_gone_and_healthy_nodes_raise_nothing(
    cluster: Cluster, monitor: Monitor
) -> None:
    alerts = Alerts(monitor, AlertSettings(interval=0.5))
    await alerts.check_health()
    assert [(a.rule, a.subject) for a in alerts.evaluate()] == []
    cluster.servers[1].stop()
    await monitor.wait_until(lambda s: any(r.shutdown for r in s.servers.values()), timeout=20)
    (gone,) = alerts.evaluate()
    assert (gone.rule, gone.subject, gone.message) == ("server_gone", "c2", "c2: shut down")


async def _publish_untrusted_update(cluster: Cluster, alerts: Alerts, nc: Client) -> None:
    """Publish a newer JWT of A signed by a key the operator does not trust; wait until alerts saw it."""
    untrusted = encode(cluster.a.claims, create(Role.OPERATOR), now=1_700_000_100)
    await nc.publish(f"$SYS.ACCOUNT.{cluster.a.pub}.CLAIMS.UPDATE", untrusted.encode())
    await flushed(nc)
    async with asyncio.timeout(20):
        while cluster.a.pub not in alerts._changed:
            await flushed(nc)


async def test_a_node_holding_an_older_jwt_is_fleet_stale_until_it_takes_the_update(
    cluster: Cluster, monitor: Monitor
) -> None:
    alerts = Alerts(monitor, AlertSettings(fleet_grace=0))
    await alerts.start()
    clients = [await open_client(s.url, cluster.a_creds, f"a-{s.name}") for s in cluster.servers]  # A loaded on both
    nc = monitor.nc
    assert nc is not None
    try:
        # A newer JWT signed by a key the operator does not trust: published, but no server takes it.
        await _publish_untrusted_update(cluster, alerts, nc)
        await alerts.check_fleet()
        stale = {a.subject: a for a in alerts.evaluate() if a.rule == "fleet_stale"}
        assert set(stale) == {"c1", "c2"}
        assert stale["c1"].value == 1.0 and stale["c1"].message.endswith("account(s): A")
        # The operator's own newer JWT: both nodes apply it, and the alert clears.
        trusted = cluster.world.reissue(cluster.a, iat=1_700_000_200).jwt
        await nc.publish(f"$SYS.ACCOUNT.{cluster.a.pub}.CLAIMS.UPDATE", trusted.encode())
        await flushed(nc)
        async with asyncio.timeout(20):
            while alerts._changed.get(cluster.a.pub, (None, 0))[0] is None or \
                    alerts._changed[cluster.a.pub][0].iat != 1_700_000_200:  # fmt: skip
                await flushed(nc)
        await alerts.check_fleet()
        assert [a for a in alerts.evaluate() if a.rule == "fleet_stale"] == []
    finally:
        for c in clients:
            await c.close()
        await alerts.stop()


async def test_with_accountds_own_version_an_update_nobody_took_is_not_a_stale_fleet(
    cluster: Cluster, monitor: Monitor
) -> None:
    """Inside serve the reference is accountd's store, not whatever a claim update carried."""
    held = Held.of_jwt(cluster.a.jwt)

    async def current(account: str) -> Held | None:
        return held if account == cluster.a.pub else None

    alerts = Alerts(monitor, AlertSettings(fleet_grace=0), current=current)
    await alerts.start()
    clients = [await open_client(s.url, cluster.a_creds, f"a-{s.name}") for s in cluster.servers]
    nc = monitor.nc
    assert nc is not None
    try:
        await _publish_untrusted_update(cluster, alerts, nc)
        await alerts.check_fleet()
        assert [a for a in alerts.evaluate() if a.rule == "fleet_stale"] == []
        assert cluster.a.pub not in alerts._changed  # in step with accountd everywhere: not asked again
    finally:
        for c in clients:
            await c.close()
        await alerts.stop()
