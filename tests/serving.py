"""An in-process ``accountd serve`` on a real loopback socket, and its HTTP client."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import aiohttp

from accountd.server import Server
from world import World


@dataclass
class Running:
    server: Server
    url: str
    http: aiohttp.ClientSession
    world: World

    def account_url(self, pub: str) -> str:
        return f"{self.url}/jwt/v1/accounts/{pub}"

    async def post(self, pub: str, body: str | bytes, **kw: Any) -> aiohttp.ClientResponse:
        async with self.http.post(self.account_url(pub), data=body, **kw) as r:
            await r.read()
            return r


StartServer = Callable[..., Awaitable[Running]]
