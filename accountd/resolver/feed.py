"""The NATS side of the resolver: the claim-update subscriptions, and notice of every (re)connect.

The connection is either the caller's nats-py client (the feed only subscribes on it, and notices
reconnects by polling ``nc.stats["reconnects"]``: nats-py has no way to add a reconnect callback
to a client that exists) or one it owns through :class:`~accountd.bus.Bus`, which connects in the
background and reconnects forever. nats-py restores the subscriptions after a reconnect by itself.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Sequence

from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription

from accountd import tasks
from accountd.bus.connection import Bus
from accountd.bus.subjects import CLAIMS_UPDATE_ALL, CLAIMS_UPDATE_REQ_ALL
from accountd.natsclient import NatsTLS, flushed

__all__ = ["UPDATE_SUBJECTS", "UpdateFeed"]

UPDATE_SUBJECTS = (CLAIMS_UPDATE_ALL, CLAIMS_UPDATE_REQ_ALL)


class UpdateFeed:
    """Calls ``on_message(msg)`` for every claim update and ``on_connected()`` after the first
    connect and after every reconnect (when updates may have been missed)."""

    def __init__(
        self,
        nats: Client | str | Sequence[str],
        on_message: Callable[[Msg], Awaitable[None]],
        on_connected: Callable[[], None],
        *,
        creds: str | None = None,
        tls: NatsTLS | None = None,
        name: str = "accountd-resolver",
        reconnect_poll: float = 0.5,
    ) -> None:
        self.on_message = on_message
        self.on_connected = on_connected
        self.reconnect_poll = reconnect_poll
        self.connects = 0
        self._bus: Bus | None = None
        self._nc: Client | None = None
        if isinstance(nats, Client):
            self._nc = nats
        else:
            servers = [nats] if isinstance(nats, str) else list(nats)
            self._bus = Bus([u for s in servers for u in s.split(",") if u], creds, name=name, tls=tls)
        self._subs: list[Subscription] = []
        self._watch: asyncio.Task[None] | None = None

    def nc(self) -> Client | None:
        """The connection in use (``None`` before an owned connection first connects)."""
        return self._bus.nc if self._bus is not None else self._nc

    @property
    def live(self) -> bool:
        nc = self.nc()
        return bool(self._subs) and nc is not None and nc.is_connected

    async def start(self) -> None:
        if self._bus is not None:
            self._bus.on_connect(self._subscribe)
            self._bus.on_reconnect(self._connected)
            self._bus.start()
        elif self._nc is not None:
            await self._subscribe(self._nc)
            await self._connected(self._nc)
            self._watch = asyncio.create_task(self._watch_reconnects(self._nc), name="resolver-reconnects")

    async def wait_live(self, timeout: float) -> bool:
        if self._bus is not None and not await self._bus.wait_connected(timeout):
            return False
        return self.live

    async def close(self) -> None:
        await tasks.stop(self._watch)
        if self._bus is not None:
            await self._bus.close()
        else:
            for sub in self._subs:
                with contextlib.suppress(Exception):
                    await sub.unsubscribe()
        self._subs.clear()

    async def _subscribe(self, nc: Client) -> None:
        for subject in UPDATE_SUBJECTS:
            self._subs.append(await nc.subscribe(subject, cb=self.on_message))
        await flushed(nc)

    async def _connected(self, nc: Client) -> None:
        self.connects += 1
        self.on_connected()

    async def _watch_reconnects(self, nc: Client) -> None:
        seen = nc.stats.get("reconnects", 0)
        while True:
            await asyncio.sleep(self.reconnect_poll)
            now = nc.stats.get("reconnects", 0)
            if now != seen and nc.is_connected:
                seen = now
                await self._connected(nc)
