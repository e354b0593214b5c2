"""The SQLite store (``--store sqlite:PATH``): every account in one database file, nothing in memory.

Start-up opens the file and reads one small ``state`` table: no account is read or decoded until
it is asked for, so a store of a million accounts opens as fast as an empty one. Reads are point
lookups on the caller's (the event loop's) connection and see committed changes only.

A write is staged at once (revision assigned, compare-and-set checked against committed and staged
changes) and handed to **the writer**, one task driving one worker thread: it commits every change
that arrived meanwhile in one transaction, fsync'd once (a group commit), and only then do the
puts and deletes return. The pending mark of the outbox is part of the same row, and the version
history keeps (:mod:`._versions`) and what searches see (:mod:`._search`) are written in the same
transaction, so a change, its notification and its history are durable together.

:meth:`~SQLiteStore.mark_published` clears the mark at once for :meth:`~SQLiteStore.pending` and
commits it with the next batch, never waiting for it: losing a mark in a crash only means
publishing that change once more.

:class:`~accountd.store.directory.DirectoryStore` is this store plus a mirror of ``.jwt`` files.
"""

from __future__ import annotations

import asyncio
import builtins
import logging
import os
import sqlite3
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from accountd.store._backfill import Backfill
from accountd.store._files import lock_file, make_dirs, unlock_file
from accountd.store._history import check_history, clean_origin
from accountd.store._index import check_account, check_expect, clean_jwt, clean_meta
from accountd.store._search import Searchable
from accountd.store._sql import Database, connect
from accountd.store._writer import GroupCommit
from accountd.store.base import DEFAULT_HISTORY, NotFound, Record, StoreError, Version
from accountd.types import JWT, AccountKey

__all__ = ["SQLiteStore"]

log = logging.getLogger("accountd.store")


