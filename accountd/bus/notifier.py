"""Drains the store's durable outbox onto NATS.

Every successful write leaves its account *pending* in the store, in the same durable commit
as the JWT. This loop publishes the latest JWT of each pending account once on
``$SYS.ACCOUNT.<id>.CLAIMS.UPDATE`` (a tombstone's delete token on ``$SYS.REQ.CLAIMS.DELETE``),
flushes, and only then clears the mark — so a crash, a restart or NATS being down loses nothing:
the next run publishes whatever is still pending. Duplicates are possible after a crash between
flush and mark; nats-server treats an identical JWT as a no-op. The outbox is read a page at a
time (:data:`PAGE` records), so a backlog left while NATS was down costs one page of memory.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from accountd import tasks
from accountd.bus.connection import Bus
from accountd.bus.subjects import CLAIMS_DELETE, claims_update
from accountd.errors import Unavailable
from accountd.natsclient import flushed
from accountd.store import Record, Store, StoreError

__all__ = ["Notifier"]

log = logging.getLogger("accountd.notifier")

PAGE = 1000
"""Pending records read, published and flushed at a time: a backlog of a million costs one page of memory."""


class Notifier:
    def __init__(self, store: Store, bus: Bus | None, *, retry_interval: float = 1.0, page: int = PAGE) -> None:
        self.store = store
        self.bus = bus
        self.retry_interval = retry_interval
        self.page = page
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._draining = asyncio.Lock()
        self.published = 0
        self.deletes_forwarded = 0
        self.failures = 0
        self.depth = 0

    def kick(self) -> None:
        """Something was written: publish soon."""
        self._idle.clear()
        self._wake.set()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="outbox")
        self.kick()

    async def _run(self) -> None:
        while True:
            await tasks.wait_event(self._wake, self.retry_interval)
            self._wake.clear()
            try:
                await self.drain()
            except Exception:
                self.failures += 1
                log.exception("publishing the outbox failed; will retry")

    async def drain(self) -> int:
        """Publish everything pending now; returns how many records were published."""
        async with self._draining:
            return await self._drain()

    async def _drain(self) -> int:
        """Publish pending records a page at a time, until none is left (or publishing fails)."""
        total = 0
        while True:
            published, full = await self._drain_page()
            total += published
            if not (published and full):
                return total

    async def _drain_page(self) -> tuple[int, bool]:
        """Publish one page of the outbox; (how many were published, whether the page was full)."""
        if self.bus is None or not self.bus.connected or self.bus.nc is None:
            counted = self.store.stats().get("pending")
            if isinstance(counted, int):  # nowhere to publish: count the backlog, read none of it
                self.depth = counted
                if not counted:
                    self._idle.set()
                return 0, False
        try:
            pending = await self.store.pending(limit=self.page)
        except StoreError as exc:
            log.warning("cannot read the outbox: %s", exc)
            return 0, False
        full = len(pending) >= self.page
        counted = self.store.stats().get("pending") if full else None
        self.depth = counted if isinstance(counted, int) and counted >= len(pending) else len(pending)
        if not pending:
            self.depth = 0
            self._idle.set()
            return 0, False
        if self.bus is None or not self.bus.connected or self.bus.nc is None:
            return 0, False
        nc = self.bus.nc
        forwarded: set[str] = set()
        for record in pending:
            if record.deleted:
                if record.jwt not in forwarded:
                    await nc.publish(CLAIMS_DELETE, record.jwt.encode())
                    forwarded.add(record.jwt)
                    self.deletes_forwarded += 1
            else:
                await nc.publish(claims_update(record.account), record.jwt.encode())
        try:
            await flushed(nc, timeout=5)
        except Exception as exc:
            self.failures += 1
            log.warning("NATS flush failed, %d updates stay pending: %s", len(pending), exc)
            return 0, False
        for record in pending:
            await self.store.mark_published(record.account, record.revision)
            log.debug("published %s revision %d", record.account, record.revision)
        self.published += len(pending)
        if not full:
            self.depth = 0
            self._idle.set()
        return len(pending), full

    async def notify(self, record: Record) -> None:
        """Publish one account's current JWT now (``GET …?notify=true``).

        Without NATS configured this is skipped silently, as the original did; configured but
        disconnected is an error the caller sees.
        """
        if self.bus is None:
            return
        if not self.bus.connected or self.bus.nc is None:
            raise Unavailable("error sending notification of change", "nats_unavailable")
        await self.bus.nc.publish(claims_update(record.account), record.jwt.encode())
        self.published += 1

    async def flush(self, timeout: float = 5.0) -> bool:
        """Publish what is pending (if connected) and wait; True when the outbox is empty."""
        self.kick()
        try:
            async with asyncio.timeout(timeout):
                await self._drain_until_empty()
        except TimeoutError:
            return False
        return True

    async def _drain_until_empty(self) -> None:
        while True:
            await self.drain()
            if self.depth == 0:
                return
            if self.bus is None or not self.bus.connected:
                raise TimeoutError
            await asyncio.sleep(0.05)

    async def stop(self) -> None:
        await tasks.stop(self._task)
        self._task = None

    def stats(self) -> dict[str, Any]:
        return {
            "outbox_depth": self.depth,
            "published": self.published,
            "deletes_forwarded": self.deletes_forwarded,
            "publish_failures": self.failures,
            "connected": bool(self.bus and self.bus.connected),
        }
