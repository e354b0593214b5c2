"""A two-node cluster on loopback: discovery finds both servers, counts add up across them."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator

import pytest
from click.testing import CliRunner

from accountd.cli import main
from accountd.monitor import Monitor
from accountd.natsserver import NatsServer, free_port
from harness import VectorSet

from .support import connections, memory_config, open_client, vector_keys


@pytest.fixture(scope="module")
def cluster(
    basic: VectorSet, nats_server_binary: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[list[NatsServer]]:
    ports = [free_port(), free_port()]
    servers = []
    for i, name in enumerate(("c1", "c2")):
        block = (f"cluster {{ name: c, listen: 127.0.0.1:{ports[i]}, "
                 f"routes: [nats-route://127.0.0.1:{ports[1 - i]}] }}\n")  # fmt: skip
        servers.append(NatsServer(workdir=tmp_path_factory.mktemp(name), config=memory_config(basic, block),
                                  name=name, binary=nats_server_binary))  # fmt: skip
    try:
        for server in servers:
            server.start()
        asyncio.run(_wait_for_route(servers[0], basic))
        yield servers
    finally:
        for server in servers:
            server.stop()


async def _wait_for_route(server: NatsServer, basic: VectorSet) -> None:
    """Until the route is up only c1 answers; ask again until both do."""
    nc = await open_client(server.url, basic.file("sys.creds"), "route-check")
    monitor = Monitor(nc, ping_interval=None, quiet=0.2)
    try:
        async with asyncio.timeout(30):
            while len(monitor.state.servers) < 2:
                await monitor.refresh()
    finally:
        await nc.close()


def test_servers_lists_both_nodes(cluster: list[NatsServer], basic: VectorSet) -> None:
    result = CliRunner().invoke(main, ["servers", "--json", "--nats", cluster[1].url,
                                       "--creds", str(basic.file("sys.creds"))])  # fmt: skip
    assert result.exit_code == 0, result.output
    servers = json.loads(result.stdout)["servers"]
    assert [(s["name"], s["cluster"], s["status"]) for s in servers] == [("c1", "c", "up"), ("c2", "c", "up")]
    table = CliRunner().invoke(main, ["servers", "--nats", cluster[0].url, "--creds", str(basic.file("sys.creds"))])
    assert [line.split()[:2] for line in table.stdout.splitlines()[2:]] == [["c1", "c"], ["c2", "c"]]


async def test_account_counts_add_up_across_the_cluster(cluster: list[NatsServer], basic: VectorSet) -> None:
    _, a_pub = vector_keys(basic)
    nc = await open_client(cluster[0].url, basic.file("sys.creds"), "cluster-monitor")
    monitor = Monitor(nc, ping_interval=None)
    await monitor.start()
    on_c1 = await open_client(cluster[0].url, basic.file("U.creds"), "on-c1")
    on_c2 = await open_client(cluster[1].url, basic.file("U.creds"), "on-c2")
    try:
        await monitor.wait_until(lambda s: connections(s, a_pub) == 2)
        row = next(a for a in monitor.state.accounts_view() if a["account"] == a_pub)
        assert row["servers"] == {"c1": 1, "c2": 1}
        await on_c2.close()
        await monitor.wait_until(lambda s: connections(s, a_pub) == 1)
        servers = {e["client"]["name"]: e["server"] for e in monitor.state.events_view(kinds=["connect"])}
        assert servers == {"on-c1": "c1", "on-c2": "c2"}
    finally:
        await on_c1.close()
        await on_c2.close()
        await monitor.stop()
        await nc.close()
