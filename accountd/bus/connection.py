"""The system-account NATS connection: connects in the background and never gives up.

The Go original exits when its connection finally closes; accountd keeps retrying the initial
connect and reconnects forever, and HTTP keeps working meanwhile. A failed attempt is logged as a
warning when its reason changes (a TLS problem says so), not once per retry.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from nats.aio.client import Client

from accountd import tasks
from accountd.natsclient import NatsTLS, TLSDowngrade, describe_error, new_client

__all__ = ["Bus"]

log = logging.getLogger("accountd.bus")


class Bus:
    """Owns one nats-py client.

    ``on_connect`` callbacks run once, after the first connect (subscribe there: nats-py restores
    subscriptions itself); ``on_reconnect`` callbacks run after the first connect and every
    reconnect (flush what queued up meanwhile).
    """

    def __init__(self, servers: list[str], creds: str | None, *, name: str = "accountd",
                 tls: NatsTLS | None = None) -> None:
        self.servers = servers
        self.creds = creds
        self.name = name
        self.tls = tls or NatsTLS()
        self._options = self.tls.connect_options()  # a bad TLS file fails here, at construction
        self._attempt: Client | None = None
        self._last_warning = ""
        self.nc: Client | None = None
        self._on_connect: list[Callable[[Client], Awaitable[None]]] = []
        self._on_reconnect: list[Callable[[Client], Awaitable[None]]] = []
        self._task: asyncio.Task[None] | None = None
        self._ready = asyncio.Event()
        self.connects = 0

    def on_connect(self, callback: Callable[[Client], Awaitable[None]]) -> None:
        self._on_connect.append(callback)

    def on_reconnect(self, callback: Callable[[Client], Awaitable[None]]) -> None:
        self._on_reconnect.append(callback)

    @property
    def connected(self) -> bool:
        return self.nc is not None and self.nc.is_connected

    async def wait_connected(self, timeout: float | None = None) -> bool:
        return await tasks.wait_event(self._ready, timeout) and self.connected

    def start(self) -> None:
        self._task = asyncio.create_task(self._connect_loop(), name="nats-connect")

    async def _connect_loop(self) -> None:
        delay = 0.25
        while True:
            # nats-py retries a failed first connect itself (forever, reconnects being unlimited):
            # each failure reaches _error, which needs the attempt's INFO to say why.
            nc = self._attempt = new_client(self.servers, self.tls)
            try:
                await nc.connect(
                    servers=self.servers,
                    user_credentials=self.creds,
                    name=self.name,
                    no_echo=True,
                    allow_reconnect=True,
                    max_reconnect_attempts=-1,
                    reconnect_time_wait=1,
                    connect_timeout=2,
                    disconnected_cb=self._disconnected,
                    reconnected_cb=self._reconnected,
                    error_cb=self._error,
                    **self._options,
                )
            except Exception as exc:  # nats-py raises several unrelated types here
                log.warning("NATS connect to %s failed: %s; retrying in %.1fs", ",".join(self.servers),
                            describe_error(exc, info=nc._server_info, tls=self.tls), delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
                continue
            self.nc = nc
            self._last_warning = ""
            log.info("connected to NATS at %s", self.nc.connected_url.netloc if self.nc.connected_url else "?")
            await self._run_callbacks(first=True)
            return

    async def _run_callbacks(self, *, first: bool) -> None:
        assert self.nc is not None
        self.connects += 1
        for callback in (self._on_connect + self._on_reconnect) if first else self._on_reconnect:
            try:
                await callback(self.nc)
            except Exception:
                log.exception("NATS on-connect callback failed")
        self._ready.set()

    async def _disconnected(self) -> None:
        log.warning("disconnected from NATS; reconnecting")

    async def _reconnected(self) -> None:
        self._last_warning = ""
        log.info("reconnected to NATS")
        await self._run_callbacks(first=False)

    async def _error(self, exc: Exception) -> None:
        nc = self.nc or self._attempt
        text = describe_error(exc, info=nc._server_info if nc is not None else None, tls=self.tls)
        # Still connecting, or a reconnect refused for talking plain text: say why, once per reason.
        if (self.nc is None or isinstance(exc, TLSDowngrade)) and text != self._last_warning:
            self._last_warning = text
            log.warning("NATS connect to %s failed: %s; retrying", ",".join(self.servers), text)
        else:
            log.debug("NATS error: %s", text)

    async def close(self) -> None:
        await tasks.stop(self._task)  # a connect still retrying must not connect after the close
        if self.nc is not None and not self.nc.is_closed:
            try:
                await self.nc.drain()
            except Exception as exc:
                log.debug("NATS drain failed: %s", exc)
                try:
                    await self.nc.close()
                except Exception as close_exc:  # nats-py writes its buffer to a TLS transport already gone
                    log.debug("NATS close failed: %s", close_exc)
