"""The resolver library and daemon over TLS to a nats-server with ``verify: true``."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from accountd.claims import AccountClaims, Trust
from accountd.cli import main
from accountd.natsserver import NatsServer
from accountd.resolver import FleetDaemon, Resolver
from serving import StartServer
from tlsfiles import TLSFiles, tls_url
from world import World

from .helpers import full_resolver, nats_server


@pytest.fixture
def server(tmp_path: Path, world: World, world_files: dict[str, Path], tls: TLSFiles) -> Iterator[NatsServer]:
    server = nats_server(tmp_path / "n1", world_files, world.sys, full_resolver(tmp_path / "jwt"),
                         extra=tls.server_block())
    yield server.start()
    server.stop()


async def test_the_resolver_follows_and_looks_up_over_tls(
    start_server: StartServer, server: NatsServer, world_files: dict[str, Path], tls: TLSFiles, world: World
) -> None:
    api = await start_server(nats=[tls_url(server)], creds=str(world_files["sys_creds"]), **tls.settings())
    assert api.server.bus is not None and await api.server.bus.wait_connected(10)
    a = world.account("A", iat=int(time.time()) - 10)
    await api.server.service.put(a.jwt.encode())
    updated: asyncio.Queue[AccountClaims] = asyncio.Queue()
    async with Resolver(world.operator_jwt, nats=[tls_url(server)], creds=str(world_files["sys_creds"]),
                        tls=tls.client()) as resolver:
        assert await resolver.wait_live(10)
        assert (await resolver.get(a.pub)).sub == a.pub  # LOOKUP over TLS, answered by accountd
        resolver.on_update(lambda old, new, diff: updated.put_nowait(new))
        newer = world.reissue(a, conn=3)
        await api.server.service.put(newer.jwt.encode())  # published over TLS, followed over TLS
        claims = await asyncio.wait_for(updated.get(), 10)
        assert claims.nats.limits.conn == 3


async def test_the_daemon_surveys_the_fleet_over_tls(
    start_server: StartServer, server: NatsServer, world_files: dict[str, Path], tls: TLSFiles, world: World
) -> None:
    api = await start_server(nats=[tls_url(server)], creds=str(world_files["sys_creds"]), **tls.settings())
    assert api.server.bus is not None and await api.server.bus.wait_connected(10)
    a = world.account("A", iat=int(time.time()) - 10)
    await api.server.service.put(a.jwt.encode())
    daemon = FleetDaemon(Trust.from_jwts(world.operator_jwt), url=api.url, nats=[tls_url(server)],
                         creds=str(world_files["sys_creds"]), tls=tls.client(), interval=3600)
    await daemon.start()
    try:
        await daemon.wait_for(lambda d: d.report is not None, timeout=20)
    finally:
        await daemon.close()
    assert daemon.report is not None and daemon.last_error == ""
    assert [s.name for s in daemon.report.servers] == ["n1"]
    assert daemon.report.compared == 1 and daemon.report.summary["current"] == 1, daemon.report.summary


def test_the_resolver_command_takes_the_tls_options(world_files: dict[str, Path], tls: TLSFiles) -> None:
    result = CliRunner().invoke(main, ["resolver", "--operator", str(world_files["operator"]), "--nats", "tls://x:4222",
                                       "--nats-tls-cert", str(tls.client_cert)])
    assert result.exit_code == 2 and "--nats-tls-cert and --nats-tls-key go together" in result.stderr
