"""History and search of the SQLite engine: a database older code wrote, the background fill,
names from the JWT, the directory store's adopted and removed files, and a reopen."""

from __future__ import annotations

import base64
import json
import sqlite3
from pathlib import Path

from contract import A, B, C, jwt, key

from accountd.store import DirectoryStore, SQLiteStore, Version
from accountd.types import JWT

OLD_SCHEMA = """
CREATE TABLE accounts (
    account  TEXT PRIMARY KEY NOT NULL,
    revision INTEGER NOT NULL,
    deleted  INTEGER NOT NULL DEFAULT 0,
    jwt      TEXT NOT NULL,
    meta     TEXT,
    pending  INTEGER NOT NULL DEFAULT 0,
    dirty    INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX accounts_live ON accounts(account) WHERE deleted = 0;
CREATE INDEX accounts_pending ON accounts(account) WHERE pending = 1;
CREATE INDEX accounts_dirty ON accounts(account) WHERE dirty = 1;
CREATE TABLE state (name TEXT PRIMARY KEY NOT NULL, value) WITHOUT ROWID;
"""
"""The database of accountd before history and search (format 1, as ``bench/.scale-data`` holds it)."""


def account_jwt(name: str, tags: list[str]) -> JWT:
    """A token whose payload has a name and tags as an account JWT's has (stores never verify it)."""
    payload = json.dumps({"name": name, "nats": {"tags": tags, "type": "account", "version": 2}}).encode()
    return JWT("eyJ0eXAiOiJKV1QiLCJhbGciOiJlZDI1NTE5LW5rZXkifQ." +
               base64.urlsafe_b64encode(payload).decode().rstrip("=") + ".c2ln")


def old_database(path: Path) -> None:
    """A, its name in meta; B, its name and tags only in its JWT; C, a tombstone."""
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path)
    conn.executescript(OLD_SCHEMA)
    conn.executemany("INSERT INTO accounts(account, revision, deleted, jwt, meta) VALUES (?, ?, ?, ?, ?)", [
        (A, 1, 0, jwt("a"), json.dumps({"iat": 1, "name": "Meta Named"})),
        (B, 2, 0, account_jwt("Payload Named", ["Gold", "region:eu"]), json.dumps({"iat": 2, "jti": "x"})),
        (C, 3, 1, jwt("token"), json.dumps({"name": "Gone Named"})),
    ])
    conn.executemany("INSERT INTO state(name, value) VALUES (?, ?)",
                     [("format", 1), ("revision", 3), ("records", 2), ("tombstones", 1)])
    conn.commit()
    conn.close()


async def test_a_database_older_code_wrote_has_its_current_records_as_history(tmp_path: Path) -> None:
    old_database(tmp_path / "accounts.db")
    store = SQLiteStore(tmp_path / "accounts.db")
    await store.open()
    try:
        assert await store.history(A) == [Version(A, 1, jwt("a"), False, 0.0, {})]
        assert await store.history(C) == [Version(C, 3, jwt("token"), True, 0.0, {})]
        assert await store.history(A, limit=0) == []
    finally:
        await store.close()


async def test_a_database_older_code_wrote_is_indexed_for_search_in_the_background(tmp_path: Path) -> None:
    old_database(tmp_path / "accounts.db")
    store = SQLiteStore(tmp_path / "accounts.db")
    await store.open()
    try:
        assert await store.search(A[:8]) == [A]  # key prefixes need no fill
        await store.backfill.wait()
        assert (store.backfill.state, store.stats()["search_index"]) == ("done", "ready")
        assert await store.search("meta named") == [A]
        assert await store.search("PAYLOAD") == [B]
        assert await store.search("gold") == await store.search("Region:EU") == [B]
        assert await store.search("gone") == []
    finally:
        await store.close()
    store = SQLiteStore(tmp_path / "accounts.db")
    await store.open()
    try:  # done once: a reopen starts no fill
        assert (store.backfill.state, store.stats()["search_index"]) == ("idle", "ready")
        assert await store.search("payload") == [B]
    finally:
        await store.close()


async def test_a_change_during_the_background_fill_is_not_undone_by_it(tmp_path: Path) -> None:
    old_database(tmp_path / "accounts.db")
    store = SQLiteStore(tmp_path / "accounts.db")
    await store.open()
    try:  # the fill reads B before or after this commit: either way the new name stands
        await store.put(B, jwt("b2"), meta={"name": "renamed", "tags": ""})
        await store.backfill.wait()
        assert await store.search("payload") == [] and await store.search("gold") == []
        assert await store.search("renamed") == [B]
    finally:
        await store.close()


