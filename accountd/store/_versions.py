"""The ``history`` table of the SQLite engine: the last versions of each account.

::

    history(revision INTEGER PRIMARY KEY, account, stored_at, deleted, origin, jwt)
    history_account ON history(account)       (its entries end with the rowid: the revision)

One row per accepted change (a put, a delete, an adopted or a forgotten file), inserted in the
transaction of the change and pruned there to the last ``history`` of its account. The revision
is the rowid: revisions are unique in a store and only grow, so versions are appended at the end
of the table; the index keeps reading and pruning one account's versions to a short range of small
entries (rows of ~1 KB JWTs would spill out of a ``WITHOUT ROWID`` table's b-tree pages).

A database an older accountd wrote gets the table, empty, at open (nothing is read): an account
whose latest change predates it reads as one version of its current record, ``stored_at`` 0 and
no origin (:func:`read`), and its next change keeps that record as such a version before its own
(:func:`holds` tells the writer). Blocking; the caller owns the transaction.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Mapping
from types import MappingProxyType

from accountd.store._history import EMPTY_ORIGIN
from accountd.store.base import Record, Version
from accountd.types import JWT, AccountKey

__all__ = ["FILE_ORIGIN", "SCHEMA", "add", "holds", "prune", "read"]

SCHEMA = """
CREATE TABLE IF NOT EXISTS history (
    revision  INTEGER PRIMARY KEY,
    account   TEXT NOT NULL,
    stored_at REAL NOT NULL,
    deleted   INTEGER NOT NULL,
    origin    TEXT,
    jwt       TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS history_account ON history(account);
"""

FILE_ORIGIN: Mapping[str, str] = MappingProxyType({"via": "file"})
"""The origin of a version another tool made: a file the directory store adopted or forgot."""

_INSERT = "INSERT INTO history(revision, account, stored_at, deleted, origin, jwt) VALUES (?, ?, ?, ?, ?, ?)"
_PRUNE = ("DELETE FROM history WHERE account = ?1 AND revision <= (SELECT revision FROM history "
          "WHERE account = ?1 ORDER BY revision DESC LIMIT 1 OFFSET ?2)")
_READ = "SELECT revision, stored_at, deleted, origin, jwt FROM history WHERE account = ? ORDER BY revision DESC LIMIT ?"
_CURRENT = "SELECT revision, deleted, jwt FROM accounts WHERE account = ?"


def add(conn: sqlite3.Connection, versions: Iterable[tuple[Record, float, Mapping[str, str]]]) -> None:
    """Keep each record as a version, stored at the time given, with its origin."""
    conn.executemany(_INSERT, [
        (r.revision, r.account, stored_at, int(r.deleted),
         json.dumps(dict(origin), separators=(",", ":"), sort_keys=True) if origin else None, r.jwt)
        for r, stored_at, origin in versions
    ])


def holds(conn: sqlite3.Connection, revision: int) -> bool:
    """Whether the version of ``revision`` is kept (one rowid lookup)."""
    return conn.execute("SELECT 1 FROM history WHERE revision = ?", (revision,)).fetchone() is not None


def prune(conn: sqlite3.Connection, accounts: Iterable[AccountKey], keep: int) -> None:
    """Drop all but the ``keep`` newest versions of each of ``accounts``."""
    conn.executemany(_PRUNE, [(account, keep) for account in accounts])


def read(conn: sqlite3.Connection, account: AccountKey, limit: int) -> list[Version]:
    """The ``limit`` newest versions of ``account``, newest first; the current record leads as a
    version of its own when it is newer than every kept one (a change made before the table
    existed, or while history was off)."""
    # The record first: a change committed between the two reads is then among the versions.
    current = conn.execute(_CURRENT, (account,)).fetchone()
    rows = conn.execute(_READ, (account, limit)).fetchall()
    out = [Version(account, r, JWT(j), bool(d), t, _origin(o)) for r, t, d, o, j in rows]
    if current is not None and current[0] > (out[0].revision if out else 0):
        out.insert(0, Version(account, current[0], JWT(current[2]), bool(current[1]), 0.0, EMPTY_ORIGIN))
    return out[:limit]


def _origin(text: str | None) -> Mapping[str, str]:
    return MappingProxyType(json.loads(text)) if text else EMPTY_ORIGIN