class SQLiteStore(GroupCommit):
    """Account records in the SQLite database at ``path`` (created if missing, with its directory),
    and the last ``history`` versions of each account (0: none)."""

    name = "sqlite"

    def __init__(self, path: str | os.PathLike[str], *, history: int = DEFAULT_HISTORY) -> None:
        self.path = Path(path).absolute()
        self.versions_kept = check_history(history)
        """Versions kept per account (the ``history`` argument)."""
        self._db = Database(self._database_path(), history=self.versions_kept)
        self.backfill = Backfill(self)
        """Indexes rows an older accountd wrote for search, in the background (:mod:`._backfill`)."""
        self._executor: ThreadPoolExecutor | None = None
        self._searcher: ThreadPoolExecutor | None = None
        """Searches (which may scan the names) run here, on a connection of their own."""
        self._search_conn: sqlite3.Connection | None = None
        self._filled: list[tuple[AccountKey, int, Searchable]] = []
        self._fill_state: dict[str, Any] = {}
        self._staged: dict[AccountKey, Record] = {}
        self._queue = []
        self._marks: dict[AccountKey, int] = {}
        """Published marks cleared for :meth:`pending` but not committed yet."""
        self._wake = asyncio.Event()
        self._writer: asyncio.Task[None] | None = None
        self._revision = 0
        self._state = "new"
        self._broken: str | None = None
        self._lock_fd = -1
        self._counts = {"writes": 0, "batches": 0, "max_batch": 0}

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self.path)!r})"

    # -- what a subclass changes ----------------------------------------------------------------

    def _database_path(self) -> Path:
        return self.path

    def _lock_path(self) -> Path:
        return self.path.with_name(self.path.name + ".lock")

    def _prepare(self) -> None:
        """Blocking, before the database opens: create what the store needs on disk."""
        make_dirs(self.path.parent)

    # -- lifecycle -----------------------------------------------------------------------------

    async def open(self) -> None:
        if self._state not in ("new", "closed"):
            raise StoreError(f"{self!r} is already {self._state}")
        state, self._state = self._state, "opening"
        self._executor = ThreadPoolExecutor(1, thread_name_prefix=f"accountd-{self.name}")
        try:
            await self._in_thread(self._open_blocking)
        except BaseException:
            self._state = state
            self._executor.shutdown(wait=False)
            self._executor = None
            raise
        self._revision = self._db.counters["revision"]
        self._staged.clear()
        self._queue.clear()
        self._marks.clear()
        self._broken = None
        self._wake = asyncio.Event()
        self._filled, self._fill_state = [], {}
        self._searcher = ThreadPoolExecutor(1, thread_name_prefix=f"accountd-{self.name}-search")
        self._state = "open"
        self._writer = asyncio.create_task(self._run(), name=f"accountd-{self.name}-writer:{self.path}")
        if not self._db.state.get("search_filled"):
            self.backfill.start()

    def _open_blocking(self) -> None:
        try:
            self._prepare()
            self._lock_fd = lock_file(self._lock_path())
        except BlockingIOError:
            raise StoreError(f"{self.name} store {self.path} is in use by another process or store") from None
        except OSError as exc:
            raise StoreError(f"cannot open {self.name} store {self.path}: {exc}") from None
        try:
            self._db.open()
        except BaseException:
            self._lock_fd = unlock_file(self._lock_fd)
            raise

    async def close(self) -> None:
        if self._state != "open":
            return
        self._state = "closing"
        await self.backfill.stop()
        self._wake.set()
        try:
            if self._writer is not None:
                await self._writer
        finally:
            self._writer = None
            await self._closing()
            self._state = "closed"
            searcher, self._searcher = self._searcher, None
            if searcher is not None:
                await asyncio.get_running_loop().run_in_executor(searcher, self._close_search)
                searcher.shutdown(wait=True)
            executor, self._executor = self._executor, None
            if executor is not None:
                await asyncio.get_running_loop().run_in_executor(executor, self._close_blocking)
                executor.shutdown(wait=True)

    async def _closing(self) -> None:
        """Between the writer's end and the database's close (a subclass finishes its own work)."""

    def _close_search(self) -> None:
        conn, self._search_conn = self._search_conn, None
        if conn is not None:
            conn.close()

    def _close_blocking(self) -> None:
        self._db.close()
        self._lock_fd = unlock_file(self._lock_fd)

    async def flush(self) -> None:
        """Return once everything submitted before is committed, published marks included."""
        self._writable()
        await self._barrier()

    async def check(self) -> None:
        self._writable()
        await self._in_thread(self._probe)

    def _probe(self) -> None:
        self._db.row(AccountKey("A" + "A" * 55), self._db.writer)
        if not self._db.is_ours():
            raise StoreError(f"{self._database_path()} was removed or replaced; restart accountd")

    # -- reads: committed state ------------------------------------------------------------------

    async def get(self, account: AccountKey) -> Record:
        record = await self.lookup(account)
        if record is None or record.deleted:
            raise NotFound(check_account(account))
        return record

    async def lookup(self, account: AccountKey) -> Record | None:
        account = check_account(account)
        self._ready()
        found = self._db.row(account)
        if found is None:
            return self._missing(account)
        return found[0]

    def _missing(self, account: AccountKey) -> Record | None:
        """The record of an account the database does not hold (a subclass may find one elsewhere).
        Never awaits: puts take their revisions in call order."""
        return None

    async def list(self, *, after: AccountKey | None = None, limit: int | None = None) -> builtins.list[AccountKey]:
        self._ready()
        if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 0):
            raise ValueError(f"limit must be None or >= 0, got {limit!r}")
        return self._db.page(check_account(after) if after is not None else None, limit)

    async def count(self) -> int:
        self._ready()
        return self._db.counters["records"]

    async def history(self, account: AccountKey, *, limit: int | None = None) -> builtins.list[Version]:
        account = check_account(account)
        self._ready()
        return self._db.versions(account, limit)

    async def search(
        self, text: str, *, after: AccountKey | None = None, limit: int = 100
    ) -> builtins.list[AccountKey]:
        """See :mod:`._search`: committed state, in a thread of its own (a name may be scanned for)."""
        after = check_account(after) if after is not None else None
        self._ready()
        assert self._searcher is not None
        return await asyncio.get_running_loop().run_in_executor(self._searcher, self._search, text, after, limit)

    def _search(self, text: str, after: AccountKey | None, limit: int) -> builtins.list[AccountKey]:
        if self._search_conn is None:
            try:
                self._search_conn = connect(self._db.path)
            except sqlite3.Error as exc:
                raise StoreError(f"{self._db.path}: cannot search: {exc}") from exc
        return self._db.search(self._search_conn, text, after, limit)

    async def pending(self, *, limit: int | None = None) -> builtins.list[Record]:
        self._ready()
        # Rows whose marks are not committed yet are skipped: read that many more.
        records = self._db.pending(None if limit is None else limit + len(self._marks))
        out = [r for r in records if self._marks.get(r.account) != r.revision]
        return out if limit is None else out[:limit]

    # -- writes --------------------------------------------------------------------------------

    async def put(
        self,
        account: AccountKey,
        jwt: JWT,
        *,
        meta: Mapping[str, int | str] | None = None,
        expect: int | None = None,
        publish: bool = True,
        origin: Mapping[str, str] | None = None,
    ) -> Record:
        account, jwt, clean, source = check_account(account), clean_jwt(jwt), clean_meta(meta), clean_origin(origin)
        self._writable()
        current = self._current(account)
        check_expect(account, current, expect)
        record = Record(account, jwt, self._next_revision(), False, clean)
        await self._stage(record, pending=publish, origin=source)
        return record

    async def delete(
        self,
        account: AccountKey,
        token: JWT,
        *,
        meta: Mapping[str, int | str] | None = None,
        expect: int | None = None,
        origin: Mapping[str, str] | None = None,
    ) -> Record:
        account, token, clean, source = check_account(account), clean_jwt(token), clean_meta(meta), clean_origin(origin)
        self._writable()
        current = self._current(account)
        if current is None or current.deleted:
            raise NotFound(account)
        check_expect(account, current, expect)
        record = Record(account, token, self._next_revision(), True, clean)
        await self._stage(record, pending=True, origin=source)
        return record

    async def mark_published(self, account: AccountKey, revision: int) -> None:
        account = check_account(account)
        self._ready()
        if self._broken is None and self._marks.get(account, 0) < revision:
            self._marks[account] = revision
            self._wake.set()

    def stats(self) -> dict[str, int | str]:
        counters = self._db.counters
        return {
            "name": self.name,
            "path": str(self.path),
            "records": counters["records"],
            "tombstones": counters["tombstones"],
            "pending": max(0, counters["pending"] - len(self._marks)),
            "revision": self._revision,
            **self._counts,
            "unlogged_marks": len(self._marks),
            "queued": len(self._queue),
            "history": self.versions_kept,
            "search_index": "ready" if self._db.state.get("search_filled") else self.backfill.state,
        }

    # -- the writer ----------------------------------------------------------------------------

    def _ready(self) -> None:
        if self._state != "open":
            raise StoreError(f"{self.name} store {self.path} is not open")

    def _writable(self) -> None:
        self._ready()
        if self._broken is not None:
            raise StoreError(self._broken)

    def _next_revision(self) -> int:
        self._revision += 1
        return self._revision

    def _current(self, account: AccountKey) -> Record | None:
        """What a write builds on: the staged change, else the committed record, else :meth:`_missing`'s."""
        current = self._current_indexed(account)
        return current if current is not None else self._missing(account)

    def _current_indexed(self, account: AccountKey) -> Record | None:
        """The staged change of ``account``, else its committed record (never :meth:`_missing`)."""
        staged = self._staged.get(account)
        if staged is not None:
            return staged
        found = self._db.row(account)
        return found[0] if found is not None else None

    async def _in_thread(self, fn: Any, *args: Any) -> Any:
        assert self._executor is not None
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)

