"""The directory store: the contract, the nats-server file layout, the index, durability and crash recovery."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
import re
import shutil
import sqlite3
import stat
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path

import pytest
from contract import A, B, C, PersistentContract, Reopen, StoreContract, jwt, key
from contract_history import HistoryContract, Make, PersistentHistoryContract, SearchContract
from storm import check_history, storm

from accountd import tasks
from accountd.store import DirectoryStore, Store, StoreError
from accountd.store._files import JwtFiles
from accountd.store._sql import Database
from accountd.types import JWT, AccountKey

OpenStore = Callable[..., Awaitable[DirectoryStore]]


@pytest.fixture(params=[False, True], ids=["flat", "sharded"])
def shard(request: pytest.FixtureRequest) -> bool:
    return bool(request.param)


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return tmp_path / "jwt"


def jwt_file(root: Path, account: str, *, shard: bool) -> Path:
    return root / account[-2:] / f"{account}.jwt" if shard else root / f"{account}.jwt"


async def crash(store: Store, *, flush: bool = True) -> None:
    """Drop ``store`` as a killed process would once its writes returned: the tasks stop, nothing
    more is written, the database and the lock are let go. ``flush`` first waits for its files and
    marks; without it, the file writer must be idle (or failing), since its thread cannot be stopped."""
    assert isinstance(store, DirectoryStore) and store._writer is not None
    if flush:
        await store.flush()
    await store.scan.stop()
    await store.backfill.stop()
    for task in (store._writer, store.mirror._task):
        await tasks.stop(task)
    store._writer = store.mirror._task = None
    for executor in (store._executor, store.mirror._executor, store._searcher):
        if executor is not None:  # a commit in flight lands, as it would have on the disk
            executor.shutdown(wait=True)
    store._executor = store.mirror._executor = store._searcher = None
    store._state = "closed"
    store._close_blocking()


async def opened_and_scanned(root: Path, *, shard: bool = False) -> DirectoryStore:
    store = DirectoryStore(root, shard=shard)
    await store.open()
    await store.scan.wait()
    return store


@contextlib.contextmanager
def umask(mask: int) -> Iterator[None]:
    old = os.umask(mask)
    try:
        yield
    finally:
        os.umask(old)


@pytest.fixture
async def opened() -> AsyncIterator[list[DirectoryStore]]:
    """Stores a test opened; closed at the end."""
    stores: list[DirectoryStore] = []
    yield stores
    for store in stores:
        await store.close()


@pytest.fixture
def open_store(root: Path, shard: bool, opened: list[DirectoryStore]) -> OpenStore:
    async def open_store(**kw: object) -> DirectoryStore:
        store = DirectoryStore(root, shard=shard, **kw)
        await store.open()
        opened.append(store)
        return store

    return open_store


class TestDirectoryStore(StoreContract, PersistentContract, HistoryContract, PersistentHistoryContract, SearchContract):
    @pytest.fixture
    async def store(self, open_store: OpenStore) -> Store:
        return await open_store()

    @pytest.fixture
    def make(self, open_store: OpenStore) -> Make:
        return lambda history: open_store(history=history)

    @pytest.fixture
    def reopen(self, open_store: OpenStore) -> Reopen:
        async def reopen(store: Store) -> Store:
            await store.close()
            return await open_store()

        return reopen


class TestDirectoryStoreAfterCrash(PersistentContract):
    """Reopening after a crash: the index has every acknowledged change."""

    @pytest.fixture
    async def store(self, open_store: OpenStore) -> Store:
        return await open_store()

    @pytest.fixture
    def reopen(self, open_store: OpenStore) -> Reopen:
        async def reopen(store: Store) -> Store:
            await crash(store)
            return await open_store()

        return reopen


# -- the files other tools read ------------------------------------------------------------------


async def test_put_writes_the_stripped_jwt_to_its_file(
    open_store: OpenStore, root: Path, shard: bool
) -> None:
    store = await open_store()
    await store.put(A, JWT(f"{jwt(1)}\n"))
    await store.flush()  # files are written after the put returned
    assert jwt_file(root, A, shard=shard).read_bytes() == jwt(1).encode()


async def test_sharded_store_writes_under_the_last_two_characters_of_the_key(root: Path) -> None:
    store = DirectoryStore(root, shard=True)
    await store.open()
    await store.put(A, jwt(1))
    await store.close()
    assert (root / A[-2:] / f"{A}.jwt").read_text() == jwt(1)
    assert not (root / f"{A}.jwt").exists()


async def test_delete_renames_the_file_to_jwt_deleted(open_store: OpenStore, root: Path, shard: bool) -> None:
    store = await open_store()
    await store.put(A, jwt(1))
    await store.delete(A, jwt("token"))
    await store.flush()
    path = jwt_file(root, A, shard=shard)
    assert not path.exists()
    assert path.with_name(f"{A}.jwt.deleted").read_text() == jwt(1)


async def test_the_directory_holds_only_jwt_files_and_the_sidecar(root: Path) -> None:
    store = DirectoryStore(root)
    await store.open()
    await store.put(A, jwt(1))
    await store.put(B, jwt(2))
    await store.flush()  # else the put and the delete of B may be written as one: no file at all
    await store.delete(B, jwt("token"))
    await store.close()
    assert sorted(os.listdir(root)) == sorted([".accountd", f"{A}.jwt", f"{B}.jwt.deleted"])


async def test_files_are_0600_and_directories_0700_whatever_the_umask(tmp_path: Path) -> None:
    root = tmp_path / "new" / "jwt"
    with umask(0):
        store = DirectoryStore(root, shard=True)
        await store.open()
        await store.put(A, jwt(1))
        await store.close()
    dirs = [root.parent, root, root / ".accountd", root / A[-2:]]
    files = [root / A[-2:] / f"{A}.jwt", *(root / ".accountd").iterdir()]
    assert {d.name: stat.S_IMODE(d.stat().st_mode) for d in dirs} == {d.name: 0o700 for d in dirs}
    assert {f.name: stat.S_IMODE(f.stat().st_mode) for f in files} == {f.name: 0o600 for f in files}


async def test_a_nats_server_directory_is_indexed_and_served_as_is(root: Path, shard: bool) -> None:
    root.mkdir()
    (root / f"{A}.jwt").write_bytes(f"{jwt(1)}\n".encode())
    (root / B[-2:]).mkdir()
    (root / B[-2:] / f"{B}.jwt").write_bytes(f"{jwt(2)}\r\n".encode())
    (root / f"{C}.jwt.deleted").write_text(jwt(3))
    (root / "README").write_text("not a JWT")
    (root / "not-a-key.jwt").write_text(jwt(4))
    before = {p: p.read_bytes() for p in root.rglob("*") if p.is_file()}
    store = await opened_and_scanned(root, shard=shard)
    try:
        assert await store.list() == [A, B]
        assert (await store.get(A)).jwt == jwt(1)
        assert (await store.get(B)).jwt == jwt(2)
        assert await store.lookup(C) is None
        assert await store.pending() == []
        records = [await store.get(A), await store.get(B)]
        await store.close()
        await store.open()
        assert [await store.get(A), await store.get(B)] == records
    finally:
        await store.close()
    assert {p: p.read_bytes() for p in before} == before


async def test_a_file_changed_while_closed_wins_as_a_new_revision_that_is_not_pending(
    open_store: OpenStore, root: Path, shard: bool
) -> None:
    store = await open_store()
    old = await store.put(A, jwt(1), meta={"iat": 1})
    await store.close()
    jwt_file(root, A, shard=shard).write_text(f"{jwt('edited')}\n")
    store = await open_store()
    await store.scan.wait()
    record = await store.get(A)
    assert (record.jwt, dict(record.meta)) == (jwt("edited"), {})
    assert record.revision > old.revision
    assert await store.pending() == []


async def test_a_file_added_for_a_deleted_account_while_closed_revives_it(
    open_store: OpenStore, root: Path, shard: bool
) -> None:
    store = await open_store()
    await store.put(A, jwt(1))
    tombstone = await store.delete(A, jwt("token"))
    await store.close()
    jwt_file(root, A, shard=shard).write_text(jwt(2))
    store = await open_store()
    await store.scan.wait()
    record = await store.get(A)
    assert record.jwt == jwt(2) and record.revision > tombstone.revision


async def test_a_file_removed_while_closed_forgets_the_account(
    open_store: OpenStore, root: Path, shard: bool
) -> None:
    store = await open_store()
    await store.put(A, jwt(1))
    await store.put(B, jwt(2))
    await store.close()
    jwt_file(root, A, shard=shard).unlink()
    store = await open_store()
    await store.scan.wait()
    assert await store.lookup(A) is None
    assert await store.list() == [B]


async def test_a_file_in_the_other_layout_is_served_and_moved_on_its_next_change(root: Path) -> None:
    root.mkdir()
    (root / f"{A}.jwt").write_text(jwt(1))
    store = DirectoryStore(root, shard=True)
    await store.open()
    try:
        assert (await store.get(A)).jwt == jwt(1)
        await store.put(A, jwt(2))
    finally:
        await store.close()
    assert not (root / f"{A}.jwt").exists()
    assert (root / A[-2:] / f"{A}.jwt").read_text() == jwt(2)


async def test_stale_temp_files_are_removed_on_open(root: Path) -> None:
    root.mkdir()
    (root / f"{A}.jwt.tmp").write_text("half a J")
    store = await opened_and_scanned(root)
    await store.close()
    assert not (root / f"{A}.jwt.tmp").exists()


# -- durability and recovery ---------------------------------------------------------------------


async def test_concurrent_puts_share_one_commit(open_store: OpenStore) -> None:
    store = await open_store()
    await asyncio.gather(*(store.put(key(n), jwt(n)) for n in range(100)))
    stats = store.stats()
    assert stats["writes"] == 100
    assert stats["batches"] <= 2


async def test_check_fails_after_the_directory_is_removed(open_store: OpenStore, root: Path) -> None:
    store = await open_store()
    await store.put(A, jwt(1))
    await store.flush()  # not while its file is being written
    shutil.rmtree(root)
    with pytest.raises(StoreError):
        await store.check()
    with pytest.raises(StoreError, match="removed"):
        await store.put(B, jwt(2))


async def test_a_second_store_cannot_open_the_same_directory(open_store: OpenStore, root: Path) -> None:
    await open_store()
    with pytest.raises(StoreError, match="in use"):
        await DirectoryStore(root).open()


async def test_opening_a_path_that_is_a_file_raises_store_error(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    with pytest.raises(StoreError, match="not a directory"):
        await DirectoryStore(tmp_path / "file").open()


async def test_a_directory_of_other_files_is_refused_and_left_alone(tmp_path: Path) -> None:
    for n in range(5):
        (tmp_path / f"notes-{n}.txt").write_text("not a JWT")
    with pytest.raises(StoreError, match=r"none of them is a <PUB>\.jwt"):
        await DirectoryStore(tmp_path).open()
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"notes-{n}.txt" for n in range(5)]


async def test_a_damaged_index_is_a_clear_store_error(open_store: OpenStore, root: Path) -> None:
    store = await open_store()
    await store.put(A, jwt(1))
    await store.close()
    for path in (root / ".accountd").glob("index.db*"):
        path.unlink()
    (root / ".accountd" / "index.db").write_bytes(b"garbage " * 1000)
    with pytest.raises(StoreError, match="not a database"):
        await DirectoryStore(root).open()


async def test_the_index_of_the_old_format_is_rebuilt_from_the_files(root: Path) -> None:
    (root / ".accountd").mkdir(parents=True)
    (root / ".accountd" / "state.json").write_text("{}")
    (root / f"{A}.jwt").write_text(jwt(1))
    store = await opened_and_scanned(root)
    try:
        assert (await store.get(A)).jwt == jwt(1)
        assert (root / ".accountd" / "state.json.old").exists()
    finally:
        await store.close()


async def test_a_failed_commit_raises_store_error_and_keeps_the_previous_record(
    open_store: OpenStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = await open_store()
    before = await store.put(A, jwt(1))

    def fail(*args: object) -> None:
        raise sqlite3.OperationalError("disk I/O error")

    monkeypatch.setattr(Database, "_apply", staticmethod(fail))
    with pytest.raises(StoreError, match="disk I/O error"):
        await store.put(A, jwt(2))
    monkeypatch.undo()
    assert await store.get(A) == before
    after = await store.put(A, jwt(3))
    await crash(store)
    store = await open_store()
    assert await store.get(A) == after
    assert await store.pending() == [after]


def fail_file_writes(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Make every ``.jwt`` write fail with ENOSPC; returns the accounts tried, in order."""
    tried: list[str] = []

    def fail(self: JwtFiles, account: str, jwt: str) -> None:
        tried.append(account)
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(JwtFiles, "write", fail)
    return tried


