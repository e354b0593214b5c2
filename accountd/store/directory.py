"""The directory store: JWT files that nats-server and nats-account-server can read, made durable
by a write-ahead log with group commit.

On disk (``shard=True`` puts each JWT under a directory named by the key's last two characters)::

    <dir>/<PUB>.jwt              the JWT, stripped; 0600 (the layout of nats-server's full resolver)
    <dir>/<PUB>.jwt.deleted      a deleted account's last JWT, renamed as nats-server does
    <dir>/.accountd/             0700: everything accountd-specific, so the .jwt files stay plain
        lock                     flock'd while a store has the directory open
        log                      write-ahead log: revisions, meta, tombstones, pending marks
        state.json               snapshot of the same, written at checkpoints

A write is staged at once (revision assigned, compare-and-set checked against committed and staged
changes), then a single writer appends every change that arrived meanwhile to the log and fsyncs
once: that is the acknowledgement point, shared by the whole batch. The ``.jwt`` files are written
(temp → rename) before the writes return; their fsync is deferred to the next checkpoint, since the
log can recreate them. Readers see committed changes only and never touch the disk.
"""

from __future__ import annotations

import asyncio
import builtins
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from accountd.store._disk import Disk
from accountd.store._index import Index, check_account, clean_jwt, clean_meta
from accountd.store.base import Record, StoreError
from accountd.types import JWT, AccountKey

__all__ = ["DEFAULT_CHECKPOINT_BYTES", "DirectoryStore"]

log = logging.getLogger("accountd.store")

DEFAULT_CHECKPOINT_BYTES = 8 << 20
"""Checkpoint once the log holds this much (or as much as the snapshot, if that is larger)."""


@dataclass(slots=True)
class _Op:
    """One item for the writer: a change, a published mark, or neither (a barrier)."""

    record: Record | None = None
    published: tuple[AccountKey, int] | None = None
    future: asyncio.Future[None] | None = field(default=None)


def _settle(future: asyncio.Future[None] | None, error: StoreError | None = None) -> None:
    if future is None or future.done():  # done: the caller was cancelled; the change stands
        return
    if error is None:
        future.set_result(None)
    else:
        future.set_exception(error)


class DirectoryStore:
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
        self._state = "new"
        self._counts = {"writes": 0, "max_batch": 0}

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
        self._wake = asyncio.Event()
        self._state = "open"
        self._writer = asyncio.create_task(self._run(), name=f"accountd-store-writer:{self.path}")

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
            self._state = "closed"
            index = self._index
            await asyncio.to_thread(
                self._disk.close, list(index.records.values()), set(index.pending), index.revision
            )

    async def flush(self) -> None:
        """Return once everything submitted before is on disk, published marks and checkpoints too."""
        self._writable()
        await self._submit(_Op())

    async def check(self) -> None:
        self._ready()
        if self._disk.dirty and self._disk.broken is None:
            await self._submit(_Op())  # the writer retries the files it could not write
        await asyncio.to_thread(self._disk.probe)

    # -- reads: committed state, from memory ---------------------------------------------------

    async def get(self, account: AccountKey) -> Record:
        account = check_account(account)
        self._ready()
        return self._index.get(account)

    async def lookup(self, account: AccountKey) -> Record | None:
        account = check_account(account)
        self._ready()
        return self._index.records.get(account)

    async def list(self, *, after: AccountKey | None = None, limit: int | None = None) -> list[AccountKey]:
        self._ready()
        return self._index.page(after, limit)

    async def count(self) -> int:
        self._ready()
        return len(self._index.live)

    async def pending(self) -> builtins.list[Record]:
        self._ready()
        return self._index.pending_records()

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
        # Cleared in memory at once; logged with the next batch without waiting for it. Losing
        # the mark in a crash only means publishing that change once more.
        if self._index.mark_published(account, revision) and self._disk.broken is None:
            self._queue.append(_Op(published=(account, revision)))
            self._wake.set()

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
            await self._commit(batch)
            if self._disk.wants_checkpoint():
                await self._checkpoint()

    async def _commit(self, batch: builtins.list[_Op]) -> None:
        changes = [op.record for op in batch if op.record is not None]
        published = [op.published for op in batch if op.published is not None]
        try:
            failed = await asyncio.to_thread(self._disk.commit, changes, published)
        except Exception as exc:
            if isinstance(exc, StoreError):
                error = exc
            else:  # not an I/O error we know: the state on disk is unknown
                error = StoreError(f"directory store {self.path}: unexpected error: {exc!r}")
                self._disk.broken = str(error)
                log.exception("directory store %s: writer failed", self.path)
            # Whatever was staged since may build on this batch: fail it too.
            rest, self._queue = self._queue, []
            self._staged.clear()
            for op in batch + rest:
                _settle(op.future, error)
            return
        for record in changes:
            self._index.apply(record, pending=True)
            if self._staged.get(record.account) is record:
                del self._staged[record.account]
        self._counts["writes"] += len(changes)
        self._counts["max_batch"] = max(self._counts["max_batch"], len(changes))
        for op in batch:
            reason = failed.get(op.record.account) if op.record is not None else None
            _settle(op.future, StoreError(reason) if reason is not None else None)

    async def _checkpoint(self) -> None:
        index = self._index
        records, pending = list(index.records.values()), set(index.pending)
        try:
            await asyncio.to_thread(self._disk.checkpoint, records, pending, index.revision)
        except StoreError as exc:  # the log stays authoritative; retried once it grew further
            log.warning("%s", exc)
