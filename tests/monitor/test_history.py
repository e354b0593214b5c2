"""History: per-server stats and per-account connections grow with every sample and stay within their
rings, from a real nats-server (2.15 alone and the 2-node cluster); ``GET /-/monitor/history``."""

from __future__ import annotations

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from accountd.monitor import Monitor, add_monitor_routes
from accountd.monitor.history import SERVER_SERIES, History
from accountd.natsserver import NatsServer
from harness import VectorSet

from .support import names, open_client, vector_keys
from .test_cluster import cluster  # noqa: F401 - the 2-node cluster fixture


class Clock:
    """Unix seconds that move only when told (one ping interval per round)."""

    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


def on_fake_time(monitor: Monitor, minutes: int = 1, max_accounts: int = 1000) -> Clock:
    clock = Clock()
    monitor.state.clock = clock
    monitor.history = History(minutes, step=10.0, max_accounts=max_accounts, clock=clock)
    return clock


def test_a_ring_keeps_one_sample_a_step_and_at_most_its_capacity() -> None:
    clock = Clock()
    history = History(5, step=10.0, max_accounts=10, clock=clock)
    assert history.capacity == 31
    for i in range(10_000):
        clock.now += 2.5  # four samples a step: the newest of each step is kept
        history.add_server("N1", "n1", {"connections": i, "in_msgs": None})
        history.add_account(f"A{i % 40:02d}", "", {"connections": i})
    ring = history.servers["N1"].series["connections"]
    assert len(ring) == history.capacity
    assert ring.samples[-1] == (clock.now, 9999.0)
    assert [v for _, v in ring.samples][-3:] == [9994.0, 9998.0, 9999.0]  # the last step has just begun
    assert len(history.servers["N1"].series["in_msgs"]) == 0  # no rate yet: nothing recorded
    assert len(history.accounts) == 10  # the bound on accounts: the ten updated last
    assert set(history.accounts) == {f"A{i:02d}" for i in range(30, 40)}
    doc = history.view(server="n1", minutes=1)
    assert doc["accounts"] == {} and len(doc["servers"]["N1"]["series"]["connections"]) == 7  # the last minute
    history.forget_servers([])
    assert history.servers == {}


async def test_history_of_one_server_grows_and_stays_bounded(monitor: Monitor, op_server: NatsServer,
                                                           basic: VectorSet) -> None:  # fmt: skip
    _, a_pub = vector_keys(basic)
    clock = on_fake_time(monitor)
    capacity = monitor.history.capacity
    client = await open_client(op_server.url, basic.file("U.creds"), "history-client")
    try:
        lengths = []
        for _ in range(capacity + 5):
            clock.now += 10
            await monitor.refresh()
            (server,) = monitor.history.servers.values()
            lengths.append(len(server.series["connections"]))
        account = monitor.history.accounts[a_pub]
        app = web.Application()
        add_monitor_routes(app, monitor)
        async with TestClient(TestServer(app)) as http:
            doc = await (await http.get("/-/monitor/history", params={"account": "A"})).json()
            everything = await (await http.get("/-/monitor/history")).json()
            bad = await http.get("/-/monitor/history", params={"minutes": "soon"})
    finally:
        await client.close()
    assert lengths == [*range(1, capacity + 1), *[capacity] * 5]  # grows, then stays at the ring's size
    assert len(account.series["connections"]) == capacity
    assert [v for _, v in account.series["connections"].samples][-1] == 1.0
    assert doc["servers"] == {} and list(doc["accounts"]) == [a_pub]
    assert doc["accounts"][a_pub]["name"] == "A"
    assert doc["accounts"][a_pub]["series"]["connections"][-1] == [clock.now, 1.0]
    (only,) = everything["servers"].values()
    assert only["name"] == "n1" and set(only["series"]) == set(SERVER_SERIES)
    assert len(only["series"]["connections"]) == capacity and only["series"]["connections"][-1][1] >= 2
    assert all(v >= 0 for _, v in only["series"]["in_msgs"])  # per second, between two stats samples
    assert (everything["minutes"], everything["step"], everything["capacity"]) == (1, 10.0, capacity)
    assert bad.status == 400


async def test_history_of_a_cluster_has_both_servers(cluster: list[NatsServer], basic: VectorSet) -> None:  # noqa: F811
    nc = await open_client(cluster[0].url, basic.file("sys.creds"), "history-cluster")
    monitor = Monitor(nc, account_name=names(basic).get, ping_interval=None, history_accounts=1)
    clock = on_fake_time(monitor, max_accounts=1)
    _, a_pub = vector_keys(basic)
    on_c2 = await open_client(cluster[1].url, basic.file("U.creds"), "history-c2")
    try:
        for _ in range(3):
            clock.now += 10
            await monitor.refresh()
            await monitor.wait_until(lambda s: s.account_view(a_pub)["connections"] == 1)
    finally:
        await on_c2.close()
        await nc.close()
    view = monitor.history.view()
    assert sorted(s["name"] for s in view["servers"].values()) == ["c1", "c2"]
    for server in view["servers"].values():
        assert len(server["series"]["connections"]) == 3
    assert len(view["accounts"]) == 1  # the bound: SYS and A both have clients, one is tracked
