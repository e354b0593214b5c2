"""The background fill of the search tables, for rows an older accountd wrote (see :mod:`._search`).

A database made before the search tables existed opens at once: the tables are created empty and
``search_filled`` is not set. This task then walks the live accounts in key order, a slice of
:data:`SLICE` seconds at a time in a worker thread on a connection of its own, takes each one's name
and tags (from its meta, else from its JWT's payload), and hands them to the store's writer, which
indexes a row only if it is still at the revision read (a change since indexed it already). The
last key done is committed with them (``search_after``), so a restart goes on from there; it pauses
as long as each slice took, so that it takes at most half of the interpreter from the event loop.
Until it is done, searches by name or tag miss the accounts not reached yet; key prefixes are
always complete.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from accountd.store._background import BackgroundPass
from accountd.store._search import Searchable, searchable
from accountd.store._sql import connect
from accountd.store.base import StoreError
from accountd.types import AccountKey

if TYPE_CHECKING:
    from accountd.store.sqlite import SQLiteStore

__all__ = ["Backfill"]

log = logging.getLogger("accountd.store")

SLICE = 0.05
"""Seconds of work per call in the thread, each followed by as long a pause."""
PAGE = 256


class Backfill(BackgroundPass):
    def __init__(self, store: SQLiteStore) -> None:
        super().__init__()
        self.store = store
        self.rows = 0
        """Live rows looked at so far by this run."""
        self._executor: ThreadPoolExecutor | None = None
        """One thread: a slice still running when the task is cancelled ends before the close."""

    def start(self) -> None:
        self.rows = 0
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="accountd-search-fill")
        self._begin(f"accountd-search-fill:{self.store.path}")

    def _stopped(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True)
            self._executor = None

    async def _run(self) -> None:
        store = self.store
        after = AccountKey(str(store._db.state.get("search_after") or ""))
        conn: sqlite3.Connection | None = None
        try:
            conn = await self._in_thread(connect, store._db.path)
            while True:
                started = time.monotonic()
                found, after, more = await self._in_thread(self._chunk, conn, after)
                state = {"search_after": after} if more else {"search_filled": 1}
                await store._fill(found, state)
                if not more:
                    break
                await asyncio.sleep(max(0.0, time.monotonic() - started))
        except (StoreError, sqlite3.Error) as exc:
            self.state = "failed"
            log.warning("%s: indexing accounts for search failed (retried at the next start): %s", store.path, exc)
        else:
            self.state = "done"
            log.info("%s: indexed %d accounts for search", store.path, self.rows)
        finally:
            if conn is not None:  # after the slice in the thread, if any: the executor has one thread
                assert self._executor is not None
                self._executor.submit(conn.close)
            self.done.set()

    async def _in_thread(self, fn: Any, *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)

    def _chunk(self, conn: sqlite3.Connection, after: AccountKey
               ) -> tuple[list[tuple[AccountKey, int, Searchable]], AccountKey, bool]:
        """In the thread: the next live rows for :data:`SLICE` seconds; the last key read, and
        whether there may be more."""
        found: list[tuple[AccountKey, int, Searchable]] = []
        deadline = time.monotonic() + SLICE
        while time.monotonic() < deadline and not self._halt:
            records = self.store._db.live_after(conn, after, PAGE)
            self.rows += len(records)
            for record in records:
                what = searchable(record.jwt, record.meta)
                if what[0] or what[1]:
                    found.append((record.account, record.revision, what))
            if len(records) < PAGE:
                return found, after if not records else records[-1].account, False
            after = records[-1].account
        return found, after, True