async def test_the_next_change_keeps_the_record_older_code_wrote_as_a_version(tmp_path: Path) -> None:
    old_database(tmp_path / "accounts.db")
    store = SQLiteStore(tmp_path / "accounts.db")
    await store.open()
    try:
        new = await store.put(A, jwt("a2"), origin={"via": "http"})
        versions = await store.history(A)
        assert [(v.revision, v.jwt, dict(v.origin)) for v in versions] == [
            (new.revision, jwt("a2"), {"via": "http"}), (1, jwt("a"), {})]
        assert versions[1].stored_at == 0.0
    finally:
        await store.close()


async def test_a_store_without_history_reads_none_and_keeps_none(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "accounts.db", history=0)
    await store.open()
    await store.put(A, jwt(1))
    await store.close()
    conn = sqlite3.connect(tmp_path / "accounts.db")
    assert conn.execute("SELECT count(*) FROM history").fetchone() == (0,)
    conn.close()
    store = SQLiteStore(tmp_path / "accounts.db")  # turned on later: the record is its one version
    await store.open()
    try:
        assert [v.jwt for v in await store.history(A)] == [jwt(1)]
    finally:
        await store.close()


async def test_names_and_tags_come_from_the_jwt_when_meta_has_neither(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "accounts.db")
    await store.open()
    try:
        await store.put(A, account_jwt("From The JWT", ["Blue"]), meta={"iat": 1})
        await store.put(B, account_jwt("From The JWT", ["Blue"]), meta={"name": "from meta"})
        assert await store.search("the jwt") == [A]
        assert await store.search("blue") == [A]
        assert await store.search("from") == [A, B]
    finally:
        await store.close()


async def test_history_survives_a_reopen_and_a_smaller_bound_applies_at_once(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "accounts.db")
    await store.open()
    records = [await store.put(A, jwt(n), origin={"via": "import"}) for n in range(5)]
    await store.close()
    store = SQLiteStore(tmp_path / "accounts.db", history=2)
    await store.open()
    try:
        assert [(v.revision, dict(v.origin)) for v in await store.history(A)] == [
            (records[4].revision, {"via": "import"}), (records[3].revision, {"via": "import"})]
    finally:
        await store.close()


# -- the directory store: files other tools wrote or removed ---------------------------------------


async def test_a_file_another_tool_wrote_is_a_version_from_file(tmp_path: Path) -> None:
    root = tmp_path / "jwt"
    store = DirectoryStore(root)
    await store.open()
    old = await store.put(A, jwt(1), origin={"via": "http"})
    await store.close()
    (root / f"{A}.jwt").write_text(account_jwt("Edited By Hand", ["x"]))
    store = DirectoryStore(root)
    await store.open()
    try:
        await store.scan.wait()
        versions = await store.history(A)
        assert [(v.jwt, dict(v.origin)) for v in versions] == [
            (account_jwt("Edited By Hand", ["x"]), {"via": "file"}), (old.jwt, {"via": "http"})]
        assert await store.search("by hand") == [A]
    finally:
        await store.close()


async def test_a_file_another_tool_removed_is_a_deleted_version_from_file(tmp_path: Path) -> None:
    root = tmp_path / "jwt"
    store = DirectoryStore(root)
    await store.open()
    old = await store.put(A, jwt(1), meta={"name": "removed"})
    await store.put(B, jwt(2))
    await store.close()
    (root / f"{A}.jwt").unlink()
    store = DirectoryStore(root)
    await store.open()
    try:
        await store.scan.wait()
        assert await store.lookup(A) is None
        gone, kept = await store.history(A)
        assert (gone.deleted, gone.jwt, dict(gone.origin)) == (True, jwt(1), {"via": "file"})
        assert gone.revision > old.revision and kept.revision == old.revision
        assert await store.search("removed") == []
    finally:
        await store.close()


async def test_a_fill_stopped_by_close_goes_on_at_the_next_open(tmp_path: Path) -> None:
    old_database(tmp_path / "accounts.db")
    conn = sqlite3.connect(tmp_path / "accounts.db")
    many = sorted(key(f"many-{n}") for n in range(20_000))
    conn.executemany("INSERT INTO accounts(account, revision, jwt, meta) VALUES (?, ?, ?, ?)",
                     [(a, 10 + n, jwt(n), json.dumps({"name": f"many {n}"})) for n, a in enumerate(many)])
    conn.commit()
    conn.close()
    store = SQLiteStore(tmp_path / "accounts.db")
    await store.open()
    await store.search("many")  # lets the fill begin
    await store.close()
    assert store.backfill.state in ("stopped", "done")
    store = SQLiteStore(tmp_path / "accounts.db")
    await store.open()
    try:
        await store.backfill.wait()
        assert store.stats()["search_index"] == "ready"
        assert await store.search(f"many {len(many) - 1}") == [many[-1]]
        assert len(await store.search("many", limit=50_000)) == len(many)
    finally:
        await store.close()
