"""The outbox: which changes this instance publishes, through the durable pull consumer ``accountd``.

The consumer is shared by every instance (work-queue style): each change is delivered to one
instance, :meth:`Outbox.pending` returns the changes this instance holds (fetched, not acknowledged)
and :meth:`Outbox.mark_published` acknowledges them. A change held while the notifier works on it is
kept alive with in-progress acknowledgements (``+WPI``) every ``ack_wait / 4``, so a short
``ack_wait`` causes no redeliveries; when an instance dies before acknowledging, the change is
redelivered to another one after ``ack_wait`` (1 s by default). A change held for
``release_after`` seconds without progress means this instance cannot publish (say its
system-account connection is down): it hands its changes back (``-NAK``) and takes none for as long.

A write made with ``publish=False`` carries the header ``Accountd-Publish: no``: whichever instance
fetches it acknowledges it at once. A backlog (say, after an import) is fetched in the background
as long as pulls come back full, at most :data:`HOLD_MAX` changes held at a time.

This is at-least-once: a crash between publishing and acknowledging, or an own write the consumer
has not delivered anywhere within :data:`OWN_WAIT` (published from here, then by whoever gets it),
publishes twice — harmless, nats-server treats an identical JWT as a no-op. After publishing, the
latest revision is read back from the stream leader; a newer one is published again, so a late,
older publication never has the last word.
"""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import itertools
import json
import logging
import re
import time
from collections.abc import Callable
from typing import Any

from nats.aio.msg import Msg
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

from accountd import tasks
from accountd.store.base import Record
from accountd.store.kv.bucket import Bucket, decode, publishes, retry
from accountd.store.kv.index import Revisions
from accountd.types import AccountKey

__all__ = ["CONSUMER", "Outbox"]

log = logging.getLogger("accountd.store.kv")

CONSUMER = "accountd"
OWN_WAIT = 0.25
"""How long pending() waits for the outbox consumer to deliver this instance's own fresh writes."""
RELEASE_AFTER = 3.0
PULL_BATCH = 256
HOLD_MAX = 1024
"""At most this many changes fetched and not acknowledged at a time (each one's JWT is in memory)."""
PUBLISHED_MAX = 4096
"""Revisions published lately, remembered so that a redelivered copy is acknowledged, not published."""
_ACCOUNT = re.compile(r"A[A-Z2-7]{55}")


class _Request:
    """A pull request in flight."""

    def __init__(self, token: str, batch: int) -> None:
        self.token = token
        self.batch = batch
        self.got = 0
        self.done = asyncio.Event()


