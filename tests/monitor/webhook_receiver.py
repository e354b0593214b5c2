"""A webhook receiver for the alert tests: a real aiohttp server on a free loopback port."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp import web


@dataclass
class Receiver:
    """A webhook receiver on a free port: keeps every body it is POSTed."""

    url: str = ""
    bodies: list[dict[str, Any]] = field(default_factory=list)
    changed: asyncio.Condition = field(default_factory=asyncio.Condition)
    refuse: int = 0  # answer 503 to this many requests first

    async def handle(self, request: web.Request) -> web.Response:
        if self.refuse:
            self.refuse -= 1
            return web.Response(status=503)
        self.bodies.append(await request.json())
        async with self.changed:
            self.changed.notify_all()
        return web.Response(status=204)

    def of(self, rule: str, subject: str) -> list[str]:
        return [b["status"] for b in self.bodies if (b["alert"]["rule"], b["alert"]["subject"]) == (rule, subject)]

    async def wait_for(self, rule: str, subject: str, statuses: list[str], timeout: float = 20) -> None:
        async with self.changed:
            await asyncio.wait_for(self.changed.wait_for(lambda: self.of(rule, subject) == statuses), timeout)


@pytest.fixture(name="receiver")
async def receiver_fixture() -> AsyncIterator[Receiver]:
    rec = Receiver()
    app = web.Application()
    app.router.add_post("/hook", rec.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    rec.url = f"http://127.0.0.1:{port}/hook"
    yield rec
    await runner.cleanup()
