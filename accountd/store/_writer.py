"""The SQLite store's writer: one task driving one worker thread, a group commit per batch.

A change is staged on the loop (it is the current record for the writes that follow at once) and
queued; the writer takes everything queued meanwhile (at most :data:`MAX_BATCH`), adds what the
store has to add (published marks, the background fill's rows, a subclass's extras), commits it in
one transaction, and only then settles the futures the puts and deletes wait on. A failed commit
fails every change staged since, which may build on it.
"""

from __future__ import annotations

import asyncio
import builtins
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from accountd.store._history import EMPTY_ORIGIN
from accountd.store._search import Searchable
from accountd.store._sql import Batch, Change, Database, Gone
from accountd.store.base import Record, StoreError
from accountd.types import AccountKey

__all__ = ["MAX_BATCH", "GroupCommit"]

log = logging.getLogger("accountd.store")

MAX_BATCH = 4096
"""Changes per transaction at most; the rest wait for the next one."""


@dataclass(slots=True)
class _Op:
    """One item for the writer: a change, or a barrier (``record`` is ``None``) from :meth:`flush`."""

    record: Record | None = None
    pending: bool = True
    origin: Mapping[str, str] = field(default_factory=lambda: EMPTY_ORIGIN)
    stored_at: float = 0.0
    future: asyncio.Future[None] | None = field(default=None)


def _settle(future: asyncio.Future[None] | None, error: BaseException | None = None) -> None:
    if future is None or future.done():  # done: the caller was cancelled; the change stands
        return
    if error is None:
        future.set_result(None)
    else:
        future.set_exception(error)


class GroupCommit:
    """The writer half of :class:`~accountd.store.sqlite.SQLiteStore` (which sets these up)."""

    path: Path
    _db: Database
    _state: str
    _broken: str | None
    _staged: dict[AccountKey, Record]
    _queue: list[_Op]
    _marks: dict[AccountKey, int]
    _wake: asyncio.Event
    _counts: dict[str, int]
    _filled: list[tuple[AccountKey, int, Searchable]]
    _fill_state: dict[str, Any]

    def _writable(self) -> None:
        raise NotImplementedError

    async def _in_thread(self, fn: Any, *args: Any) -> Any:
        raise NotImplementedError

    # -- what a subclass changes ----------------------------------------------------------------

    def _extras(self, batch: Batch) -> None:
        """Add to the next batch (on the loop, before it is committed)."""

    def _committed(self, batch: Batch) -> None:
        """After ``batch`` is durable (on the loop)."""

    def _uncommitted(self, batch: Batch) -> None:
        """After ``batch`` failed (on the loop): give back what :meth:`_extras` took."""

    def _has_extras(self) -> bool:
        return False

    async def _before_batch(self) -> None:
        """Wait, if need be, before the writer takes its next batch (a subclass's backpressure)."""

    # -- staging and committing -----------------------------------------------------------------

    def _stage(self, record: Record, *, pending: bool, origin: Mapping[str, str]) -> asyncio.Future[None]:
        """Make ``record`` the current one for writers and queue it; settled once committed."""
        self._staged[record.account] = record
        return self._enqueue(_Op(record, pending, origin, time.time()))

    async def _fill(self, found: builtins.list[tuple[AccountKey, int, Searchable]], state: dict[str, Any]) -> None:
        """The background fill's rows and progress: committed with the next batch (awaited)."""
        self._writable()
        self._filled += found
        self._fill_state.update(state)
        await self._barrier()

    def _barrier(self) -> asyncio.Future[None]:
        """Settled once everything queued before is committed."""
        return self._enqueue(_Op())

    def _enqueue(self, op: _Op) -> asyncio.Future[None]:
        """Hand ``op`` to the writer; the future is settled once its batch is committed (or failed)."""
        op.future = asyncio.get_running_loop().create_future()
        self._queue.append(op)
        self._wake.set()
        return op.future

    async def _run(self) -> None:
        while True:
            if not (self._queue or self._marks or self._has_extras()):
                if self._state != "open":
                    return
                self._wake.clear()
                await self._wake.wait()
                continue
            await self._before_batch()
            ops, self._queue = self._queue[:MAX_BATCH], self._queue[MAX_BATCH:]
            await self._commit(ops)
            if self._state != "open" and self._broken is not None:
                for op in self._queue:
                    _settle(op.future, StoreError(self._broken))
                self._queue.clear()
                return

    async def _commit(self, ops: builtins.list[_Op]) -> None:
        changes = [Change(op.record, op.pending, op.stored_at, op.origin) for op in ops if op.record is not None]
        marks = dict(self._marks)
        batch = Batch(changes, list(marks.items()), [], [], {})
        self._extras(batch)
        batch.filled, self._filled = self._filled, []
        batch.state.update(self._fill_state)
        self._fill_state = {}
        try:
            await self._in_thread(self._db.commit, batch)
        except Exception as exc:
            error = exc if isinstance(exc, StoreError) else StoreError(f"{self.path}: unexpected error: {exc!r}")
            if isinstance(exc, Gone):
                self._broken = str(exc)
            elif not isinstance(exc, StoreError):
                self._broken = str(error)
                log.exception("%r: the writer failed", self)
            self._uncommitted(batch)
            if not changes:  # marks alone (disk full?): nothing builds on them; do not spin
                for op in ops:
                    _settle(op.future, error)
                await asyncio.sleep(1.0)
                return
            # Whatever was staged since may build on this batch: fail it too.
            rest, self._queue = self._queue, []
            self._staged.clear()
            for op in ops + rest:
                _settle(op.future, error)
            return
        for account, revision in marks.items():
            if self._marks.get(account) == revision:
                del self._marks[account]
        for change in changes:
            if self._staged.get(change.record.account) is change.record:
                del self._staged[change.record.account]
        if changes:
            self._counts["writes"] += len(changes)
            self._counts["max_batch"] = max(self._counts["max_batch"], len(changes))
        self._counts["batches"] += 1
        self._committed(batch)
        for op in ops:
            _settle(op.future)
