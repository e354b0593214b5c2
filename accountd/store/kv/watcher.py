"""The watcher: keeps an instance's :class:`~accountd.store.kv.index.Revisions` current.

An ordered push consumer on the bucket's stream that delivers headers only (``headers_only``: the
JWTs are not even transferred), first the latest message of every account, then every change. It
is recreated from the last sequence seen when it skips a message (a slow-consumer drop), stalls (its
server died: no heartbeat) or the connection came back.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
from collections.abc import Callable
from typing import Any

from nats.aio.msg import Msg
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

from accountd import tasks
from accountd.store.kv.bucket import Bucket, describe, is_deleted
from accountd.types import AccountKey

__all__ = ["Watcher"]

log = logging.getLogger("accountd.store.kv")

HEARTBEAT = 1.0
"""Idle heartbeat (s); three missed ones and the watcher is recreated."""
_ACCOUNT = re.compile(r"A[A-Z2-7]{55}")


class Watcher:
    """Calls ``apply(account, revision, deleted)`` for the latest message of each account, then each change."""

    def __init__(self, bucket: Bucket, apply: Callable[[AccountKey, int, bool], None]) -> None:
        self.bucket = bucket
        self.apply = apply
        self.loaded = asyncio.Event()
        """Set once the latest message of every account has been applied."""
        self.consumer: str | None = None
        self.restarts = 0
        self._sub: Any = None
        self._gen = 0
        self._dseq = 0
        self._sseq = 0
        self._seen = 0.0
        self._reset = asyncio.Event()
        self._guard: asyncio.Task[None] | None = None
        self._running = False

    async def start(self) -> None:
        """Create the consumer (the initial load begins); then recreate it whenever needed."""
        await self._start(None)
        self._running = True
        self._guard = asyncio.create_task(self._keep(), name=f"kv-watch-{self.bucket.name}")

    def reset(self) -> None:
        """Deliveries may have been lost (say, while disconnected): recreate the consumer."""
        self._reset.set()

    async def stop(self) -> None:
        self._running = False
        if self._guard is not None:
            await tasks.stop(self._guard)
            self._guard = None
        if self.consumer and self.bucket.connected:
            with contextlib.suppress(Exception):
                await self.bucket.js.delete_consumer(self.bucket.stream, self.consumer)

    async def _start(self, start: int | None) -> None:
        """(Re)create the ordered push consumer: latest per key, or everything from ``start``."""
        nc = self.bucket.nc
        assert nc is not None
        self._gen += 1
        gen = self._gen
        old_sub, old_consumer = self._sub, self.consumer
        inbox = nc.new_inbox()

        async def on_msg(msg: Msg) -> None:
            await self._on_msg(gen, msg)

        self._dseq = 0
        self._sub = sub = await nc.subscribe(inbox, cb=on_msg, pending_msgs_limit=1_000_000,
                                             pending_bytes_limit=1 << 30)
        config = ConsumerConfig(
            deliver_subject=inbox, ack_policy=AckPolicy.NONE, max_deliver=1, flow_control=True,
            idle_heartbeat=HEARTBEAT, mem_storage=True, num_replicas=1, inactive_threshold=30.0,
            headers_only=True, filter_subject=self.bucket.prefix + ">",
            deliver_policy=DeliverPolicy.LAST_PER_SUBJECT if start is None else DeliverPolicy.BY_START_SEQUENCE,
            opt_start_seq=start,
        )
        try:
            info = await self.bucket.js.add_consumer(self.bucket.stream, config)
        except BaseException:
            with contextlib.suppress(Exception):
                await sub.unsubscribe()
            raise
        self.consumer = info.name
        self._seen = time.monotonic()
        if not info.num_pending:
            self.loaded.set()
        if old_sub is not None:
            with contextlib.suppress(Exception):
                await old_sub.unsubscribe()
        if old_consumer is not None:
            asyncio.get_running_loop().create_task(self._drop(old_consumer))

    async def _drop(self, name: str) -> None:
        with contextlib.suppress(Exception):
            await self.bucket.js.delete_consumer(self.bucket.stream, name)

    async def _on_msg(self, gen: int, msg: Msg) -> None:
        if gen != self._gen:
            return
        self._seen = time.monotonic()
        headers = msg.headers
        status = headers.get("Status") if headers else None
        if status:
            if status == "100" and headers is not None:
                reply = msg.reply or headers.get("Nats-Consumer-Stalled")
                if reply:  # flow control: answer so that the server keeps sending
                    await self.bucket.reply(reply, b"")
                last = headers.get("Nats-Last-Consumer")
                if last is not None and int(last) != self._dseq:
                    self._reset.set()
            return
        try:
            meta = msg.metadata
        except Exception:
            return
        if meta.sequence.consumer != self._dseq + 1:
            self._reset.set()  # a gap (e.g. a slow-consumer drop): start again from the last one seen
            return
        self._dseq = meta.sequence.consumer
        self._sseq = max(self._sseq, meta.sequence.stream)
        account = msg.subject[len(self.bucket.prefix):]
        if _ACCOUNT.fullmatch(account):
            self.apply(AccountKey(account), meta.sequence.stream, is_deleted(headers))
        if meta.num_pending == 0:
            self.loaded.set()

    async def _keep(self) -> None:
        """Recreate the consumer when it skipped, stalled (its server died) or the connection came back."""
        while self._running:  # (not only the cancel: one swallowed by a library's wait_for must not hang stop())
            await tasks.wait_event(self._reset, HEARTBEAT)
            stalled = time.monotonic() - self._seen > 3 * HEARTBEAT
            if not (self._reset.is_set() or stalled) or not self.bucket.connected:
                continue
            self._reset.clear()
            start = self._sseq + 1 if self._sseq else None
            try:
                await self._start(start)
                self.restarts += 1
                log.info("KV bucket %s: watcher recreated from sequence %s", self.bucket.name, start or "latest")
            except Exception as exc:
                log.warning("KV bucket %s: cannot recreate the watcher yet: %s", self.bucket.name, describe(exc))
                self._reset.set()
                await asyncio.sleep(HEARTBEAT / 2)
