"""``flushed``: when it returns, the server has seen every command sent before it.

A loopback relay between nats-py and a real nats-server records what the client wrote, in order.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import nats
import pytest

from accountd.natsclient import flushed
from harness import NatsFactory


class Relay:
    """Pipes one client to ``upstream`` and keeps every byte the client sent."""

    def __init__(self, upstream: tuple[str, int]) -> None:
        self.upstream = upstream
        self.sent = bytearray()
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> str:
        self._server = await asyncio.start_server(self._client, "127.0.0.1", 0)
        host, port = self._server.sockets[0].getsockname()[:2]
        return f"nats://{host}:{port}"

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection(*self.upstream)
        for task in (self._pipe(reader, up_writer, record=True), self._pipe(up_reader, writer, record=False)):
            t = asyncio.create_task(task)
            self._tasks.add(t)

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *, record: bool) -> None:
        with contextlib.suppress(ConnectionError):
            while data := await reader.read(65536):
                if record:
                    self.sent += data
                writer.write(data)
                await writer.drain()
        writer.close()

    async def close(self) -> None:
        for t in self._tasks:
            t.cancel()
        if self._server is not None:
            self._server.close()


@pytest.fixture
async def relay(nats_factory: NatsFactory) -> AsyncIterator[Relay]:
    server = nats_factory("")
    r = Relay(("127.0.0.1", server.port))
    yield r
    await r.close()


async def test_flushed_returns_after_the_server_saw_earlier_commands(relay: Relay) -> None:
    nc = await nats.connect(await relay.start())
    try:
        for i in range(20):
            await nc.subscribe(f"sub.{i}")
            await nc.publish(f"pub.{i}", b"x")
            await flushed(nc)
            sent = bytes(relay.sent)
            last_ping = sent.rfind(b"PING\r\n")
            # The PONG that ended the wait answered this PING, which the server read after both.
            assert sent.find(f"SUB sub.{i} ".encode()) < last_ping
            assert sent.find(f"PUB pub.{i} ".encode()) < last_ping
    finally:
        await nc.close()
