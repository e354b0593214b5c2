"""Limits against usage on a real nats-server (2.15, JetStream on): an account pushed with ``conn=3``
holding 3 connections is at 100 %, and JetStream use of an account with a stream is measured; on the
2-node cluster, connections on both servers add up against the limit."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import nats
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from prometheus_client import generate_latest

from accountd.claims.models import AccountLimits
from accountd.monitor import Monitor, add_monitor_routes
from accountd.monitor.usage import LimitUsage, compute_limit_usage
from accountd.natsserver import NatsServer
from harness import VectorSet, operator_mode_config
from world import Account, World

from .support import names, open_client, vector_keys
from .test_cluster import cluster  # noqa: F401 - the 2-node cluster fixture

MiB = 1 << 20


@dataclass
class JsWorld:
    world: World
    server: NatsServer
    capped: Account  # conn=3
    js: Account  # JetStream: 1 MiB memory, 2 streams, 4 consumers
    files: dict[str, Path]
    creds: dict[str, Path]

    def limits_of(self, account: str) -> AccountLimits | None:
        known = {a.pub: a.claims.nats.limits for a in (self.world.sys, self.capped, self.js)}
        return known.get(account)


@pytest.fixture(scope="module")
def jsworld(nats_server_binary: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[JsWorld]:
    tmp = tmp_path_factory.mktemp("usage")
    world = World()
    files = world.write(tmp / "files")
    capped = world.account("capped", conn=3)
    js = world.account("js", mem_storage=MiB, disk_storage=MiB, streams=2, consumer=4)
    preload = {a.pub: a.jwt for a in (world.sys, capped, js)}
    extra = f'jetstream {{ store_dir: "{tmp / "js"}", max_memory_store: 64MB, max_file_store: 64MB }}\n'
    config = operator_mode_config(files["operator"], world.sys.pub, "MEMORY", preload, extra)
    creds = {}
    for account in (capped, js):
        creds[account.name] = tmp / f"{account.name}.creds"
        world.user_creds(account, "u", creds[account.name])
    server = NatsServer(workdir=tmp / "n1", config=config, name="n1", binary=nats_server_binary)
    server.start()
    yield JsWorld(world, server, capped, js, files, creds)
    server.stop()


@pytest.fixture
async def monitor(jsworld: JsWorld) -> AsyncIterator[Monitor]:
    nc = await open_client(jsworld.server.url, jsworld.files["sys_creds"], "usage-monitor")
    mon = Monitor(nc, account_limits=jsworld.limits_of, ping_interval=None)
    await mon.start()
    await mon.wait_until(lambda s: bool(s.servers))
    yield mon
    await mon.stop()
    await nc.close()


def usage_of(usage: list[LimitUsage], account: str, limit: str) -> LimitUsage | None:
    return next((u for u in usage if u.account == account and u.limit == limit), None)


async def test_three_connections_of_conn_3_are_at_100_percent(jsworld: JsWorld, monitor: Monitor) -> None:
    pub = jsworld.capped.pub
    clients = [await open_client(jsworld.server.url, jsworld.creds["capped"], f"capped-{i}") for i in range(3)]
    try:
        await monitor.wait_until(lambda s: s.account_view(pub)["connections"] == 3)
        usage = usage_of(monitor.limit_usage(), pub, "conn")
        assert usage == LimitUsage(pub, "capped", "conn", 3.0, 3.0, 1.0)
        text = generate_latest(monitor.registry).decode()
        assert f'nats_account_limit_usage_ratio{{account="{pub}",limit="conn",name="capped"}} 1.0' in text
        app = web.Application()
        add_monitor_routes(app, monitor)
        async with TestClient(TestServer(app)) as http:
            doc = await (await http.get("/-/monitor/limits", params={"account": "capped"})).json()
            one = await (await http.get("/-/monitor/limits", params={"account": pub})).json()
        assert doc["warn_ratio"] == 0.8
        assert doc["limits"] == [usage.to_dict()]
        assert one["limits"] == [usage.to_dict()] and one["jetstream"] == {}
    finally:
        for nc in clients:
            await nc.close()
    await monitor.wait_until(lambda s: s.account_view(pub)["connections"] == 0)
    assert usage_of(monitor.limit_usage(), pub, "conn") == LimitUsage(pub, "capped", "conn", 0.0, 3.0, 0.0)


async def test_jetstream_use_of_an_account_with_a_stream(jsworld: JsWorld, monitor: Monitor) -> None:
    pub = jsworld.js.pub
    nc = await nats.connect(jsworld.server.url, user_credentials=str(jsworld.creds["js"]), name="js-app")
    try:
        js = nc.jetstream()
        await js.add_stream(name="ORDERS", subjects=["orders.>"], storage="memory")
        await js.publish("orders.1", b"x" * 1000)
        await js.add_consumer("ORDERS", durable_name="shipper")
        await monitor.refresh()
    finally:
        await nc.close()
    usage = {u.limit: u for u in monitor.limit_usage() if u.account == pub}
    assert set(usage) == {"mem_storage", "disk_storage", "streams", "consumer"}  # conn/leaf/subs are -1
    assert (usage["streams"].used, usage["streams"].maximum, usage["streams"].ratio) == (1.0, 2.0, 0.5)
    assert (usage["consumer"].used, usage["consumer"].ratio) == (1.0, 0.25)
    assert 1000 < usage["mem_storage"].used < MiB and usage["mem_storage"].maximum == MiB
    assert usage["disk_storage"].used == 0.0
    assert monitor.jetstream[pub].streams == 1


def test_unlimited_and_unknown_limits_are_skipped() -> None:
    rows = [{"account": "AX", "name": "x", "connections": 5, "leafnodes": 0, "subscriptions": 7},
            {"account": "AY", "name": "y", "connections": 1, "leafnodes": 0, "subscriptions": None}]  # fmt: skip
    limits = {"AX": AccountLimits(subs=10)}  # conn and leaf -1, JetStream 0

    def boom(account: str) -> AccountLimits | None:
        raise RuntimeError("store down")

    assert compute_limit_usage(rows, limits.get, {}) == [LimitUsage("AX", "x", "subs", 7.0, 10.0, 0.7)]
    assert compute_limit_usage(rows, boom, {}) == []


async def test_connections_add_up_over_the_cluster_against_the_limit(
    cluster: list[NatsServer], basic: VectorSet  # noqa: F811
) -> None:
    _, a_pub = vector_keys(basic)
    limits = {a_pub: AccountLimits(conn=2, subs=1000)}
    nc = await open_client(cluster[0].url, basic.file("sys.creds"), "usage-cluster")
    monitor = Monitor(nc, account_name=names(basic).get, account_limits=limits.get, ping_interval=None)
    await monitor.start()
    on_c1 = await open_client(cluster[0].url, basic.file("U.creds"), "limit-c1")
    on_c2 = await open_client(cluster[1].url, basic.file("U.creds"), "limit-c2")
    try:
        await monitor.wait_until(lambda s: s.account_view(a_pub)["connections"] == 2)
        usage = usage_of(monitor.limit_usage(), a_pub, "conn")
    finally:
        await on_c1.close()
        await on_c2.close()
        await monitor.stop()
        await nc.close()
    assert usage == LimitUsage(a_pub, "A", "conn", 2.0, 2.0, 1.0)  # one on each server
