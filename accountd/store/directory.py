"""The directory store: ``.jwt`` files that nats-server and nats-account-server read, indexed by SQLite.

On disk (``shard=True`` puts each JWT under a directory named by the key's last two characters)::

    <dir>/<PUB>.jwt              the JWT, stripped; 0600 (the layout of nats-server's full resolver)
    <dir>/<PUB>.jwt.deleted      a deleted account's last JWT, renamed as nats-server does
    <dir>/.accountd/             0700: everything accountd-specific, so the .jwt files stay plain
        lock                     flock'd while a store has the directory open
        index.db (-wal, -shm)    the SQLite index (:mod:`accountd.store.sqlite`): every record, its
                                 revision, meta and pending mark — the truth; the files mirror it

Reads and writes are those of :class:`~accountd.store.sqlite.SQLiteStore`: a write is durable once
its batch is committed to the index, and is answered then. **The file writer** (:mod:`._mirror`)
then writes the ``.jwt`` file of every changed account (temp → rename), many changes of one account
in between costing one write, and makes them durable with one ``syncfs`` per pass; only then is
the row's ``dirty`` flag cleared (with the next batch). Opening rewrites the files of rows still
dirty: those a crash may have lost or torn.

Start-up reads no account. **The scan** (:mod:`._scan`), in the background, looks for files other
tools changed while accountd was stopped: a file whose status changed after the last ``syncfs``
is read and, if it differs from the index, wins as a new revision that is not pending; a live
account whose file was removed (only looked for when a directory changed) is forgotten. The first
open of a directory without an index (one written by the Go nats-account-server or nats-server's
full resolver) indexes every file that way; until that first scan is over, an account not yet in
the index is read from its file when asked for.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from accountd.store._files import DELETED_SUFFIX, JWT_SUFFIX, TEMP_SUFFIX, JwtFiles, make_dirs
from accountd.store._index import clean_meta
from accountd.store._mirror import Mirror
from accountd.store._scan import Scan
from accountd.store._sql import Batch, Damaged, Forget
from accountd.store._versions import FILE_ORIGIN
from accountd.store.base import DEFAULT_HISTORY, Record, StoreError
from accountd.store.sqlite import SQLiteStore
from accountd.types import JWT, AccountKey

__all__ = ["DirectoryStore"]

log = logging.getLogger("accountd.store")

SIDECAR = ".accountd"
PEEK = 1000
"""Entries looked at before a directory without an index is refused as not holding JWTs."""


class DirectoryStore(SQLiteStore):
    """Account JWTs as files under ``path``, indexed in ``path/.accountd/index.db``."""

    name = "directory"

    def __init__(self, path: str | os.PathLike[str], *, shard: bool = False, scan: bool = True,
                 history: int = DEFAULT_HISTORY) -> None:
        self.root = Path(path).absolute()
        self.shard = shard
        self.scan_on_open = scan
        self.describe: Callable[[str], Mapping[str, int | str] | None] = lambda jwt: None
        """The meta to keep with a JWT another tool wrote (the service's: its ``iat``, ``jti``,
        ``exp``, so that serving it decodes nothing); ``None`` for one it cannot read. Called in
        the scan's thread."""
        self.files = JwtFiles(self.root, shard=shard)
        super().__init__(self.root, history=history)
        self.mirror = Mirror(self)
        self.scan = Scan(self)
        self._synced: list[tuple[AccountKey, int]] = []
        """Files made durable whose rows are still dirty: cleared with the next batch."""
        self._forgotten: list[Forget] = []
        self._state_changes: dict[str, Any] = {}
        self._counts.update(external=0, forgotten=0)

    def __repr__(self) -> str:
        return f"DirectoryStore({str(self.path)!r}, shard={self.shard})"

    # -- the SQLite store's hooks ----------------------------------------------------------------

    def _database_path(self) -> Path:
        return self.root / SIDECAR / "index.db"

    def _lock_path(self) -> Path:
        return self.root / SIDECAR / "lock"

    def _prepare(self) -> None:
        if self.root.exists() and not self.root.is_dir():
            raise StoreError(f"directory store {self.root}: not a directory")
        fresh = not self._database_path().exists()
        if fresh and self.root.is_dir():
            self._check_holds_jwts()
        make_dirs(self.root)
        make_dirs(self.root / SIDECAR)
        for old in ("log", "state.json"):  # the format before the index: its files are the truth
            path = self.root / SIDECAR / old
            if path.exists() and fresh:
                log.warning("%s: indexing the .jwt files again (the old %s is kept as %s.old)", self.root, old, old)
                os.replace(path, path.with_name(old + ".old"))

    def _check_holds_jwts(self) -> None:
        """Refuse a directory of other files (a wrong ``--store``): never scatter files into it."""
        others = 0
        with os.scandir(self.root) as it:
            for n, entry in enumerate(it):
                if n >= PEEK:
                    break
                name = entry.name
                ours = name.endswith((JWT_SUFFIX, DELETED_SUFFIX, JWT_SUFFIX + TEMP_SUFFIX))
                if ours or name.startswith(".") or len(name) == 2:
                    return
                others += 1
        if others:
            raise StoreError(f"directory store {self.root}: it holds {others if others < PEEK else 'many'} "
                             "files and none of them is a <PUB>.jwt; point --store at an empty directory "
                             "or at a directory of account JWTs")

    def _open_blocking(self) -> None:
        try:
            super()._open_blocking()
        except Damaged as exc:
            raise Damaged(f"{exc}; to rebuild the index from the .jwt files, stop accountd and move "
                          f"{self._database_path()} away (pending notifications and deletions are lost)") from None
        try:
            self.mirror.recover()
        except BaseException:
            self._close_blocking()
            raise

    async def open(self) -> None:
        self._synced, self._forgotten, self._state_changes = [], [], {}
        await super().open()
        self.mirror.start()
        if self.scan_on_open or not self.indexed:
            self.scan.start()

    async def _closing(self) -> None:
        await self.scan.stop()
        await self.mirror.stop()
        # The last batch: the marks of the files the mirror made durable, and when they were.
        state = {"synced_ns": self.mirror.synced_ns, "closed_ns": time.time_ns()}
        batch = Batch([], list(self._marks.items()), self._synced, [], state)
        if self._broken is None:
            try:
                await self._in_thread(self._db.commit, batch)
            except StoreError as exc:  # only costs rewriting those files on the next open
                log.warning("%s", exc)
        self._synced, self._marks = [], {}

    async def flush(self) -> None:
        """Return once everything submitted before is committed and its file written and durable
        (or failed: see :meth:`check`), the marks of both committed too."""
        await super().flush()
        await self.mirror.drain()
        await super().flush()

    async def check(self) -> None:
        """Raise :class:`StoreError` if the store cannot be written, or if ``.jwt`` files of committed
        changes could not be written (those are retried first)."""
        await super().check()
        await self.mirror.check()

    def _extras(self, batch: Batch) -> None:
        batch.synced, self._synced = self._synced, []
        batch.forgotten, self._forgotten = self._forgotten, []
        batch.state, self._state_changes = self._state_changes, {}
        matches = self.mirror.file_matches
        for change in batch.changes:
            change.dirty = not matches(change.record)

    def _has_extras(self) -> bool:
        return bool(self._synced or self._forgotten or self._state_changes)

    def _uncommitted(self, batch: Batch) -> None:
        self._synced = batch.synced + self._synced
        self._forgotten = batch.forgotten + self._forgotten
        self._state_changes = {**batch.state, **self._state_changes}

    def _committed(self, batch: Batch) -> None:
        self.mirror.changed([change.record for change in batch.changes])

    async def _before_batch(self) -> None:
        await self.mirror.backpressure()

    # -- what the mirror and the scan hand back --------------------------------------------------

    def synced(self, marks: list[tuple[AccountKey, int]]) -> None:
        """Files of these records are durable: clear their rows' dirty flags with the next batch."""
        if marks and self._state in ("open", "closing"):  # closing: the last batch takes them
            self._synced += marks
            self._wake.set()

    @property
    def indexed(self) -> bool:
        """Whether a scan of every file has completed once (else the index may miss accounts)."""
        return bool(self._db.state.get("indexed"))

    def scanned(self, *, complete: bool) -> None:
        if complete and not self.indexed:
            self._state_changes["indexed"] = 1
            self._wake.set()

    async def adopt(self, account: AccountKey, content: str, meta: Mapping[str, int | str] | None = None
                    ) -> Record | None:
        """A file another tool wrote: unless the index (or a staged change) holds the same, it wins
        as a new revision that is not pending. Returns the record now current."""
        record, future = self._adopt(account, content, meta)
        if future is not None:
            await future
        return record

    def _adopt(self, account: AccountKey, content: str, meta: Mapping[str, int | str] | None
               ) -> tuple[Record | None, asyncio.Future[None] | None]:
        current = self._current_indexed(account)
        if current is not None and not current.deleted and current.jwt == content:
            return current, None
        if account in self.mirror.dirty or self._state != "open":
            return current, None  # our own change is on its way to that file
        self._counts["external"] += 1
        record = Record(account, JWT(content), self._next_revision(), False, clean_meta(meta))
        self.mirror.external.add((account, record.revision))
        return record, self._stage(record, pending=False, origin=FILE_ORIGIN)

    async def forget(self, accounts: list[AccountKey]) -> None:
        """Live accounts whose file another tool removed while we were stopped."""
        gone = [a for a in accounts if a not in self._staged and a not in self.mirror.dirty]
        if gone and self._state == "open":
            log.warning("%s: the JWT files of %d accounts were removed; forgetting them (e.g. %s)",
                        self.root, len(gone), gone[0])
            self._counts["forgotten"] += len(gone)
            self._forgotten += [Forget(a, self._next_revision(), time.time()) for a in gone]
            await SQLiteStore.flush(self)  # the index only: not the files, which the scan is reading

    # -- lookups of accounts not indexed yet -----------------------------------------------------

    def _missing(self, account: AccountKey) -> Record | None:
        """Until the first scan is over, an account not in the index may be in its file: read it
        (one small file, on the loop: puts must take their revisions in call order) and adopt it."""
        if self.indexed or self._state != "open":
            return None
        path = self.files.locate(account)
        content = self.files.read(path) if path is not None else None
        if content is None:
            return None
        record, future = self._adopt(account, content, self.describe(content))
        if future is not None:
            future.add_done_callback(_consume)
        return record

    def stats(self) -> dict[str, int | str]:
        return {
            **super().stats(),
            "layout": "sharded" if self.shard else "flat",
            "indexed": int(self.indexed),
            **self.mirror.stats(),
            **self.scan.stats(),
        }


def _consume(future: asyncio.Future[None]) -> None:
    """An adoption nobody awaits: its failure fails the writes built on it, and is logged there."""
    if not future.cancelled():
        future.exception()
