"""serve over TLS to a nats-server that verifies client certificates (``tls { verify: true }``):
claim updates are published and ``$SYS.REQ`` is answered over TLS; without a client certificate
accountd logs why and keeps trying, and HTTP keeps working."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from pathlib import Path

import nats
import pytest
from nats.aio.client import Client
from nats.aio.msg import Msg

from accountd.bus.connection import Bus
from accountd.natsclient import connect, flushed
from accountd.natsserver import NatsServer
from harness import NatsFactory, operator_mode_config
from serving import StartServer
from tlsfiles import TLSFiles, tls_url
from world import World


class _Records(logging.Handler):
    """Keeps the records whose message contains ``text``; ``arrived`` is set at the first."""

    def __init__(self, text: str) -> None:
        super().__init__(logging.DEBUG)
        self.text = text
        self.records: list[logging.LogRecord] = []
        self.arrived = asyncio.Event()

    def emit(self, record: logging.LogRecord) -> None:
        if self.text in record.getMessage():
            self.records.append(record)
            self.arrived.set()


@pytest.fixture
async def sys_client(tls_server: NatsServer, world_files: dict[str, Path], tls: TLSFiles) -> AsyncIterator[Client]:
    nc = await connect([tls_url(tls_server)], tls=tls.client(), timeout=10,
                       user_credentials=str(world_files["sys_creds"]),
                       allow_reconnect=False, max_reconnect_attempts=1)
    yield nc
    await nc.close()


async def test_serve_publishes_and_answers_sys_requests_over_tls(
    start_server: StartServer, tls_server: NatsServer, world_files: dict[str, Path], tls: TLSFiles, sys_client: Client
) -> None:
    api = await start_server(nats=[tls_url(tls_server)], creds=str(world_files["sys_creds"]), **tls.settings())
    assert api.server.bus is not None and await api.server.bus.wait_connected(10)
    assert api.server.bus.nc is not None and api.server.bus.nc._server_info["tls_required"]
    updates: asyncio.Queue[Msg] = asyncio.Queue()
    await sys_client.subscribe("$SYS.ACCOUNT.*.CLAIMS.UPDATE", cb=updates.put)
    await flushed(sys_client)

    a = api.world.account("A")
    assert (await api.post(a.pub, a.jwt)).status == 200
    msg = await asyncio.wait_for(updates.get(), 10)
    assert (msg.subject, msg.data.decode()) == (f"$SYS.ACCOUNT.{a.pub}.CLAIMS.UPDATE", a.jwt)

    reply = await sys_client.request(f"$SYS.REQ.ACCOUNT.{a.pub}.CLAIMS.LOOKUP", b"", timeout=5)
    assert reply.data.decode() == a.jwt
    b = api.world.account("B")
    reply = await sys_client.request("$SYS.REQ.CLAIMS.UPDATE", b.jwt.encode(), timeout=5)
    assert b'"jwt updated"' in reply.data


async def test_serve_without_a_client_certificate_logs_why_and_keeps_serving_http(
    start_server: StartServer, tls_server: NatsServer, world_files: dict[str, Path], tls: TLSFiles,
) -> None:
    seen = _Records("client certificate")
    logger = logging.getLogger("accountd.bus")
    logger.addHandler(seen)
    try:
        api = await start_server(nats=[tls_url(tls_server)], creds=str(world_files["sys_creds"]),
                                 nats_tls_ca=str(tls.ca))
        await asyncio.wait_for(seen.arrived.wait(), 15)
    finally:
        logger.removeHandler(seen)
    assert api.server.bus is not None and not api.server.bus.connected
    record = seen.records[0]
    assert record.levelno == logging.WARNING and record.exc_info is None
    assert "\n" not in record.getMessage()
    async with api.http.get(f"{api.url}/healthz") as r:
        assert r.status == 200
    a = api.world.account("A")
    assert (await api.post(a.pub, a.jwt)).status == 200  # queued in the outbox until NATS is reachable


async def test_a_reconnect_to_a_server_without_tls_is_refused_before_connect(
    nats_factory: NatsFactory, world: World, world_files: dict[str, Path], tls_server: NatsServer, tls: TLSFiles
) -> None:
    """The TLS server is replaced on its port by a plain one: accountd never talks plain text to it
    (nats-py alone would reconnect without TLS), and takes the TLS server again when it is back."""
    back = asyncio.Event()
    bus = Bus([tls_url(tls_server)], str(world_files["sys_creds"]), tls=tls.client())

    async def reconnected(_: Client) -> None:
        if bus.connects > 1:
            back.set()

    bus.on_reconnect(reconnected)
    refused = _Records("does not require TLS")
    logger = logging.getLogger("accountd.bus")
    logger.addHandler(refused)
    bus.start()
    try:
        assert await bus.wait_connected(10)
        port = tls_server.port
        tls_server.stop()
        plain = nats_factory(operator_mode_config(world_files["operator"], world.sys.pub, "MEMORY",
                                                  {world.sys.pub: world.sys.jwt}), name="plain", port=port)
        await asyncio.wait_for(refused.arrived.wait(), 20)
        assert not bus.connected
        assert refused.records[0].levelno == logging.WARNING
        watcher = await nats.connect(plain.url, user_credentials=str(world_files["sys_creds"]), name="watcher")
        try:
            reply = await watcher.request("$SYS.REQ.SERVER.PING.CONNZ", b"{}", timeout=5)
        finally:
            await watcher.close()
        names = [c.get("name", "") for c in json.loads(reply.data)["data"]["connections"]]
        assert "accountd" not in names and "watcher" in names
        plain.stop()
        tls_server.start()
        await asyncio.wait_for(back.wait(), 20)
        assert bus.connected and bus.nc is not None and bus.nc._server_info["tls_required"]
    finally:
        logger.removeHandler(refused)
        await bus.close()