async def test_a_failed_file_write_fails_check_not_the_put_until_the_file_is_written(
    open_store: OpenStore, root: Path, shard: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = await open_store()
    tried = fail_file_writes(monkeypatch)
    record = await store.put(A, jwt(1))  # durable: the log has it
    await store.flush()
    assert tried and await store.get(A) == record
    with pytest.raises(StoreError, match="No space left"):
        await store.check()
    stats = store.stats()
    assert stats["failed_files"] == 1 and stats["unwritten_files"] == 1
    assert int(stats["file_errors"]) >= 2  # the write, then check's retry
    monkeypatch.undo()
    await store.check()  # retries the file first
    assert jwt_file(root, A, shard=shard).read_text() == jwt(1)
    stats = store.stats()
    assert stats["failed_files"] == 0 and stats["unwritten_files"] == 0


async def test_failed_file_writes_are_retried_without_being_asked(
    open_store: OpenStore, root: Path, shard: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = await open_store()
    tried = fail_file_writes(monkeypatch)
    await store.put(A, jwt(1))
    for _ in range(200):
        if len(tried) >= 3:
            break
        await asyncio.sleep(0.01)
    assert len(tried) >= 3  # backs off: not a busy loop, but not stuck either
    monkeypatch.undo()
    for _ in range(500):
        if store.stats()["unwritten_files"] == 0:
            break
        await asyncio.sleep(0.01)
    assert jwt_file(root, A, shard=shard).read_text() == jwt(1)
    await store.check()


async def test_a_change_whose_file_was_never_written_is_rewritten_from_the_index(
    open_store: OpenStore, root: Path, shard: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = await open_store()
    await store.put(A, jwt(1))
    await store.flush()
    fail_file_writes(monkeypatch)
    latest = await store.put(A, jwt(2))
    created = await store.put(B, jwt(3))
    await crash(store)
    monkeypatch.undo()
    assert jwt_file(root, A, shard=shard).read_text() == jwt(1)
    assert not jwt_file(root, B, shard=shard).exists()
    store = await open_store()
    assert (await store.get(A), await store.get(B)) == (latest, created)
    assert jwt_file(root, A, shard=shard).read_text() == jwt(2)
    assert jwt_file(root, B, shard=shard).read_text() == jwt(3)


class Gate:
    """Holds every ``.jwt`` write in its thread until opened; counts the writes per account."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.open = threading.Event()
        self.waiting = threading.Event()
        self.writes: dict[str, list[str]] = {}
        write = JwtFiles.write

        def gated(files: JwtFiles, account: AccountKey, jwt: str) -> None:
            self.waiting.set()
            assert self.open.wait(10)
            self.writes.setdefault(account, []).append(jwt)
            write(files, account, jwt)

        monkeypatch.setattr(JwtFiles, "write", gated)

    async def until_waiting(self) -> None:
        assert await asyncio.to_thread(self.waiting.wait, 10)


async def test_put_returns_once_committed_before_its_file_is_written(
    open_store: OpenStore, root: Path, shard: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = await open_store()
    gate = Gate(monkeypatch)
    try:
        record = await store.put(A, jwt(1))
        await gate.until_waiting()
        assert await store.get(A) == record and await store.pending() == [record]
        assert not jwt_file(root, A, shard=shard).exists()
        assert store.stats()["unwritten_files"] == 1
    finally:
        gate.open.set()
    await store.flush()
    assert jwt_file(root, A, shard=shard).read_text() == jwt(1)
    assert store.stats()["unwritten_files"] == 0


async def test_changes_of_one_account_while_its_file_waits_cost_one_file_write(
    open_store: OpenStore, root: Path, shard: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = await open_store()
    gate = Gate(monkeypatch)
    try:
        await store.put(B, jwt("b"))
        await gate.until_waiting()  # the file writer is busy with B
        for n in range(20):
            await store.put(A, jwt(n))
        await asyncio.gather(*(store.put(A, jwt(f"c{n}")) for n in range(20)))
        latest = await store.get(A)
    finally:
        gate.open.set()
    await store.flush()
    assert gate.writes[A] == [latest.jwt]
    assert jwt_file(root, A, shard=shard).read_text() == latest.jwt


async def test_a_delete_then_a_put_while_the_file_waits_leave_the_latest(
    open_store: OpenStore, root: Path, shard: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = await open_store()
    await store.put(A, jwt(1))
    await store.put(C, jwt(3))
    await store.flush()
    gate = Gate(monkeypatch)
    try:
        await store.put(B, jwt(2))
        await gate.until_waiting()
        await store.delete(A, jwt("token"))
        await store.delete(C, jwt("token"))
        revived = await store.put(A, jwt(4))
    finally:
        gate.open.set()
    await store.flush()
    assert jwt_file(root, A, shard=shard).read_text() == jwt(4)
    assert not jwt_file(root, C, shard=shard).exists()
    assert jwt_file(root, C, shard=shard).with_name(f"{C}.jwt.deleted").read_text() == jwt(3)
    await crash(store)
    store = await open_store()
    assert await store.get(A) == revived


async def test_the_writer_waits_while_too_many_files_are_behind(
    open_store: OpenStore, root: Path, shard: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("accountd.store._mirror.MAX_DIRTY", 2)
    store = await open_store()
    gate = Gate(monkeypatch)
    try:
        await store.put(A, jwt(1))
        await gate.until_waiting()
        await store.put(B, jwt(2))
        await store.put(C, jwt(3))  # acknowledged; then three files are behind: the writer waits
        held = asyncio.create_task(store.put(key(4), jwt(4)))
        await asyncio.sleep(0.1)
        assert not held.done()
        assert store.stats()["backpressure_waits"] == 1
    finally:
        gate.open.set()
    await held
    await store.flush()
    assert jwt_file(root, key(4), shard=shard).read_text() == jwt(4)


# -- published marks ---------------------------------------------------------------------------


async def test_a_mark_rides_along_with_the_next_batch(open_store: OpenStore) -> None:
    store = await open_store()
    published = await store.put(A, jwt(1))
    await store.mark_published(A, published.revision)
    pending = await store.put(B, jwt(2))
    assert store.stats()["unlogged_marks"] == 0
    await crash(store, flush=False)
    store = await open_store()
    assert await store.pending() == [pending]


async def test_flush_commits_the_marks(open_store: OpenStore) -> None:
    store = await open_store()
    record = await store.put(A, jwt(1))
    await store.mark_published(A, record.revision)
    await store.flush()
    await crash(store, flush=False)
    store = await open_store()
    assert await store.get(A) == record
    assert await store.pending() == []


async def test_close_keeps_the_marks_even_with_nothing_else_to_write(open_store: OpenStore) -> None:
    store = await open_store()
    record = await store.put(A, jwt(1))
    await store.close()
    store = await open_store()
    await store.mark_published(A, record.revision)
    await store.close()
    store = await open_store()
    assert await store.pending() == []


async def test_close_keeps_the_marks_when_files_cannot_be_written(
    open_store: OpenStore, root: Path, shard: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = await open_store()
    published = await store.put(A, jwt(1))
    fail_file_writes(monkeypatch)
    pending = await store.put(B, jwt(2))
    await store.mark_published(A, published.revision)
    await store.close()
    assert not jwt_file(root, B, shard=shard).exists()
    monkeypatch.undo()
    store = await open_store()
    assert await store.pending() == [pending]
    assert jwt_file(root, B, shard=shard).read_text() == jwt(2)


# -- a real crash --------------------------------------------------------------------------------

async def test_every_acknowledged_write_survives_sigkill(root: Path, shard: bool) -> None:
    acks = storm(f"dir:{root}?shard={'true' if shard else 'false'}", lines=600)

    # Never a torn file: each one holds a whole value written for its own account.
    for path in root.rglob("*.jwt"):
        assert re.fullmatch(rf"hdr\.{path.name[:-4]}\.\d+", path.read_text()), path

    store = DirectoryStore(root, shard=shard)
    await store.open()
    try:
        live = {account: value for kind, account, value in acks if kind == "put"}
        tombstones = {account: token for kind, account, token in acks if kind == "del"}
        for account, value in live.items():
            record = await store.lookup(account)
            assert record is not None
            if account in tombstones:
                assert record.deleted and record.jwt == tombstones[account]
            elif record.deleted:  # a delete that was written but not acknowledged before the kill
                assert record.jwt == f"tok.{account}"
            else:
                assert record.jwt == value and jwt_file(root, account, shard=shard).read_text() == value
        hot = [int(n) for kind, _, n in acks if kind == "hot"]
        stored = (await store.get(key("hot"))).jwt
        assert int(stored.rsplit(".", 1)[1]) >= max(hot)
        await check_history(store, acks)
    finally:
        await store.close()


async def test_a_flood_of_new_accounts_beyond_the_backpressure_bound_all_land(
    open_store: OpenStore, root: Path, shard: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("accountd.store._mirror.MAX_DIRTY", 8)
    store = await open_store()
    accounts = [key(n) for n in range(300)]
    async with asyncio.timeout(30):  # a writer held by backpressure must be woken when files land
        await asyncio.gather(*(store.put(a, jwt(a)) for a in accounts))
        await store.flush()
    assert store.stats()["backpressure_waits"] >= 1
    assert all(jwt_file(root, a, shard=shard).read_text() == jwt(a) for a in accounts)


async def test_a_first_index_stopped_after_every_file_is_in_is_not_done_again(
    root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = DirectoryStore(root)  # an index holding an account, as an interrupted first index leaves it
    await store.open()
    await store.put(A, jwt(A))
    await store.close()
    with contextlib.closing(sqlite3.connect(root / ".accountd" / "index.db")) as db, db:
        db.execute("DELETE FROM state WHERE name = 'indexed'")
    accounts = [key(n) for n in range(50)]
    for account in accounts:
        (root / f"{account}.jwt").write_text(jwt(account))

    async def slow_reverse(self: object) -> None:  # a million accounts to look for removed files
        await asyncio.Event().wait()

    monkeypatch.setattr("accountd.store._scan.Scan._reverse", slow_reverse)
    store = DirectoryStore(root)
    await store.open()
    async with asyncio.timeout(10):
        while not store.indexed:
            await asyncio.sleep(0.01)
    assert store.scan.state == "running"
    await store.close()  # in the middle of looking for removed files: that is not indexing
    store = DirectoryStore(root, scan=False)
    await store.open()
    try:
        assert store.indexed  # else this open would read every file again, as on a first one
        assert await store.list() == sorted([*accounts, A])
    finally:
        await store.close()
