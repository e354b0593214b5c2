"""The SQLite database under the SQLite and directory stores: schema, reads, and one writer's batches.

One file in WAL mode. Readers (the event loop, the directory scan) each use a connection of their
own and see committed transactions only; the one writer commits a whole batch of changes in one
transaction, and with ``synchronous=FULL`` the commit returns once the WAL is fsync'd: that is the
durability point of every change in the batch (a group commit). SQLite checkpoints the WAL into
the database by itself; a crash at any point leaves either the whole transaction or none of it.

Schema (``format`` = 1)::

    accounts(account TEXT PRIMARY KEY, revision, deleted, jwt, meta, pending, dirty)
        one row per account ever stored: the live JWT, or for a tombstone the delete token;
        meta is compact JSON or NULL; pending = not yet published; dirty = (directory store) its
        .jwt file may not be on disk yet
    state(name TEXT PRIMARY KEY, value)
        format, revision (the highest handed out), records, tombstones, pending, search_filled (1
        once every row is in the search tables), and the directory store's own marks
    history, search_names, search_tags
        the kept versions of each account (:mod:`._versions`) and what searches look at
        (:mod:`._search`), written in the transaction of each change

Every table but ``accounts`` and ``state`` was added later: ``CREATE TABLE IF NOT EXISTS`` creates
it empty in a database an older accountd wrote, and nothing is read at open. Rows predating
the search tables are indexed in the background (:mod:`._backfill`).

Partial indexes keep what must be walked small: the live keys (``list``), the pending ones (the
outbox) and the dirty ones. Nothing here is asynchronous; the stores call it from the right thread.
"""

from __future__ import annotations

import functools
import json
import os
import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from accountd.store import _search, _versions
from accountd.store._files import FILE_MODE
from accountd.store._history import EMPTY_ORIGIN
from accountd.store._index import EMPTY_META
from accountd.store.base import Record, StoreError, Version
from accountd.types import JWT, AccountKey

__all__ = ["Batch", "Change", "Damaged", "Database", "Forget", "Gone", "connect"]

FORMAT = 1
READ_CACHE_KIB = 4096
"""Page cache of the reading connection: the b-tree's inner pages stay in memory, leaves come from
the operating system's cache (which RSS does not count)."""

_SCHEMA = """
CREATE TABLE IF NOT EXISTS accounts (
    account  TEXT PRIMARY KEY NOT NULL,
    revision INTEGER NOT NULL,
    deleted  INTEGER NOT NULL DEFAULT 0,
    jwt      TEXT NOT NULL,
    meta     TEXT,
    pending  INTEGER NOT NULL DEFAULT 0,
    dirty    INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS accounts_live ON accounts(account) WHERE deleted = 0;
CREATE INDEX IF NOT EXISTS accounts_pending ON accounts(account) WHERE pending = 1;
CREATE INDEX IF NOT EXISTS accounts_dirty ON accounts(account) WHERE dirty = 1;
CREATE TABLE IF NOT EXISTS state (name TEXT PRIMARY KEY NOT NULL, value) WITHOUT ROWID;
""" + _versions.SCHEMA + _search.SCHEMA

_COUNTERS = ("revision", "records", "tombstones", "pending")

_INSERT = "INSERT INTO accounts(account, revision, deleted, jwt, meta, pending, dirty) VALUES (?, ?, ?, ?, ?, ?, ?)"
_FLAGS = ("deleted", "pending", "dirty")


@functools.cache
def _update(flags: tuple[str, ...]) -> str:
    """An UPDATE of one row's version that assigns only the ``flags`` that change: SQLite rewrites
    the entries of every index whose columns (or partial-index condition) an UPDATE assigns, even to
    the same value — at a million accounts a random page of ``accounts_live`` for each change."""
    return ("UPDATE accounts SET " + ", ".join(["revision = ?", "jwt = ?", "meta = ?", *(f"{f} = ?" for f in flags)])
            + " WHERE account = ?")

_ROW = "SELECT revision, deleted, jwt, meta, pending FROM accounts WHERE account = ?"
_LIVE_AFTER = "WHERE deleted = 0 AND account > ? ORDER BY account LIMIT ?"


