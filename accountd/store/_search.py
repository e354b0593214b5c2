"""Search in the SQLite engine (the SQLite and directory stores): what is indexed, and the query.

Two tables, written in the transaction of every change (a tombstone or a forgotten account leaves
both)::

    search_names(account PRIMARY KEY, name, tags)   live accounts with a name or tags, lower-cased;
                                                    tags joined by newlines
    search_tags(tag, account, PRIMARY KEY(tag, account))

A search (:func:`search`) is the union of three walks in key order, each stopping after ``limit``
hits: the key prefix on the accounts' primary key, the tag on ``search_tags``, and a part of the
name by scanning ``search_names`` in key order (``instr``). That scan stops at the ``limit``-th
hit, or at the last key of a page the other two filled already; a part of a name that few
accounts have reads the whole table (~0.1 s at a million, see BENCHMARKS.md), so the store runs
searches in a thread of their own. A prefix index on the name
would not help: results come in key order, and a part of a name is not a prefix.

The name and tags come from the record's meta (``name``, ``tags``) when the service put them
there, else from the JWT's payload (decoded, not verified: it was verified when it was stored).
Rows written before these tables existed are indexed in the background (:mod:`._backfill`).
Blocking; no I/O but the connection given.
"""

from __future__ import annotations

import base64
import json
import sqlite3
from collections.abc import Mapping
from typing import Any

from accountd.store._history import tags_of
from accountd.types import AccountKey

__all__ = ["SCHEMA", "Searchable", "index", "search", "searchable", "unindex"]

SCHEMA = """
CREATE TABLE IF NOT EXISTS search_names (
    account TEXT PRIMARY KEY NOT NULL,
    name    TEXT NOT NULL,
    tags    TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS search_tags (
    tag     TEXT NOT NULL,
    account TEXT NOT NULL,
    PRIMARY KEY (tag, account)
) WITHOUT ROWID;
"""

Searchable = tuple[str, tuple[str, ...]]
"""The lower-cased name (``""``: none) and the lower-cased tags of one record."""

_KEY_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")


def searchable(jwt: str, meta: Mapping[str, int | str]) -> Searchable:
    """What :func:`index` keeps of a live record."""
    if "name" in meta or "tags" in meta:
        name = meta.get("name")
        return _clean(name if isinstance(name, str) else "", tags_of(meta))
    return _from_payload(jwt)


def _from_payload(jwt: str) -> Searchable:
    try:
        part = jwt.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
    except (IndexError, ValueError):  # not a JWT (binascii.Error and JSON errors are ValueErrors)
        return "", ()
    if not isinstance(claims, dict):
        return "", ()
    name, nats = claims.get("name"), claims.get("nats")
    tags = nats.get("tags") if isinstance(nats, dict) else None
    return _clean(name if isinstance(name, str) else "",
                  [t for t in tags if isinstance(t, str)] if isinstance(tags, list) else [])


def _clean(name: str, tags: list[str]) -> Searchable:
    return name.strip().lower(), tuple(sorted({t.strip().lower() for t in tags if t.strip()}))


def index(conn: sqlite3.Connection, account: AccountKey, found: Searchable) -> None:
    """Make ``found`` what searches see of ``account`` (in the caller's transaction)."""
    name, tags = found
    old = conn.execute("SELECT name, tags FROM search_names WHERE account = ?", (account,)).fetchone()
    old_tags = set(old[1].split("\n")) - {""} if old else set()
    if old_tags - set(tags):
        conn.executemany("DELETE FROM search_tags WHERE tag = ? AND account = ?",
                         [(t, account) for t in old_tags - set(tags)])
    if set(tags) - old_tags:
        conn.executemany("INSERT OR IGNORE INTO search_tags(tag, account) VALUES (?, ?)",
                         [(t, account) for t in set(tags) - old_tags])
    if name or tags:
        if old is None or (old[0], old[1]) != (name, "\n".join(tags)):
            conn.execute("INSERT INTO search_names(account, name, tags) VALUES (?, ?, ?) ON CONFLICT(account) "
                         "DO UPDATE SET name = excluded.name, tags = excluded.tags", (account, name, "\n".join(tags)))
    elif old is not None:
        conn.execute("DELETE FROM search_names WHERE account = ?", (account,))


def unindex(conn: sqlite3.Connection, account: AccountKey) -> None:
    """``account`` is no longer live: no search finds it."""
    index(conn, account, ("", ()))


def search(conn: sqlite3.Connection, text: str, after: AccountKey | None, limit: int) -> list[AccountKey]:
    """Live accounts matching ``text`` (:func:`accountd.store._history.matches`), by key."""
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 0:
        raise ValueError(f"limit must be >= 0, got {limit!r}")
    needle = text.strip().lower()
    start = after or ""
    if not limit:
        return []
    if not needle:
        return _keys(conn, "SELECT account FROM accounts WHERE deleted = 0 AND account > ? ORDER BY account LIMIT ?",
                     (start, limit))
    found: set[str] = set()
    prefix = needle.upper()
    if set(prefix) <= _KEY_CHARS:  # keys are [A-Z2-7]: '~' sorts after every key with this prefix
        # One lower bound, not two: given both, SQLite may range over the wrong one (seen: 100 ms).
        low, op = (start, ">") if start >= prefix else (prefix, ">=")
        found.update(_keys(conn, f"SELECT account FROM accounts WHERE deleted = 0 AND account {op} ? "
                                 "AND account < ? ORDER BY account LIMIT ?", (low, prefix + "~", limit)))
    found.update(_keys(conn, "SELECT account FROM search_tags WHERE tag = ? AND account > ? ORDER BY account LIMIT ?",
                       (needle, start, limit)))
    # A page already full of key or tag matches ends at its last key: names after it cannot get in.
    end = sorted(found)[limit - 1] if len(found) >= limit else "~"
    found.update(_keys(conn, "SELECT account FROM search_names WHERE account > ? AND account <= ? "
                             "AND instr(name, ?) > 0 ORDER BY account LIMIT ?", (start, end, needle, limit)))
    return [AccountKey(k) for k in sorted(found)[:limit]]


def _keys(conn: sqlite3.Connection, sql: str, args: tuple[Any, ...]) -> list[AccountKey]:
    return [AccountKey(k) for (k,) in conn.execute(sql, args)]
