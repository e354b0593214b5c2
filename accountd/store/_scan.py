"""The directory store's background scan: files other tools wrote while accountd was stopped.

Forward pass: every ``<PUB>.jwt`` whose status changed (``st_ctime``) after the last ``syncfs``
the store recorded — every file, on a directory never indexed — is read; where it differs from
the index it is adopted (:meth:`DirectoryStore.adopt`). The directory is streamed, a chunk per
call in a worker thread, so a million files cost constant memory and the event loop stays free.

Reverse pass, only when a directory itself changed while accountd was stopped (a file was added,
removed or renamed), or on a first index over accounts an interrupted one left: the live accounts
are paged through and those whose file is gone are forgotten. A routine scan (not a first index)
pauses between its slices, so that it takes at most half of the interpreter from the event loop.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from accountd.store._background import BackgroundPass
from accountd.store.base import StoreError
from accountd.types import AccountKey

if TYPE_CHECKING:
    from accountd.store.directory import DirectoryStore

__all__ = ["Scan"]

log = logging.getLogger("accountd.store")

MARGIN_NS = 2_000_000_000
"""Files changed this long before the last recorded ``syncfs`` are read too (clock granularity)."""
SLICE = 0.05
"""Seconds of work per call in the thread, between which the event loop runs."""
ADOPT = 512
"""Files read per call at most (then adopted in one batch)."""
PAGE = 1000


class Scan(BackgroundPass):
    def __init__(self, store: DirectoryStore) -> None:
        super().__init__()
        self.store = store
        self.counters = {"scanned_files": 0, "read_files": 0}

    def start(self) -> None:
        self.store.files.seen = 0
        self._begin(f"accountd-scan:{self.store.root}")

    def stats(self) -> dict[str, int | str]:
        return {**self.counters, "scan": self.state}

    async def _run(self) -> None:
        store = self.store
        full = not store.indexed
        state = store._db.state
        synced = int(state.get("synced_ns") or 0)
        closed = int(state.get("closed_ns") or 0)  # 0: never closed cleanly (or never opened)
        since = 0 if full or not synced else synced - MARGIN_NS
        held = store._db.counters["records"] + store._db.counters["tombstones"]
        try:
            if full:  # a removed file matters only if the index held accounts before this scan
                moved = held > 0
            else:  # a directory changed while accountd was stopped: files were added or removed
                moved = await asyncio.to_thread(self._directories_changed, (closed or synced) - MARGIN_NS)
            entries = store.files.changed(since)
            while True:
                found, more = await asyncio.to_thread(self._chunk, entries, since)
                if found:
                    await asyncio.gather(*(store.adopt(a, c, m) for a, c, m in found))
                if not more:
                    break
                if not full:  # a routine check: take at most half of the GIL from the event loop
                    await asyncio.sleep(SLICE)
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

    def _chunk(self, entries: Iterator[tuple[AccountKey, Path] | None], since: int
               ) -> tuple[list[tuple[AccountKey, str, Mapping[str, int | str] | None]], bool]:
        """In the thread: read (and describe) the next changed files, for at most :data:`SLICE`
        seconds; whether there may be more."""
        found: list[tuple[AccountKey, str, Mapping[str, int | str] | None]] = []
        deadline = time.monotonic() + SLICE
        for item in entries:
            if item is None:  # every few hundred files: give the event loop the GIL, maybe stop
                time.sleep(0)
                if time.monotonic() > deadline or self._halt:
                    self._sync_counters()
                    return found, not self._halt
                continue
            account, path = item
            self.counters["read_files"] += 1
            content = self.store.files.read(path)
            if content is not None:
                found.append((account, content, self.store.describe(content)))
            if len(found) >= ADOPT:
                self._sync_counters()
                return found, True
        self._sync_counters()
        return found, False

    def _sync_counters(self) -> None:
        self.counters["scanned_files"] = self.store.files.seen

    def _without_file(self, accounts: list[AccountKey]) -> list[AccountKey]:
        return [a for a in accounts if self.store.files.locate(a) is None]

    async def _reverse(self) -> None:
        after: AccountKey | None = None
        while True:
            page = await self.store.list(after=after, limit=PAGE)
            if not page:
                return
            missing = await asyncio.to_thread(self._without_file, page)
            if missing:
                await self.store.forget(missing)
            after = page[-1]
