"""A real nats-server in operator mode with a system account, started once per test module."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from accountd.monitor import Monitor, add_monitor_routes
from accountd.natsserver import NatsServer
from harness import VectorSet

from .support import memory_config, names, open_client


@pytest.fixture(scope="module")
def op_server(
    basic: VectorSet, nats_server_binary: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[NatsServer]:
    server = NatsServer(workdir=tmp_path_factory.mktemp("nats"), config=memory_config(basic), name="n1",
                        binary=nats_server_binary)  # fmt: skip
    server.start()
    yield server
    server.stop()


@pytest.fixture
async def monitor(op_server: NatsServer, basic: VectorSet) -> AsyncIterator[Monitor]:
    """A started monitor on its own system-account connection, knowing the names SYS and A."""
    nc = await open_client(op_server.url, basic.file("sys.creds"), "monitor")
    mon = Monitor(nc, account_name=names(basic).get, ping_interval=None)
    await mon.start()
    # Known from any event first; its STATSZ (connections, …) may come a moment later.
    await mon.wait_until(lambda s: bool(s.servers) and all(v.get("connections") is not None
                                                          for v in s.servers_view()), timeout=10)
    yield mon
    await mon.stop()
    await nc.close()


@pytest.fixture
async def client(monitor: Monitor) -> AsyncIterator[TestClient[web.Request, web.Application]]:
    """An HTTP client of the monitor's routes (``add_monitor_routes``) over ``monitor``."""
    app = web.Application()
    add_monitor_routes(app, monitor)
    async with TestClient(TestServer(app)) as c:
        yield c
