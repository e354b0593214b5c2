"""The directory store: JWT files that nats-server and nats-account-server can read, made durable
by a write-ahead log with group commit.

On disk (``shard=True`` puts each JWT under a directory named by the key's last two characters)::

    <dir>/<PUB>.jwt              the JWT, stripped; 0600 (the layout of nats-server's full resolver)
    <dir>/<PUB>.jwt.deleted      a deleted account's last JWT, renamed as nats-server does
    <dir>/.accountd/             0700: everything accountd-specific, so the .jwt files stay plain
        lock                     flock'd while a store has the directory open
        log                      write-ahead log: revisions, meta, tombstones, published marks
        state.json               snapshot of the same, written at checkpoints

A write is staged at once (revision assigned, compare-and-set checked against committed and staged
changes). Two tasks then do the I/O, each through a worker thread (one call at a time each), so
that the two overlap:

* **The writer** appends every change that arrived meanwhile to the log and fsyncs once: that is
  the durability point, shared by the whole batch. The changes become visible to readers and the
  puts and deletes return right then; the changed accounts are marked dirty.
* **The file writer** writes the ``.jwt`` file (temp → rename, no fsync) of every dirty account,
  pass after pass while any are dirty, a pass at most every :data:`FILE_PASS_SECONDS` under load.
  An account changed many times in between is written once, with its latest record (a put then a
  delete in between leave no file at all, as if the account had never been written). A file
  written late costs nothing in a crash: the log has the change, and reopening rewrites every
  file that lags it. When more than :data:`MAX_DIRTY` files are behind (a flood of new accounts,
  each needing a file of its own), the writer waits for the file writer before its next batch.

A checkpoint (``syncfs``, snapshot, empty log) needs every file written: when the log is full the
writer waits for the file writer to write everything dirty, and no batch is committed meanwhile.
:meth:`~DirectoryStore.flush` waits the same way, so do :meth:`~DirectoryStore.close` and the final
checkpoint. A file that cannot be written does not fail the write that changed it (that write is
durable): it stays dirty, is retried with a back-off (at once by :meth:`~DirectoryStore.check`),
makes :meth:`~DirectoryStore.check` raise until it is written and is counted in ``file_errors``
and ``failed_files`` of :meth:`~DirectoryStore.stats`; no checkpoint is taken meanwhile.

:meth:`~DirectoryStore.mark_published` clears the pending mark in memory and never causes a batch of
its own: the mark is logged with the next batch of changes, by ``flush`` or by the next checkpoint
(including the one of ``close``). Losing it in a crash only means publishing that change once more.

Readers see committed changes only and never touch the disk.
"""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from accountd.store._disk import Disk
from accountd.store._index import Index, IndexedReads, check_account, clean_jwt, clean_meta
from accountd.store.base import Record, StoreError
from accountd.types import JWT, AccountKey

__all__ = ["DEFAULT_CHECKPOINT_BYTES", "DirectoryStore"]

log = logging.getLogger("accountd.store")

DEFAULT_CHECKPOINT_BYTES = 8 << 20
"""Checkpoint once the log holds this much (or as much as the snapshot, if that is larger)."""

FILE_PASS_SECONDS = 0.5
"""Under load, a pass of the file writer starts at most this often, so that the changes of one
account in between cost one file write; an isolated change is written at once. Not once the log is
3/4 full: the checkpoint then due waits for every dirty file, so there should be few."""

MAX_DIRTY = 512
"""Backpressure: while more files than this are not written yet (a flood of new accounts: each
needs its own file), the writer waits for the file writer before it logs the next batch. Bounds
the wait of the next checkpoint (for every dirty file), and memory."""

FILE_CHUNK = 64
"""Files written per call in the file writer's thread: the progress a waiting writer sees."""

RETRY_SECONDS = (0.05, 2.0)
"""The file writer waits this long (doubling from the first to the second) before it retries files
it could not write, unless asked sooner."""


@dataclass(slots=True)
class _Op:
    """One item for the writer: a change, or a barrier (``record`` is ``None``) from :meth:`flush`."""

    record: Record | None = None
    future: asyncio.Future[None] | None = field(default=None)


