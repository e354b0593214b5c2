"""Certificates made by the test (``trustme``) and the nats-server ``tls {}`` block that uses them.

One CA signs the server's certificate (for ``127.0.0.1`` and ``localhost``) and a client's; a second
CA signs nothing the server knows, to show what an untrusted certificate looks like. Loaded by
tests/conftest.py as a plugin: the ``tls`` fixture gives a test its own set.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
import trustme

from accountd.natsclient import NatsTLS
from accountd.natsserver import NatsServer
from harness import NatsFactory, operator_mode_config
from world import World

__all__ = ["TLSFiles", "make_tls", "tls_url"]


@dataclass(frozen=True)
class TLSFiles:
    directory: Path

    @property
    def ca(self) -> Path:
        return self.directory / "ca.pem"

    @property
    def other_ca(self) -> Path:
        return self.directory / "other-ca.pem"

    @property
    def server_cert(self) -> Path:
        return self.directory / "server.pem"

    @property
    def server_key(self) -> Path:
        return self.directory / "server-key.pem"

    @property
    def client_cert(self) -> Path:
        return self.directory / "client.pem"

    @property
    def client_key(self) -> Path:
        return self.directory / "client-key.pem"

    @property
    def stranger_cert(self) -> Path:
        """A client certificate signed by the other CA."""
        return self.directory / "stranger.pem"

    @property
    def stranger_key(self) -> Path:
        return self.directory / "stranger-key.pem"

    def server_block(self, *, verify: bool = True) -> str:
        """nats-server's ``tls {}``: TLS required, client certificates verified against the CA."""
        return (f'tls {{ cert_file: "{self.server_cert}", key_file: "{self.server_key}", '
                f'ca_file: "{self.ca}", verify: {str(verify).lower()}, timeout: 5 }}\n')

    def client(self) -> NatsTLS:
        return NatsTLS(str(self.ca), str(self.client_cert), str(self.client_key))

    def settings(self) -> dict[str, str]:
        """``Settings`` keyword arguments for serve."""
        return {"nats_tls_ca": str(self.ca), "nats_tls_cert": str(self.client_cert),
                "nats_tls_key": str(self.client_key)}

    def cli_args(self) -> list[str]:
        return ["--nats-tls-ca", str(self.ca), "--nats-tls-cert", str(self.client_cert),
                "--nats-tls-key", str(self.client_key)]


@pytest.fixture
def tls(tmp_path: Path) -> TLSFiles:
    return make_tls(tmp_path / "tls")


@pytest.fixture
def world_files(tmp_path: Path, world: World) -> dict[str, Path]:
    """The test's world (operator, system account, their creds) written under ``tmp_path/world``."""
    return world.write(tmp_path / "world")


@pytest.fixture
def tls_server(nats_factory: NatsFactory, world: World, world_files: dict[str, Path], tls: TLSFiles) -> NatsServer:
    """A nats-server in operator mode (memory resolver with the system account) that requires TLS
    and verifies client certificates against the ``tls`` CA."""
    return nats_factory(operator_mode_config(world_files["operator"], world.sys.pub, "MEMORY",
                                             {world.sys.pub: world.sys.jwt}, tls.server_block()))


def make_tls(directory: Path) -> TLSFiles:
    directory.mkdir(parents=True, exist_ok=True)
    files = TLSFiles(directory)
    ca, other = trustme.CA(), trustme.CA()
    ca.cert_pem.write_to_path(files.ca)
    other.cert_pem.write_to_path(files.other_ca)
    for cert_path, key_path, leaf in (
        (files.server_cert, files.server_key, ca.issue_cert("127.0.0.1", "localhost")),
        (files.client_cert, files.client_key, ca.issue_cert("client")),
        (files.stranger_cert, files.stranger_key, other.issue_cert("stranger")),
    ):
        leaf.cert_chain_pems[0].write_to_path(cert_path)
        leaf.private_key_pem.write_to_path(key_path)
    return files


def tls_url(server: NatsServer) -> str:
    return f"tls://{server.host}:{server.port}"