def connect(path: Path, *, cache_kib: int = 2048) -> sqlite3.Connection:
    """A connection in autocommit mode (transactions are explicit), WAL, fsync at each commit."""
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, cached_statements=32)
    try:
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = FULL")
        conn.execute(f"PRAGMA cache_size = -{int(cache_kib)}")
        conn.execute("PRAGMA busy_timeout = 5000")
    except BaseException:
        conn.close()
        raise
    return conn


def _meta(text: str | None) -> Mapping[str, int | str]:
    if not text:
        return EMPTY_META
    return MappingProxyType(json.loads(text))


def _meta_text(meta: Mapping[str, int | str]) -> str | None:
    return json.dumps(dict(meta), separators=(",", ":"), sort_keys=True) if meta else None


class Gone(StoreError):
    """The database file was removed or replaced while open: nothing can be written any more."""


class Damaged(StoreError):
    """The file is not a database, or a damaged one."""


@dataclass(slots=True)
class Change:
    """One put or delete: the record, whether it is pending (and its file dirty), and its version's
    time and origin."""

    record: Record
    pending: bool
    stored_at: float
    origin: Mapping[str, str] = field(default_factory=lambda: EMPTY_ORIGIN)
    dirty: bool = False


@dataclass(slots=True)
class Forget:
    """A live account whose file another tool removed: its row goes, a deleted version is kept."""

    account: AccountKey
    revision: int
    stored_at: float


@dataclass(slots=True)
class Batch:
    """One group commit: changes (in the order they were made), marks to clear, state to set,
    and rows the background fill indexed for search (account, the revision it read, what it found)."""

    changes: list[Change]
    published: list[tuple[AccountKey, int]]
    synced: list[tuple[AccountKey, int]]
    forgotten: list[Forget]
    state: dict[str, Any]
    filled: list[tuple[AccountKey, int, _search.Searchable]] = field(default_factory=list)


