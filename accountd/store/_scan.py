"""The directory store's background scan: files other tools wrote while accountd was stopped.

Forward pass: every ``<PUB>.jwt`` whose status changed (``st_ctime``) after the last ``syncfs``
the store recorded — every file, on a directory never indexed — is read; where it differs from
the index it is adopted (:meth:`DirectoryStore.adopt`). The directory is streamed, a chunk per
call in a worker thread, so a million files cost constant memory and the event loop stays free.

Reverse pass, only when a directory itself changed since then (a file was added, removed or
renamed) or on the first index: the live accounts are paged through and those whose file is gone
are forgotten.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from accountd.store.base import StoreError
from accountd.types import AccountKey

if TYPE_CHECKING:
    from accountd.store.directory import DirectoryStore

__all__ = ["Scan"]

log = logging.getLogger("accountd.store")

MARGIN_NS = 2_000_000_000
"""Files changed this long before the last recorded ``syncfs`` are read too (clock granularity)."""
EXAMINE = 4096
"""Directory entries looked at per call in the thread."""
ADOPT = 512
"""Files read per call at most (then adopted in one batch)."""
PAGE = 1000


class Scan:
    def __init__(self, store: DirectoryStore) -> None:
        self.store = store
        self._task: asyncio.Task[None] | None = None
        self.done = asyncio.Event()
        self.counters = {"scanned_files": 0, "read_files": 0}
        self.state = "idle"

    def start(self) -> None:
        self.done = asyncio.Event()
        self.state = "running"
        self._task = asyncio.create_task(self._run(), name=f"accountd-scan:{self.store.root}")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self.state == "running":
            self.state = "stopped"
        self.done.set()

    async def wait(self) -> None:
        """Until the scan is over (at once when none runs)."""
        if self._task is not None:
            await self.done.wait()

    def stats(self) -> dict[str, int | str]:
        return {**self.counters, "scan": self.state}

    async def _run(self) -> None:
        store = self.store
        full = not store.indexed
        synced = int(store._db.state.get("synced_ns") or 0)
        since = 0 if full or not synced else synced - MARGIN_NS
        try:
            moved = full or await asyncio.to_thread(self._directories_changed, since)
            entries = store.files.entries()
            while True:
                found, more = await asyncio.to_thread(self._chunk, entries, since)
                if found:
                    await asyncio.gather(*(store.adopt(a, c, m) for a, c, m in found))
                if not more:
                    break
            store.scanned(complete=True)  # every file is in the index now; what follows only forgets
            if moved:
                await self._reverse()
        except (StoreError, OSError) as exc:
            self.state = "failed"
            log.warning("%s: scanning the JWT files failed (served from the index): %s", store.root, exc)
        else:
            self.state = "done"
            if self.counters["read_files"]:
                log.info("%s: scanned %d JWT files, read %d changed ones", store.root,
                         self.counters["scanned_files"], self.counters["read_files"])
        finally:
            self.done.set()

    def _directories_changed(self, since: int) -> bool:
        return any(d.stat().st_mtime_ns > since for d in self.store.files.directories())

    def _chunk(self, entries: Iterator[tuple[AccountKey, Path, os.stat_result]], since: int
               ) -> tuple[list[tuple[AccountKey, str, Mapping[str, int | str] | None]], bool]:
        found: list[tuple[AccountKey, str, Mapping[str, int | str] | None]] = []
        for n, (account, path, status) in enumerate(entries):
            self.counters["scanned_files"] += 1
            if status.st_ctime_ns > since:
                self.counters["read_files"] += 1
                content = self.store.files.read(path)
                if content is not None:
                    found.append((account, content, self.store.describe(content)))
            if n + 1 >= EXAMINE or len(found) >= ADOPT:
                return found, True
        return found, False

    def _missing(self, accounts: list[AccountKey]) -> list[AccountKey]:
        return [a for a in accounts if self.store.files.locate(a) is None]

    async def _reverse(self) -> None:
        after: AccountKey | None = None
        while True:
            page = await self.store.list(after=after, limit=PAGE)
            if not page:
                return
            missing = await asyncio.to_thread(self._missing, page)
            if missing:
                await self.store.forget(missing)
            after = page[-1]
