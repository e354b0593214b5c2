"""The HTTP listeners: which class of routes each serves, a header timeout and a connection cap.

aiohttp has no timeout for reading request headers (its keep-alive timer only closes idle
connections after an hour), so :class:`GuardedHandler`, its per-connection protocol, keeps a timer
from the moment a connection opens — and from the first byte of each later request on it — until
that request's headers are complete; a client that has not finished them by then is disconnected.
The timer never closes a connection while a request is being handled (a slow body is the body
timeout's business: 408).

The cap counts a listener's open connections; one more is answered ``503`` and closed at once,
before anything of it is read, while the open ones carry on.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from enum import Enum
from typing import Any

from aiohttp import web
from aiohttp.web_protocol import RequestHandler

__all__ = ["GuardedHandler", "GuardedSite", "Limits", "Routes"]

log = logging.getLogger("accountd.web")


class Routes(Enum):
    """Which routes a listener serves: both classes, or one (``--admin-listen`` splits them)."""

    ALL = "all"
    PUBLIC = "public"
    ADMIN = "admin"


@dataclass
class Limits:
    """One listener's connection cap and header timeout, and what they did."""

    max_connections: int = 1024
    header_timeout: float = 10.0
    open: int = 0
    refused: int = 0
    header_timeouts: int = 0

    def refusal(self) -> bytes:
        body = f"too many open connections (at most {self.max_connections}): try again later\n".encode()
        return (b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain; charset=utf-8\r\n"
                b"Connection: close\r\nRetry-After: 1\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))


class GuardedHandler(RequestHandler):
    """aiohttp's connection protocol, with the cap, the header timer and the listener's role."""

    def __init__(self, manager: web.Server, *, role: Routes, limits: Limits, **kwargs: Any) -> None:
        super().__init__(manager, **kwargs)
        self.role = role
        self.limits = limits
        self._admitted = False
        self._header_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        limits = self.limits
        if limits.open >= limits.max_connections:
            limits.refused += 1
            if isinstance(transport, asyncio.WriteTransport):
                transport.write(limits.refusal())
            transport.close()
            return
        self._admitted = True
        limits.open += 1
        super().connection_made(transport)
        self._arm()

    def connection_lost(self, exc: BaseException | None) -> None:
        if not self._admitted:
            return  # refused: aiohttp never saw this connection
        self._admitted = False
        self.limits.open -= 1
        self._disarm()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if not self._admitted:
            return
        parsed = self._request_count
        super().data_received(data)
        if self._request_count != parsed:
            self._disarm()  # a request's headers are complete
        elif self._header_timer is None and not self._busy():
            self._arm()  # the first bytes of the next request on a kept-alive connection

    def _busy(self) -> bool:
        return self._request_in_progress or bool(self._messages)

    def _arm(self) -> None:
        self._header_timer = self._loop.call_later(self.limits.header_timeout, self._headers_late)

    def _disarm(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _headers_late(self) -> None:
        self._header_timer = None
        if self._busy() or self.transport is None:
            return
        self.limits.header_timeouts += 1
        peer = self.transport.get_extra_info("peername")
        log.info("closing a connection from %s: no complete request headers within %g s",
                 peer[0] if peer else "?", self.limits.header_timeout)
        self.force_close()


class GuardedSite(web.TCPSite):
    """A TCP listener whose connections are :class:`GuardedHandler` s of one :class:`Routes`."""

    def __init__(self, runner: web.BaseRunner, host: str, port: int, *, role: Routes, limits: Limits,
                 **kwargs: Any) -> None:
        super().__init__(runner, host, port, **kwargs)
        self.role = role
        self.limits = limits

    async def start(self) -> None:
        await web.BaseSite.start(self)
        loop = asyncio.get_running_loop()
        server = self._runner.server
        assert server is not None

        def protocol() -> GuardedHandler:
            # As web.Server.__call__ makes its RequestHandler, with the runner's settings.
            return GuardedHandler(server, role=self.role, limits=self.limits, loop=loop, **server._kwargs)

        # A TLS handshake gets the header timeout too (asyncio's default is 60 s).
        handshake = self.limits.header_timeout if self._ssl_context is not None else None
        self._server = await loop.create_server(protocol, self._host, self._port, ssl=self._ssl_context,
                                                backlog=self._backlog, reuse_address=self._reuse_address,
                                                reuse_port=self._reuse_port,
                                                ssl_handshake_timeout=handshake)  # fmt: skip
        sockets = self._server.sockets
        self._bound_port = sockets[0].getsockname()[1] if sockets else self._port

    @property
    def address(self) -> tuple[str, int]:
        sockets = self._server.sockets if isinstance(self._server, asyncio.Server) else ()
        if not sockets:
            return self._host or "0.0.0.0", self._port
        name = sockets[0].getsockname()
        return name[0], name[1]
