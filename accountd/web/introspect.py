"""``/healthz`` and the JSON introspection area under ``/-/``."""

from __future__ import annotations

import platform
from collections.abc import Callable
from typing import Any

from aiohttp import web

from accountd import __version__
from accountd.bus.notifier import Notifier
from accountd.service import AccountService
from accountd.store import StoreError

__all__ = ["Introspection"]


class Introspection:
    def __init__(
        self,
        service: AccountService,
        notifier: Notifier | None,
        config: dict[str, Any],
        extra_stats: Callable[[], dict[str, Any]] | None = None,
    ) -> None:
        self.service = service
        self.notifier = notifier
        self._config = config
        self._extra = extra_stats

    async def _healthy(self) -> str | None:
        try:
            await self.service.store.check()
        except StoreError as exc:
            return str(exc) or type(exc).__name__
        return None

    async def healthz_plain(self, request: web.Request) -> web.Response:
        problem = await self._healthy()
        if problem:
            return web.Response(status=503, text=f"store unusable: {problem}\n", content_type="text/plain")
        return web.Response()

    async def healthz(self, request: web.Request) -> web.Response:
        problem = await self._healthy()
        if problem:
            return web.json_response({"status": "unavailable", "store": problem}, status=503)
        return web.json_response({"status": "ok"})

    async def version(self, request: web.Request) -> web.Response:
        return web.json_response({"version": __version__, "python": platform.python_version()})

    async def config(self, request: web.Request) -> web.Response:
        return web.json_response(self._config)

    async def stats(self, request: web.Request) -> web.Response:
        try:
            count = await self.service.store.count()
        except StoreError:
            count = -1
        doc: dict[str, Any] = {
            "store": {"name": self.service.store.name, "accounts": count, **self.service.store.stats()},
            "service": self.service.stats(),
            "outbox": self.notifier.stats() if self.notifier else {"outbox_depth": 0, "connected": False},
        }
        if self._extra:
            doc.update(self._extra())
        return web.json_response(doc)