class Database:
    """The rows of one store: a reading connection (the caller's thread) and a writing one."""

    def __init__(self, path: Path, *, history: int) -> None:
        self.path = path
        self.history = history
        """Versions kept per account (0: none written)."""
        self.reader: sqlite3.Connection | None = None
        self.writer: sqlite3.Connection | None = None
        self.counters: dict[str, int] = dict.fromkeys(_COUNTERS, 0)
        self.state: dict[str, Any] = {}
        """Every ``state`` row, as read at open and kept current by :meth:`commit`."""
        self._identity: tuple[int, int] | None = None

    def _stat(self) -> tuple[int, int]:
        status = os.stat(self.path)
        return status.st_dev, status.st_ino

    def is_ours(self) -> bool:
        """Whether the path still names the file we opened (not removed or replaced underneath)."""
        try:
            return self._stat() == self._identity
        except OSError:
            return False

    # -- open / close --------------------------------------------------------------------------

    def open(self) -> None:
        """Create or open the database, check its format, read ``state``; :class:`StoreError` if not."""
        try:
            # Created 0600 first: SQLite gives its -wal and -shm files the database file's mode.
            os.close(os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, FILE_MODE))
            self.writer = connect(self.path, cache_kib=2048)
            self.writer.executescript(_SCHEMA)
            rows = dict(self.writer.execute("SELECT name, value FROM state").fetchall())
            if not rows:  # a new database: its search tables are complete from the start
                self.writer.execute("INSERT INTO state(name, value) VALUES ('format', ?), ('search_filled', 1)",
                                    (FORMAT,))
                rows = {"format": FORMAT, "search_filled": 1}
            if rows.get("format") != FORMAT:
                raise StoreError(f"{self.path}: unknown index format {rows.get('format')!r} (expected {FORMAT})")
            self.state = rows
            for name in _COUNTERS:
                self.counters[name] = int(rows.get(name) or 0)
            self.reader = connect(self.path, cache_kib=READ_CACHE_KIB)
            self._identity = self._stat()
        except (sqlite3.Error, OSError) as exc:
            self.close()
            error = Damaged if isinstance(exc, sqlite3.DatabaseError) and _damaged(exc) else StoreError
            raise error(f"cannot open {self.path}: {exc}{_hint(exc)}") from None
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        for conn in (self.reader, self.writer):
            if conn is not None:
                try:
                    conn.close()
                except sqlite3.Error:  # closing cannot lose committed data
                    pass
        self.reader = self.writer = None

    # -- reads (any thread with its own connection; the loop uses ``reader``) -------------------

    def row(self, account: AccountKey, conn: sqlite3.Connection | None = None) -> tuple[Record, bool] | None:
        """The record of ``account`` and whether it is pending, or ``None``."""
        conn = conn or self._reader()
        try:
            found = conn.execute(_ROW, (account,)).fetchone()
        except sqlite3.Error as exc:
            raise StoreError(f"{self.path}: cannot read {account}: {exc}") from exc
        if found is None:
            return None
        revision, deleted, jwt, meta, pending = found
        return Record(account, JWT(jwt), revision, bool(deleted), _meta(meta)), bool(pending)

    def versions(self, account: AccountKey, limit: int | None) -> list[Version]:
        """See :func:`._versions.read`; at most ``limit`` and ``history`` of them."""
        keep = self.history if limit is None else max(0, min(limit, self.history))
        if not keep:
            return []
        try:
            return _versions.read(self._reader(), account, keep)
        except sqlite3.Error as exc:
            raise StoreError(f"{self.path}: cannot read the history of {account}: {exc}") from exc

    def search(self, conn: sqlite3.Connection, text: str, after: AccountKey | None, limit: int) -> list[AccountKey]:
        """See :func:`._search.search`; on ``conn`` (a connection of the caller's thread)."""
        try:
            return _search.search(conn, text, after, limit)
        except sqlite3.Error as exc:
            raise StoreError(f"{self.path}: cannot search: {exc}") from exc

    def page(self, after: AccountKey | None, limit: int | None) -> list[AccountKey]:
        sql = "SELECT account FROM accounts WHERE deleted = 0"
        args: list[Any] = []
        if after is not None:
            sql += " AND account > ?"
            args.append(after)
        sql += " ORDER BY account"
        if limit is not None:
            sql += " LIMIT ?"
            args.append(limit)
        return [AccountKey(k) for (k,) in self._query(sql, args)]

    def pending(self, limit: int | None) -> list[Record]:
        sql = "INDEXED BY accounts_pending WHERE pending = 1 ORDER BY account"
        if limit is not None:
            return self._records(sql + " LIMIT ?", [limit])
        return self._records(sql, [])

    def dirty(self) -> list[Record]:
        return self._records("INDEXED BY accounts_dirty WHERE dirty = 1", [])

    def live_after(self, conn: sqlite3.Connection, after: str, limit: int) -> list[Record]:
        """Live records after ``after`` by key, at most ``limit``, read on ``conn`` (the caller's)."""
        rows = conn.execute(f"SELECT account, revision, deleted, jwt, meta FROM accounts {_LIVE_AFTER}", (after, limit))
        return [Record(AccountKey(a), JWT(j), r, bool(d), _meta(m)) for a, r, d, j, m in rows]

    def _records(self, where: str, args: list[Any]) -> list[Record]:
        sql = f"SELECT account, revision, deleted, jwt, meta FROM accounts {where}"
        return [Record(AccountKey(a), JWT(j), r, bool(d), _meta(m)) for a, r, d, j, m in self._query(sql, args)]

    def _query(self, sql: str, args: list[Any]) -> list[Any]:
        try:
            return self._reader().execute(sql, args).fetchall()
        except sqlite3.Error as exc:
            raise StoreError(f"{self.path}: cannot read: {exc}") from exc

    def _reader(self) -> sqlite3.Connection:
        if self.reader is None:
            raise StoreError(f"{self.path} is not open")
        return self.reader

    # -- the writer (one thread) ---------------------------------------------------------------

    def commit(self, batch: Batch) -> None:
        """Apply ``batch`` in one transaction; durable on return. :class:`StoreError` if it failed
        (then nothing of it was applied)."""
        conn = self.writer
        if conn is None:
            raise StoreError(f"{self.path} is not open")
        if not self.is_ours():
            raise Gone(f"{self.path} was removed or replaced; restart accountd to open it again")
        counters = dict(self.counters)
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                self._apply(conn, batch, counters)
                conn.executemany("INSERT INTO state(name, value) VALUES (?, ?) ON CONFLICT(name) "
                                 "DO UPDATE SET value = excluded.value",
                                 [*counters.items(), *batch.state.items()])
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
        except sqlite3.Error as exc:
            raise StoreError(f"{self.path}: cannot commit: {exc}{_hint(exc)}") from exc
        self.counters = counters
        self.state.update(batch.state)

    def _apply(self, conn: sqlite3.Connection, batch: Batch, counters: dict[str, int]) -> None:
        rows = []
        latest = {change.record.account: change for change in batch.changes}
        earlier: list[tuple[Record, float, Mapping[str, str]]] = []
        """Records replaced that history does not hold (made before it existed, or while it was off)."""
        updates: dict[tuple[str, ...], list[tuple[Any, ...]]] = {}
        for change in latest.values():
            record = change.record
            old = conn.execute("SELECT deleted, pending, revision, jwt, dirty FROM accounts WHERE account = ?",
                               (record.account,)).fetchone()
            if self.history and old is not None and not _versions.holds(conn, old[2]):
                earlier.append((Record(record.account, JWT(old[3]), old[2], bool(old[0])), 0.0, EMPTY_ORIGIN))
            if old is None:
                counters["tombstones" if record.deleted else "records"] += 1
            elif bool(old[0]) != record.deleted:
                counters["records"] += -1 if record.deleted else 1
                counters["tombstones"] += 1 if record.deleted else -1
            counters["pending"] += int(change.pending) - (int(old[1]) if old else 0)
            counters["revision"] = max(counters["revision"], record.revision)
            flags = {"deleted": int(record.deleted), "pending": int(change.pending), "dirty": int(change.dirty)}
            if old is None:
                rows.append((record.account, record.revision, flags["deleted"], record.jwt, _meta_text(record.meta),
                             flags["pending"], flags["dirty"]))
                continue
            was = {"deleted": old[0], "pending": old[1], "dirty": old[4]}
            changed = tuple(f for f in _FLAGS if flags[f] != was[f])
            updates.setdefault(changed, []).append((record.revision, record.jwt, _meta_text(record.meta),
                                                    *(flags[f] for f in changed), record.account))
        conn.executemany(_INSERT, rows)
        for changed, values in updates.items():
            conn.executemany(_update(changed), values)
        for change in latest.values():
            record = change.record
            if record.deleted:
                _search.unindex(conn, record.account)
            else:
                _search.index(conn, record.account, _search.searchable(record.jwt, record.meta))
        if self.history:
            _versions.add(conn, [*earlier, *((c.record, c.stored_at, c.origin) for c in batch.changes)])
        for account, revision in batch.published:
            cur = conn.execute("UPDATE accounts SET pending = 0 WHERE account = ? AND revision = ? AND pending = 1",
                               (account, revision))
            counters["pending"] -= cur.rowcount
        if batch.synced:
            conn.executemany("UPDATE accounts SET dirty = 0 WHERE account = ? AND revision = ? AND dirty = 1",
                             batch.synced)
        pruned = set(latest)
        for gone in batch.forgotten:
            old = conn.execute("DELETE FROM accounts WHERE account = ? AND dirty = 0 RETURNING deleted, pending, jwt",
                               (gone.account,)).fetchone()
            if old is None:
                continue
            counters["tombstones" if old[0] else "records"] -= 1
            counters["pending"] -= int(old[1])
            counters["revision"] = max(counters["revision"], gone.revision)
            _search.unindex(conn, gone.account)
            if self.history and not old[0]:  # its last JWT, as the removed file held it
                record = Record(gone.account, JWT(old[2]), gone.revision, True)
                _versions.add(conn, [(record, gone.stored_at, _versions.FILE_ORIGIN)])
                pruned.add(gone.account)
        if self.history:
            _versions.prune(conn, pruned, self.history)
        for account, revision, found in batch.filled:
            row = conn.execute("SELECT revision, deleted FROM accounts WHERE account = ?", (account,)).fetchone()
            if row is not None and tuple(row) == (revision, 0):  # else a change since indexed it already
                _search.index(conn, account, found)


def _damaged(exc: Exception) -> bool:
    text = str(exc).lower()
    return "not a database" in text or "malformed" in text


def _hint(exc: Exception) -> str:
    text = str(exc).lower()
    if _damaged(exc):
        return " (the file is damaged or is not an accountd database)"
    if "readonly" in text or "unable to open" in text:
        return " (check the permissions of the file and its directory)"
    return ""
