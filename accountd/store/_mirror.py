"""The directory store's file writer: the ``.jwt`` files follow the index, a little behind it.

A committed change makes its account *dirty*. Passes, in a thread of their own, write the latest
record of every dirty account (temp → rename; a tombstone renames the file ``.jwt.deleted``), then
make them durable with one ``syncfs``; the store then clears the rows' ``dirty`` flags with its
next batch. A pass starts at once after a quiet spell and at most every :data:`PASS_SECONDS` under
load, so many changes of one account in between cost one file write. When more than
:data:`MAX_DIRTY` files are behind (a flood of new accounts, each needing a file of its own), the
store's writer waits before its next batch. A file that cannot be written does not fail the write
that changed it (the index has it): it stays dirty, is retried with a back-off, and makes
:meth:`Mirror.check` raise until it is written.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

from accountd.store._files import syncfs, write_file
from accountd.store._sql import Batch
from accountd.store.base import Record, StoreError
from accountd.types import AccountKey

if TYPE_CHECKING:
    from accountd.store.directory import DirectoryStore

__all__ = ["MAX_DIRTY", "Mirror"]

log = logging.getLogger("accountd.store")

PASS_SECONDS = 0.5
MAX_DIRTY = 512
CHUNK = 64
"""Files written per call in the thread: the progress a writer held by backpressure sees."""
RETRY_SECONDS = (0.05, 2.0)


class Mirror:
    """The ``.jwt`` files of one :class:`~accountd.store.directory.DirectoryStore`."""

    def __init__(self, store: DirectoryStore) -> None:
        self.store = store
        self.files = store.files
        self.dirty: dict[AccountKey, Record] = {}
        """Committed changes whose file is not written yet: the latest one per account."""
        self.failed: dict[AccountKey, str] = {}
        """Dirty accounts whose last write failed, with why."""
        self.external: set[tuple[AccountKey, int]] = set()
        """Changes adopted from a file another tool wrote: that file already holds them."""
        self.synced_ns = 0
        """When the last ``syncfs`` started: every file written before is durable."""
        self._executor: ThreadPoolExecutor | None = None
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._asked = asyncio.Event()
        self._progress = asyncio.Event()
        self._waiters: list[asyncio.Future[None]] = []
        self._stop = False
        self.counters = dict.fromkeys(("files_written", "file_errors", "file_passes", "backpressure_waits"), 0)

    # -- lifecycle -------------------------------------------------------------------------------

    def recover(self) -> None:
        """Blocking, at open: rewrite the files of rows a crash left dirty, make them durable."""
        records = self.store._db.dirty()
        started = time.time_ns()
        failed = self._write(records)
        if failed:
            raise StoreError(f"cannot write JWT files: {next(iter(failed.values()))}")
        try:
            syncfs(self.files.root)
        except OSError as exc:
            raise StoreError(f"directory store {self.files.root}: {exc}") from exc
        marks = [(r.account, r.revision) for r in records]
        self.synced_ns = started
        # closed_ns 0 until a clean close: after a crash the scan compares with synced_ns instead.
        self.store._db.commit(Batch([], [], marks, [], {"synced_ns": started, "closed_ns": 0}))

    def start(self) -> None:
        self.dirty.clear()
        self.failed.clear()
        self.external.clear()
        self._stop = False
        self._wake, self._asked, self._progress = asyncio.Event(), asyncio.Event(), asyncio.Event()
        self._waiters = []
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="accountd-files")
        self._task = asyncio.create_task(self._run(), name=f"accountd-files:{self.files.root}")

    async def stop(self) -> None:
        """Write what is left (best effort: a failure only costs rewriting it on the next open)."""
        self._stop = True
        self._wake.set()
        self._asked.set()
        if self._task is not None:
            await self._task
            self._task = None
        if self.dirty and self.store._broken is None:
            await self._pass()
            if self.dirty:
                log.warning("%s: closed with %d JWT files not written (rewritten on the next open): %s",
                            self.files.root, len(self.dirty), next(iter(self.failed.values()), ""))
        if self._executor is not None:
            self._executor.shutdown(wait=True)
            self._executor = None

    # -- what the store calls --------------------------------------------------------------------

    def changed(self, records: list[Record]) -> None:
        """Committed changes: their files are to be written."""
        for record in records:
            if (record.account, record.revision) in self.external:
                self.external.discard((record.account, record.revision))
                continue
            self.dirty[record.account] = record
        if records:
            self._wake.set()

    def file_matches(self, record: Record) -> bool:
        return (record.account, record.revision) in self.external

    async def drain(self) -> None:
        """Wait until every file dirty now is written and durable, or a pass failed to write some."""
        while self.dirty and self.store._broken is None and not self._stop:
            await self._next_pass()
            if self.failed:
                return

    async def backpressure(self) -> None:
        if len(self.dirty) > MAX_DIRTY:
            self.counters["backpressure_waits"] += 1
        while len(self.dirty) > MAX_DIRTY and not self.failed and not self._stop:
            self._progress.clear()
            self._wake.set()
            self._asked.set()
            await self._progress.wait()

    async def check(self) -> None:
        if self.failed:
            await self._next_pass()
        if self.failed:
            count, why = len(self.failed), next(iter(self.failed.values()))
            raise StoreError(f"directory store {self.files.root}: {count} JWT files not written: {why}")
        probe = self.files.root / ".accountd-probe"
        try:
            await asyncio.to_thread(write_file, probe, b"ok\n", sync=True)
            await asyncio.to_thread(probe.unlink)
        except OSError as exc:
            raise StoreError(f"directory store {self.files.root} is not writable: {exc}") from exc

    def stats(self) -> dict[str, int]:
        return {**self.counters, "unwritten_files": len(self.dirty), "failed_files": len(self.failed)}

    # -- the passes ------------------------------------------------------------------------------

    async def _next_pass(self) -> None:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(future)
        self._wake.set()
        self._asked.set()
        await future

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        delay, not_before = RETRY_SECONDS[0], 0.0
        while not self._stop:
            if not self._waiters and not self.dirty:
                self._wake.clear()
                await self._wake.wait()
                continue
            pause = not_before - loop.time()
            urgent = len(self.dirty) > MAX_DIRTY
            if pause > 0 and not self._waiters and (self.failed or not urgent):
                self._asked.clear()
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(pause):
                        await self._asked.wait()
                continue
            waiters, self._waiters = self._waiters, []
            self._asked.clear()
            started = loop.time()
            failed = await self._pass()
            for future in waiters:
                if not future.done():
                    future.set_result(None)
            if failed:
                not_before, delay = loop.time() + delay, min(delay * 2, RETRY_SECONDS[1])
            else:
                not_before, delay = started + PASS_SECONDS, RETRY_SECONDS[0]
        for future in self._waiters:
            if not future.done():
                future.set_result(None)
        self._waiters = []

    async def _pass(self) -> bool:
        """Write every file dirty now, then ``syncfs``; True if some could not be written."""
        self.counters["file_passes"] += 1
        work = list(self.dirty.items())
        loop = asyncio.get_running_loop()
        written: list[tuple[AccountKey, Record]] = []
        failed: dict[AccountKey, str] = {}
        for start in range(0, len(work), CHUNK):
            chunk = [record for _, record in work[start : start + CHUNK]]
            try:
                errors = await loop.run_in_executor(self._executor, self._write, chunk)
            except Exception as exc:  # a bug, not an I/O error: keep the files dirty and retry
                log.exception("%s: the file writer failed", self.files.root)
                errors = {r.account: f"writing JWT files failed: {exc!r}" for r in chunk}
            failed.update(errors)
            written += [(r.account, r) for r in chunk if r.account not in errors]
            self._progress.set()
        if not written and not failed:
            return False
        started = time.time_ns()
        try:
            await loop.run_in_executor(self._executor, syncfs, self.files.root)
        except OSError as exc:
            failed.update({a: f"saved, but syncfs failed: {exc}" for a, _ in written})
            written = []
        else:
            self.synced_ns = started
        for account, record in written:
            if self.dirty.get(account) is record:
                del self.dirty[account]
            self.failed.pop(account, None)
        new = failed.keys() - self.failed.keys()
        self.failed.update(failed)
        self.counters["files_written"] += len(written)
        self.counters["file_errors"] += len(failed)
        if new:  # retries of the same files fail quietly
            log.warning("%s: %d JWT files not written: %s", self.files.root, len(new), failed[next(iter(new))])
        self._progress.set()  # a writer held by backpressure looks again now that dirty shrank
        self.store.synced([(a, r.revision) for a, r in written])
        return bool(failed)

    def _write(self, records: list[Record]) -> dict[AccountKey, str]:
        failed: dict[AccountKey, str] = {}
        for record in records:
            try:
                if record.deleted:
                    self.files.remove(record.account)
                else:
                    self.files.write(record.account, record.jwt)
            except (OSError, ValueError) as exc:  # ValueError: a JWT that is not valid UTF-8
                failed[record.account] = f"saved, but writing {self.files.path(record.account)} failed: {exc}"
        return failed