class Outbox:
    def __init__(
        self, bucket: Bucket, index: Revisions, apply: Callable[[AccountKey, int, bool], None], *, ack_wait: float
    ) -> None:
        self.bucket = bucket
        self.index = index
        self.apply = apply
        self.ack_wait = ack_wait
        self.release_after = RELEASE_AFTER
        self.on_pending: Callable[[], None] = lambda: None
        """Called when changes were fetched in the background (a backlog): publish soon."""
        self.released = 0
        self.redeliveries = 0
        self._inbox = ""
        self._sub: Any = None
        self._pulling = asyncio.Lock()
        self._pulls = 0
        self._request: _Request | None = None
        self._more = False
        """The last pull came back full: the consumer has more."""
        self._held: dict[AccountKey, dict[int, tuple[str, Record]]] = {}
        """Fetched, unacknowledged changes: account → stream sequence → (ack subject, record)."""
        self._held_since: dict[AccountKey, float] = {}
        self._paused_until = 0.0
        self._own: dict[AccountKey, int] = {}
        """The latest revision this instance wrote and has not fetched from the outbox consumer yet."""
        self._again: dict[AccountKey, int] = {}
        """A revision found newer than the one just published: publish it (again)."""
        self._published: dict[AccountKey, int] = {}
        self._keeper: asyncio.Task[None] | None = None

    async def open(self, deadline: float) -> None:
        await retry(deadline, "create the outbox consumer", self._ensure_consumer)
        nc = self.bucket.nc
        assert nc is not None
        self._inbox = nc.new_inbox()
        self._sub = await nc.subscribe(self._inbox + ".*", cb=self._on_pull)
        self._keeper = asyncio.create_task(self._keep(), name=f"kv-outbox-{self.bucket.name}")

    async def _ensure_consumer(self) -> None:
        # Creates the consumer, or updates it (ack_wait, …) when it exists with another configuration.
        await self.bucket.js.add_consumer(self.bucket.stream, ConsumerConfig(
            name=CONSUMER, durable_name=CONSUMER, description="accountd outbox: claim updates to publish",
            deliver_policy=DeliverPolicy.ALL, ack_policy=AckPolicy.EXPLICIT, ack_wait=self.ack_wait,
            max_deliver=-1, max_ack_pending=10_000, max_waiting=512,
        ))

    async def close(self) -> None:
        if self._keeper is not None:
            await tasks.stop(self._keeper)
            self._keeper = None
        await self.release()  # let another instance publish these now, not after ack_wait

    async def release(self) -> None:
        """Hand every held change back to the consumer (NAK: redelivered at once, to any instance)."""
        replies = self._replies()
        self._held.clear()
        self._held_since.clear()
        for reply in replies:
            await self.bucket.reply(reply, b"-NAK")
        self.released += len(replies)

    def wrote(self, account: AccountKey, revision: int) -> None:
        """This instance wrote ``revision`` (to be published): make sure it is published soon."""
        self._own[account] = max(self._own.get(account, 0), revision)

    # --- what to publish -----------------------------------------------------------------------

    async def pending(self, limit: int | None = None) -> builtins.list[Record]:
        now = time.monotonic()
        if now < self._paused_until or await self._release_if_stuck(now):
            return []
        await self._pull()
        waiting = {a for a, rev in self._own.items() if rev > self._published.get(a, 0)}
        if waiting:
            await self._await_own(waiting)
            for account in waiting & self._own.keys():
                # Neither fetched here nor delivered elsewhere yet (a lagging consumer): publish it from
                # here; should the consumer hand it to another instance later, that one publishes it too.
                self._again[account] = max(self._again.get(account, 0), self._own.pop(account))
        out: list[Record] = []
        for account in sorted(self._held.keys() | self._again.keys()):
            if limit is not None and len(out) >= limit:
                break
            record = await self._pending_record(account)
            if record is not None:
                out.append(record)
        return out

    async def _release_if_stuck(self, now: float) -> bool:
        if not any(now - since > self.release_after for since in self._held_since.values()):
            return False
        log.warning("KV bucket %s: changes fetched %.0f s ago are still not published; handing them to "
                    "the other instances", self.bucket.name, self.release_after)
        await self.release()
        self._paused_until = now + self.release_after
        return True

    async def _pending_record(self, account: AccountKey) -> Record | None:
        held = self._held.get(account, {})
        top = max([*held, self._again.get(account, 0)])
        if top <= self._published.get(account, 0) or self.index.revision(account) > top:
            # Published already; or superseded by a later change, which is published by whoever holds it
            # (or is not to be published).
            await self._settle(account, top)
            return None
        if held and max(held) == top:
            record = held[top][1]
        else:  # a revision to publish (again) that no one handed to this instance
            found = await self._latest(account)
            if found is None or found[0].revision != top or not found[1]:
                await self._settle(account, top)
                return None
            record = found[0]
        if record.deleted and not record.jwt:  # a bare delete marker (``nats kv del``): no token to forward
            await self._settle(account, top)
            return None
        return record

    async def _latest(self, account: AccountKey) -> tuple[Record, bool] | None:
        """The current record and whether it is to be published, from the stream leader."""
        msg = await self.bucket.last(account, leader=True)
        if msg is None:
            return None
        record = decode(account, int(msg.seq), msg.data, msg.headers)
        self.apply(account, record.revision, record.deleted)
        return record, publishes(msg.headers)

    async def mark_published(self, account: AccountKey, revision: int) -> None:
        # (re-inserted last: the oldest are forgotten first)
        self._published[account] = max(self._published.pop(account, 0), revision)
        if len(self._published) > PUBLISHED_MAX:
            for old in list(itertools.islice(self._published, PUBLISHED_MAX // 2)):
                del self._published[old]
        if 0 < self._own.get(account, 0) <= revision:  # written here, not fetched yet: fetch it to acknowledge it
            await self._await_own({account})
        await self._settle(account, revision)
        # Read back: a newer change may have been published before this one reached the servers.
        with contextlib.suppress(Exception):
            found = await self._latest(account)
            if found is not None and found[0].revision > revision and found[1]:
                self._again[account] = found[0].revision

    async def _settle(self, account: AccountKey, revision: int) -> None:
        """Acknowledge every held change of ``account`` up to ``revision``; drop the marks it covers."""
        held = self._held.get(account, {})
        acks = [held.pop(seq)[0] for seq in [s for s in held if s <= revision]]
        if not held:
            self._held.pop(account, None)
            self._held_since.pop(account, None)
        elif account in self._held_since:
            self._held_since[account] = time.monotonic()  # publishing makes progress
        for marks in (self._own, self._again):
            if marks.get(account, revision + 1) <= revision:
                del marks[account]
        for reply in acks:
            await self.bucket.reply(reply, b"+ACK")

    # --- fetching from the consumer ------------------------------------------------------------

    async def _await_own(self, accounts: set[AccountKey]) -> None:
        """Wait briefly until the consumer delivered this instance's fresh writes, here or elsewhere.

        A replica may lag the acknowledged write by a moment. Only ``no_wait`` pulls, repeated: a
        waiting pull request would outlive the wait and capture a later change for an instance that
        may be closing.
        """
        deadline = time.monotonic() + OWN_WAIT
        for attempt in itertools.count():
            if not accounts & self._own.keys() or time.monotonic() > deadline:
                return
            if attempt:
                await asyncio.sleep(min(0.001 * 2**attempt, 0.02))
            await self._pull()
            if attempt and accounts & self._own.keys():
                await self._delivered_elsewhere(accounts)

    async def _delivered_elsewhere(self, accounts: set[AccountKey]) -> None:
        """Forget own writes the consumer already delivered: another instance holds and publishes them."""
        try:
            info = await self.bucket.js.consumer_info(self.bucket.stream, CONSUMER)
        except Exception:
            return
        delivered = int(info.delivered.stream_seq or 0) if info.delivered else 0
        for account in accounts & self._own.keys():
            if self._own[account] <= delivered:
                del self._own[account]

    def _held_count(self) -> int:
        return sum(len(held) for held in self._held.values())

    async def _pull(self) -> int:
        """One ``no_wait`` pull request: whatever the consumer has for us now, up to a batch; how many came.

        One request at a time: the messages arrive with their stream subjects, not the request's
        inbox, so the ones that come are counted for the request in flight (a full batch ends it;
        otherwise the status 404/408/409 does).
        """
        async with self._pulling:
            nc = self.bucket.nc
            batch = min(PULL_BATCH, HOLD_MAX - self._held_count())
            if nc is None or batch <= 0:
                return 0
            self._pulls += 1
            self._request = request = _Request(str(self._pulls), batch)
            body = json.dumps({"batch": batch, "no_wait": True}).encode()
            try:
                await nc.publish(f"$JS.API.CONSUMER.MSG.NEXT.{self.bucket.stream}.{CONSUMER}", body,
                                 reply=f"{self._inbox}.{request.token}")
                async with asyncio.timeout(2.0):
                    await request.done.wait()
            except Exception as exc:  # a timeout while the consumer has no leader, a disconnect, …
                log.debug("KV bucket %s: pull failed: %s", self.bucket.name, exc)
            finally:
                self._request = None
            self._more = request.got >= batch
            return request.got

    async def _on_pull(self, msg: Msg) -> None:
        request = self._request
        status = msg.headers.get("Status") if msg.headers else None
        if status:
            if status != "100" and request is not None and msg.subject.endswith("." + request.token):
                request.done.set()
            return
        await self._hold(msg)
        if request is not None:
            request.got += 1
            if request.got >= request.batch:
                request.done.set()

    async def _hold(self, msg: Msg) -> None:
        key = msg.subject[len(self.bucket.prefix):]
        try:
            meta = msg.metadata
        except Exception:
            return
        seq = int(meta.sequence.stream)
        if meta.num_delivered > 1:
            self.redeliveries += 1
        if not _ACCOUNT.fullmatch(key):
            await self.bucket.reply(msg.reply, b"+ACK")  # not an account
            return
        account = AccountKey(key)
        if seq >= self._own.get(account, seq + 1):
            del self._own[account]
        record = decode(account, seq, msg.data, msg.headers)
        self.apply(account, seq, record.deleted)
        if seq <= self._published.get(account, 0) or not publishes(msg.headers):
            await self.bucket.reply(msg.reply, b"+ACK")  # published already, or not to be published
            return
        self._held.setdefault(account, {})[seq] = (msg.reply, record)
        self._held_since.setdefault(account, time.monotonic())

    # --- in the background ---------------------------------------------------------------------

    async def _keep(self) -> None:
        """Keep held changes alive (``+WPI``), hand them back when stuck, fetch a backlog."""
        tick = min(0.25, self.ack_wait / 4)
        while True:
            await asyncio.sleep(tick)
            if not self.bucket.connected:
                continue
            try:
                await self._tick(tick)
            except Exception:  # never let the keeper die: redeliveries would follow
                log.exception("KV bucket %s: outbox upkeep failed", self.bucket.name)

    async def _tick(self, tick: float) -> None:
        now = time.monotonic()
        if await self._release_if_stuck(now):
            return
        for reply in self._replies():
            await self.bucket.reply(reply, b"+WPI")
        if now < self._paused_until or not (self._more or self._own):
            return
        before = self._held_count()
        deadline = now + tick
        while await self._pull() and self._more and time.monotonic() < deadline:
            pass
        if self._held_count() > before:
            self.on_pending()

    def _replies(self) -> list[str]:
        """The ack subjects of every held change (a copy: acknowledging awaits, the holdings may change)."""
        return [reply for held in self._held.values() for reply, _ in held.values()]

    def stats(self) -> dict[str, int]:
        pending = {a for a in self._held.keys() | self._own.keys() | self._again.keys()
                   if max([*self._held.get(a, {}), self._own.get(a, 0), self._again.get(a, 0)])
                   > self._published.get(a, 0)}
        return {"pending": len(pending), "held": self._held_count(), "redeliveries": self.redeliveries,
                "released": self.released}