def _settle(future: asyncio.Future[None] | None, error: StoreError | None = None) -> None:
    if future is None or future.done():  # done: the caller was cancelled; the change stands
        return
    if error is None:
        future.set_result(None)
    else:
        future.set_exception(error)


class DirectoryStore(IndexedReads):
    """Account JWTs as files under ``path``; see the module docstring for the format."""

    name = "directory"

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        shard: bool = False,
        checkpoint_bytes: int = DEFAULT_CHECKPOINT_BYTES,
    ) -> None:
        self.path = Path(path).absolute()
        self.shard = shard
        self.checkpoint_bytes = checkpoint_bytes
        self._disk = Disk(self.path, shard=shard, checkpoint_bytes=checkpoint_bytes)
        self._index = Index()
        self._staged: dict[AccountKey, Record] = {}
        self._queue: list[_Op] = []
        self._wake = asyncio.Event()
        self._writer: asyncio.Task[None] | None = None
        self._marks: dict[AccountKey, int] = {}
        """Published marks cleared in the index but not logged yet."""
        self._files: asyncio.Task[None] | None = None
        self._files_wake = asyncio.Event()
        """Set when accounts became dirty, a pass was asked for, or the file writer must stop."""
        self._files_asked = asyncio.Event()
        """Set when a pass was asked for or the file writer must stop (ends a back-off)."""
        self._files_waiters: list[asyncio.Future[None]] = []
        """Settled when the next pass of the file writer is over."""
        self._files_progress = asyncio.Event()
        """Set each time the file writer wrote a chunk (wakes a writer held by backpressure)."""
        self._files_stop = False
        self._state = "new"
        self._counts = {"writes": 0, "max_batch": 0, "file_passes": 0, "backpressure_waits": 0}

    def __repr__(self) -> str:
        return f"DirectoryStore({str(self.path)!r}, shard={self.shard})"

    # -- lifecycle -----------------------------------------------------------------------------

    async def open(self) -> None:
        if self._state not in ("new", "closed"):
            raise StoreError(f"directory store {self.path} is already {self._state}")
        state, self._state = self._state, "opening"
        self._disk = Disk(self.path, shard=self.shard, checkpoint_bytes=self.checkpoint_bytes)
        try:
            self._index = await asyncio.to_thread(self._disk.open)
        except BaseException:
            self._state = state
            raise
        self._staged.clear()
        self._queue.clear()
        self._marks.clear()
        self._wake = asyncio.Event()
        self._files_wake, self._files_asked = asyncio.Event(), asyncio.Event()
        self._files_progress = asyncio.Event()
        self._files_waiters = []
        self._files_stop = False
        self._state = "open"
        self._writer = asyncio.create_task(self._run(), name=f"accountd-store-writer:{self.path}")
        self._files = asyncio.create_task(self._write_files(), name=f"accountd-store-files:{self.path}")

    async def close(self) -> None:
        if self._state != "open":
            return
        self._state = "closing"
        self._wake.set()
        try:
            if self._writer is not None:
                await self._writer
        finally:
            self._writer = None
            self._files_stop = True
            self._files_wake.set()
            self._files_asked.set()
            try:
                if self._files is not None:
                    await self._files
            finally:
                self._files = None
                self._state = "closed"
                index, marks, self._marks = self._index, self._marks, {}
                await asyncio.to_thread(
                    self._disk.close,
                    list(index.records.values()),
                    set(index.pending),
                    index.revision,
                    list(marks.items()),
                )

    async def flush(self) -> None:
        """Return once everything submitted before is on disk: logged, published marks too, its
        files written (or failed: see :meth:`check`) and a checkpoint taken if one is due."""
        self._writable()
        await self._submit(_Op())

    async def check(self) -> None:
        """Raise :class:`StoreError` if the store cannot be written, or if ``.jwt`` files of committed
        changes could not be written (those are retried first)."""
        self._ready()
        if self._disk.failed and self._disk.broken is None:
            await self._files_pass()
        await asyncio.to_thread(self._disk.probe)

    # -- reads: committed state, from memory ---------------------------------------------------

    # -- writes --------------------------------------------------------------------------------

    async def put(
        self,
        account: AccountKey,
        jwt: JWT,
        *,
        meta: Mapping[str, int | str] | None = None,
        expect: int | None = None,
    ) -> Record:
        account, jwt, clean = check_account(account), clean_jwt(jwt), clean_meta(meta)
        self._writable()
        record = self._index.next_put(self._current(account), account, jwt, clean, expect)
        return await self._change(record)

    async def delete(
        self,
        account: AccountKey,
        token: JWT,
        *,
        meta: Mapping[str, int | str] | None = None,
        expect: int | None = None,
    ) -> Record:
        account, token, clean = check_account(account), clean_jwt(token), clean_meta(meta)
        self._writable()
        record = self._index.next_delete(self._current(account), account, token, clean, expect)
        return await self._change(record)

    async def mark_published(self, account: AccountKey, revision: int) -> None:
        account = check_account(account)
        self._ready()
        # Cleared in memory at once; logged with the next batch or checkpoint, never on its own.
        # Losing the mark in a crash only means publishing that change once more.
        if self._index.mark_published(account, revision) and self._disk.broken is None:
            self._marks[account] = revision

    def stats(self) -> dict[str, int | str]:
        disk = self._disk
        return {
            "name": self.name,
            "path": str(self.path),
            "layout": "sharded" if self.shard else "flat",
            **self._index.counts(),
            **self._counts,
            **disk.counters,
            "log_bytes": disk.log.size,
            "snapshot_bytes": disk.snapshot_size,
            "unwritten_files": len(disk.dirty),
            "failed_files": len(disk.failed),
            "unlogged_marks": len(self._marks),
            "queued": len(self._queue),
        }

    # -- the writer ----------------------------------------------------------------------------

    def _ready(self) -> None:
        if self._state != "open":
            raise StoreError(f"directory store {self.path} is not open")

    def _writable(self) -> None:
        self._ready()
        if self._disk.broken is not None:
            raise StoreError(self._disk.broken)

    def _current(self, account: AccountKey) -> Record | None:
        staged = self._staged.get(account)
        return staged if staged is not None else self._index.records.get(account)

    async def _change(self, record: Record) -> Record:
        self._staged[record.account] = record
        await self._submit(_Op(record=record))
        return record

    async def _submit(self, op: _Op) -> None:
        op.future = asyncio.get_running_loop().create_future()
        self._queue.append(op)
        self._wake.set()
        await op.future

    async def _run(self) -> None:
        while True:
            if not self._queue:
                if self._state != "open":
                    return
                self._wake.clear()
                await self._wake.wait()
                continue
            batch, self._queue = self._queue, []
            if not await self._commit(batch):
                continue
            barriers = [op for op in batch if op.record is None]
            disk = self._disk
            if barriers or (disk.log_full() and not disk.failed and disk.broken is None):
                await self._drain()
                if disk.wants_checkpoint():
                    await self._checkpoint()
            for op in barriers:
                _settle(op.future)
            await self._backpressure()

    async def _commit(self, batch: builtins.list[_Op]) -> bool:
        """Log ``batch`` and the unlogged marks; settle the changes. False if it failed."""
        changes = [op.record for op in batch if op.record is not None]
        marks, self._marks = self._marks, {}
        try:
            await asyncio.to_thread(self._disk.commit, changes, list(marks.items()))
        except Exception as exc:
            if isinstance(exc, StoreError):
                error = exc
            else:  # not an I/O error we know: the state on disk is unknown
                error = StoreError(f"directory store {self.path}: unexpected error: {exc!r}")
                self._disk.broken = str(error)
                log.exception("directory store %s: writer failed", self.path)
            self._marks = {**marks, **self._marks}
            # Whatever was staged since may build on this batch: fail it too.
            rest, self._queue = self._queue, []
            self._staged.clear()
            for op in batch + rest:
                _settle(op.future, error)
            return False
        for record in changes:
            self._index.apply(record, pending=True)
            if self._staged.get(record.account) is record:
                del self._staged[record.account]
        if changes:
            self._counts["writes"] += len(changes)
            self._counts["max_batch"] = max(self._counts["max_batch"], len(changes))
            self._files_wake.set()
        for op in batch:
            if op.record is not None:
                _settle(op.future)
        return True

    async def _checkpoint(self) -> None:
        index = self._index
        records, pending = list(index.records.values()), set(index.pending)
        marks, self._marks = self._marks, {}  # ``pending`` has them
        try:
            await asyncio.to_thread(self._disk.checkpoint, records, pending, index.revision)
        except StoreError as exc:  # the log stays authoritative; retried once it grew further
            self._marks = {**marks, **self._marks}
            log.warning("%s", exc)

    # -- the file writer -----------------------------------------------------------------------

    async def _backpressure(self) -> None:
        """Wait while the file writer is too far behind (unless it is failing: then nothing helps)."""
        disk = self._disk
        if self._behind():
            self._counts["backpressure_waits"] += 1
        while self._behind() and not disk.failed and disk.broken is None:
            self._files_progress.clear()
            self._files_wake.set()
            self._files_asked.set()  # ends a pause
            await self._files_progress.wait()

    def _behind(self) -> bool:
        return len(self._disk.dirty) > MAX_DIRTY

    def _files_urgent(self) -> bool:
        """No pacing: a checkpoint is near (it waits for every file), or the writer is held back."""
        return self._behind() or self._disk.log_full(0.75)

    async def _drain(self) -> None:
        """Wait until every dirty file is written, or a pass failed to write some. Only the writer
        calls this, so nothing becomes dirty meanwhile."""
        disk = self._disk
        while disk.dirty and disk.broken is None:
            await self._files_pass()
            if disk.failed:
                return

    async def _files_pass(self) -> None:
        """Wait for a whole pass of the file writer that starts after this call."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._files_waiters.append(future)
        self._files_wake.set()
        self._files_asked.set()
        await future

    async def _write_files(self) -> None:
        disk, loop = self._disk, asyncio.get_running_loop()
        delay = RETRY_SECONDS[0]
        not_before = 0.0
        """No pass starts earlier unless one is asked for or urgent: paces passes under load, backs
        off after a failure."""
        while True:
            if self._files_stop:
                waiters, self._files_waiters = self._files_waiters, []
                for future in waiters:
                    _settle(future)
                return
            if not self._files_waiters and not (disk.dirty and disk.broken is None):
                self._files_wake.clear()
                await self._files_wake.wait()
                continue
            pause = not_before - loop.time()
            if pause > 0 and not self._files_waiters and (disk.failed or not self._files_urgent()):
                self._files_asked.clear()
                await _wait(self._files_asked, pause)
                continue
            waiters, self._files_waiters = self._files_waiters, []
            self._files_asked.clear()
            started = loop.time()
            failed = await self._files_once()
            for future in waiters:
                _settle(future)
            if failed:
                not_before = loop.time() + delay
                delay = min(delay * 2, RETRY_SECONDS[1])
            else:
                not_before = started + FILE_PASS_SECONDS
                delay = RETRY_SECONDS[0]

    async def _files_once(self) -> bool:
        """One pass: write every file dirty now, a chunk per thread call; True if any failed."""
        disk = self._disk
        self._counts["file_passes"] += 1
        with disk.lock:
            work = list(disk.dirty.items())
        failed = False
        for start in range(0, len(work), FILE_CHUNK):
            try:
                failed |= bool(await asyncio.to_thread(disk.materialise, work[start : start + FILE_CHUNK]))
            except Exception as exc:  # a bug, not an I/O error: keep the files dirty and retry
                disk.error = f"writing JWT files failed: {exc!r}"
                log.exception("directory store %s: file writer failed", self.path)
                with disk.lock:
                    for account in disk.dirty:
                        disk.failed.setdefault(account, disk.error)
                return True
            finally:
                self._files_progress.set()
            if self._files_stop or disk.broken is not None:
                break  # close writes what is left
        return failed


async def _wait(event: asyncio.Event, seconds: float) -> None:
    """Wait until ``event`` is set, at most ``seconds`` (``asyncio.timeout``, not ``wait_for``, which
    on Python 3.11 can swallow a cancellation that arrives as the event is set)."""
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(seconds):
            await event.wait()
