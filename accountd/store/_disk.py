"""The blocking half of the directory store: recovery, group commits, file writes, checkpoints, probes.

Every method but the bookkeeping ones runs in a worker thread and turns ``OSError`` into
:class:`StoreError`. Two threads may be at work at once (the async half, :mod:`.directory`,
makes sure there are never more): the writer's, for :meth:`Disk.commit` and
:meth:`Disk.checkpoint`, and the file writer's, for :meth:`Disk.materialise`. They share only
:attr:`Disk.dirty`, :attr:`Disk.failed` and the file counters, under :attr:`Disk.lock`; the log is
the writer's alone, the ``.jwt`` files the file writer's alone. :meth:`Disk.open` and
:meth:`Disk.close` run while neither is at work; :meth:`Disk.probe` may run beside both (it
writes a file of its own and reads :attr:`Disk.failed` under the lock).

A change is durable once its batch is in the write-ahead log: :meth:`Disk.commit` appends it,
fsyncs, and adds the changed accounts to :attr:`Disk.dirty`. :meth:`Disk.materialise` later
writes the latest record of each dirty account to its ``.jwt`` file (temp → rename, no fsync of
its own), so that many changes of one account in between cost one file write. A checkpoint,
taken only when nothing is dirty, makes the whole filesystem durable with one ``syncfs``, writes
the snapshot and empties the log. On open, the snapshot and the log are replayed and reconciled
with the files (see :meth:`Disk._reconcile`): a file that lags the log is rewritten from it.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import logging
import os
import threading
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from accountd.store._files import FILE_MODE, JwtFiles, make_dirs, syncfs, write_file
from accountd.store._index import EMPTY_META, Index, check_account, clean_meta
from accountd.store._wal import Log, encode_batch, read_snapshot, write_snapshot
from accountd.store.base import Record, StoreError
from accountd.types import JWT, AccountKey

__all__ = ["Disk"]

log = logging.getLogger("accountd.store")

SIDECAR = ".accountd"


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass(slots=True)
class _Recovered:
    """One account's state while recovering."""

    revision: int
    deleted: bool
    jwt: str | None
    """The JWT or token; ``None`` when only the snapshot knows it: then it is the file, if its
    SHA-256 is ``sha256``."""
    sha256: str | None
    meta: Mapping[str, int | str]
    pending: bool


class Disk:
    """The files under ``root``: the JWTs, and ``root/.accountd/`` (lock, log, snapshot)."""

    def __init__(self, root: Path, *, shard: bool, checkpoint_bytes: int) -> None:
        self.root = root
        self.sidecar = root / SIDECAR
        self.files = JwtFiles(root, shard=shard)
        self.log = Log(self.sidecar / "log")
        self.snapshot_path = self.sidecar / "state.json"
        self.checkpoint_bytes = checkpoint_bytes
        self.lock = threading.Lock()
        """Guards :attr:`dirty`, :attr:`failed` and the file counters (two threads use them)."""
        self.dirty: dict[AccountKey, Record] = {}
        """Committed changes whose ``.jwt`` file is not written yet: the latest one per account."""
        self.failed: dict[AccountKey, str] = {}
        """Dirty accounts whose last file write failed, with why; retried by later passes."""
        self.error: str | None = None
        """The last failure to write a ``.jwt`` file or a checkpoint."""
        self.broken: str | None = None
        """Why the store cannot be written any more (a reopen is needed)."""
        self.snapshot_size = 0
        self.counters = dict.fromkeys(
            (
                "batches",
                "fsyncs",
                "checkpoints",
                "files_written",
                "file_errors",
                "external",
                "forgotten",
                "cut_bytes",
            ),
            0,
        )
        self._retry_checkpoint_at = 0
        self._lock_fd = -1

    # -- open / close --------------------------------------------------------------------------

    def open(self) -> Index:
        """Lock the directory, recover the state and return it."""
        try:
            make_dirs(self.root)
            make_dirs(self.sidecar)
            self._lock()
            try:
                return self._recover()
            except BaseException:
                self.log.close()
                self._unlock()
                raise
        except OSError as exc:
            raise StoreError(f"cannot open directory store {self.root}: {exc}") from exc

    def close(
        self,
        records: Collection[Record],
        pending: set[AccountKey],
        revision: int,
        published: list[tuple[AccountKey, int]],
    ) -> None:
        """Write outstanding files and a final checkpoint; release the directory.

        ``published`` are the marks not logged yet: the checkpoint records them (``pending`` is
        already without them); without a checkpoint they are appended to the log.
        """
        try:
            if self.broken is None:
                self.materialise()
                try:
                    if not self.dirty and (self.log.size or published):
                        self.checkpoint(records, pending, revision)
                        published = []
                finally:
                    if published:  # a mark lost here only means one more publish: best effort
                        with contextlib.suppress(OSError):
                            self.log.append(encode_batch([], published))
        finally:
            self.log.close()
            self._unlock()
        if self.dirty and self.broken is None:  # broken: every write since said why
            raise StoreError(f"closed with {len(self.dirty)} JWT files not written: {self.error}")

    def _lock(self) -> None:
        fd = os.open(self.sidecar / "lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, FILE_MODE)
        try:
            os.fchmod(fd, FILE_MODE)
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise StoreError(f"directory store {self.root} is in use by another process or store") from None
        self._lock_fd = fd

    def _unlock(self) -> None:
        if self._lock_fd >= 0:
            with contextlib.suppress(OSError):  # the lock goes with the descriptor either way
                os.close(self._lock_fd)
            self._lock_fd = -1

    # -- writing -------------------------------------------------------------------------------

    def commit(self, changes: list[Record], published: list[tuple[AccountKey, int]]) -> None:
        """Log one batch durably: the acknowledgement point. The changed accounts become dirty;
        :meth:`materialise` writes their files later."""
        if self.broken is not None:
            raise StoreError(self.broken)
        if not self.log.is_ours():
            self.broken = f"directory store {self.root} was removed or replaced; reopen it"
            raise StoreError(self.broken)
        if not (changes or published):
            return
        try:
            self.log.append(encode_batch(changes, published))
        except OSError as exc:
            if self.log.broken:
                self.broken = f"directory store {self.root}: log write failed and could not be undone: {exc}"
            raise StoreError(f"directory store {self.root}: cannot write the log: {exc}") from exc
        self.counters["batches"] += 1
        self.counters["fsyncs"] += 1
        with self.lock:
            for record in changes:
                self.dirty[record.account] = record

    def materialise(self, work: Iterable[tuple[AccountKey, Record]] | None = None) -> dict[AccountKey, str]:
        """Write the files of ``work`` (default: every dirty account, with its latest record);
        return the ones that failed.

        One call at a time. A record superseded meanwhile stays dirty, with the newer record, for
        a later call; a file that could not be written stays dirty too, and in :attr:`failed`
        until a later write succeeds.
        """
        if self.broken is not None:
            return {}
        if not self.log.is_ours():  # do not recreate a directory that was removed
            self.broken = f"directory store {self.root} was removed or replaced; reopen it"
            return {}
        if work is None:
            with self.lock:
                work = list(self.dirty.items())
        written: list[tuple[AccountKey, Record]] = []
        failed: dict[AccountKey, str] = {}
        for account, record in work:
            try:
                if record.deleted:
                    self.files.remove(account)
                else:
                    self.files.write(account, record.jwt)
            except (OSError, ValueError) as exc:  # ValueError: a JWT that is not valid UTF-8
                failed[account] = f"saved, but writing {self.files.path(account)} failed: {exc}"
            else:
                written.append((account, record))
        with self.lock:
            for account, record in written:
                if self.dirty.get(account) is record:
                    del self.dirty[account]
                self.failed.pop(account, None)
            new = failed.keys() - self.failed.keys()
            self.failed.update(failed)
            self.counters["files_written"] += len(written)
            self.counters["file_errors"] += len(failed)
        if failed:
            self.error = next(iter(failed.values()))
        if new:  # retries of the same files fail quietly
            log.warning("%s: %d JWT files not written: %s", self.root, len(new), failed[next(iter(new))])
        return failed

    def log_full(self, fraction: float = 1.0) -> bool:
        """Whether the log grew enough for a checkpoint (or ``fraction`` of that)."""
        threshold = max(self.checkpoint_bytes, self.snapshot_size, self._retry_checkpoint_at)
        return self.log.size >= threshold * fraction

    def wants_checkpoint(self) -> bool:
        return self.broken is None and not self.dirty and self.log_full()

    def checkpoint(self, records: Iterable[Record], pending: set[AccountKey], revision: int) -> None:
        """Make the files durable, write the snapshot of ``records``, empty the log.

        ``records`` must be the committed state after the last batch, with every file written
        (nothing dirty), and no batch may be committed meanwhile.
        """
        try:
            syncfs(self.root)
            self.snapshot_size = write_snapshot(self.snapshot_path, revision, records, pending)
            self.log.reset()
        except OSError as exc:
            self._retry_checkpoint_at = self.log.size + self.checkpoint_bytes
            self.error = f"checkpoint failed: {exc}"
            raise StoreError(f"directory store {self.root}: {self.error}") from exc
        self._retry_checkpoint_at = 0
        self.counters["fsyncs"] += 4
        self.counters["checkpoints"] += 1

    def probe(self) -> None:
        """Raise :class:`StoreError` unless the store can be written right now."""
        if self.broken is not None:
            raise StoreError(self.broken)
        if not self.log.is_ours():
            raise StoreError(f"directory store {self.root} was removed or replaced")
        probe = self.root / ".accountd-probe"
        try:
            write_file(probe, b"ok\n", sync=True)
            probe.unlink()
        except OSError as exc:
            raise StoreError(f"directory store {self.root} is not writable: {exc}") from exc
        with self.lock:
            failed = len(self.failed), next(iter(self.failed.values()), "")
        if failed[0]:
            raise StoreError(f"directory store {self.root}: {failed[0]} JWT files not written: {failed[1]}")

    # -- recovery ------------------------------------------------------------------------------

    def _recover(self) -> Index:
        state: dict[AccountKey, _Recovered] = {}
        known: dict[AccountKey, set[str]] = {}
        """SHA-256 of every live JWT we may have written per account: a file with one of them is
        ours (maybe stale); any other content was written by someone else."""
        revision = 0
        snapshot = read_snapshot(self.snapshot_path)
        if snapshot is not None:
            self.snapshot_size = self.snapshot_path.stat().st_size
            try:
                revision = int(snapshot["revision"])
                for key, item in snapshot["accounts"].items():
                    account = check_account(key)
                    deleted = bool(item.get("deleted", False))
                    sha = None if deleted else str(item["sha256"])
                    jwt = str(item["token"]) if deleted else None
                    meta = clean_meta(item.get("meta"))
                    state[account] = _Recovered(
                        int(item["revision"]), deleted, jwt, sha, meta, bool(item["pending"])
                    )
                    if sha is not None:
                        known[account] = {sha}
            except (KeyError, TypeError, ValueError, AttributeError) as exc:
                raise StoreError(f"{self.snapshot_path} is malformed: {exc!r}") from None
        entries = self.log.open()
        self.counters["cut_bytes"] = self.log.cut
        for entry in entries:
            revision = max(revision, self._replay(entry, state, known))
        index = Index()
        index.revision = revision
        rewrite = self._reconcile(state, known, self.files.scan(), index)
        for record in rewrite:
            self.dirty[record.account] = record
        if self.materialise():
            raise StoreError(f"cannot write JWT files: {self.error}")
        if entries or rewrite or self.counters["external"] or self.counters["forgotten"]:
            self.checkpoint(index.records.values(), index.pending, index.revision)
        return index

    def _replay(
        self, entry: dict[str, Any], state: dict[AccountKey, _Recovered], known: dict[AccountKey, set[str]]
    ) -> int:
        try:
            op = entry["op"]
            account = check_account(entry["account"])
            revision = entry["revision"]
            if not isinstance(revision, int) or revision <= 0:
                raise ValueError(f"bad revision {revision!r}")
            current = state.get(account)
            if op == "published":
                if current is not None and current.revision == revision:
                    current.pending = False
                return revision
            if op not in ("put", "delete"):
                raise ValueError(f"unknown op {op!r}")
            deleted = op == "delete"
            jwt = entry["token" if deleted else "jwt"]
            if not isinstance(jwt, str):
                raise ValueError("the JWT is not a string")
            meta = clean_meta(entry["meta"])
        except (KeyError, TypeError, ValueError) as exc:
            raise StoreError(f"{self.log.path}: malformed entry {entry!r}: {exc}") from None
        if not deleted:
            known.setdefault(account, set()).add(_sha(jwt))
        if current is None or revision > current.revision:
            state[account] = _Recovered(revision, deleted, jwt, None, meta, True)
        return revision

    def _reconcile(
        self,
        state: dict[AccountKey, _Recovered],
        known: dict[AccountKey, set[str]],
        files: dict[AccountKey, str],
        index: Index,
    ) -> list[Record]:
        """Fill ``index`` from the recovered state and the files; return the files to rewrite.

        A file whose content we wrote (any version: writes lag the log) yields to the log. Any
        other content was written by another tool while we were down: the file wins, as a new
        revision that is not pending. A live account whose snapshot-era file is gone was removed
        by someone else and is forgotten.
        """
        rewrite: list[Record] = []
        for account in sorted(state.keys() | files.keys()):
            rec = state.get(account)
            content = files.get(account)
            sha = _sha(content) if content is not None else None
            ours = sha in known.get(account, ())
            keep = stale = False
            if rec is None:
                pass
            elif rec.deleted:
                keep, stale = content is None or ours, content is not None
            elif rec.jwt is None:  # live, and only the snapshot knows it: the file holds the JWT
                if content is None:
                    log.warning(
                        "%s: the JWT file of %s was removed; forgetting the account", self.root, account
                    )
                    self.counters["forgotten"] += 1
                    continue
                if sha == rec.sha256:
                    keep, rec.jwt = True, content
            else:
                keep, stale = content is None or ours, content != rec.jwt
            if keep:
                assert rec is not None and rec.jwt is not None
                record = Record(account, JWT(rec.jwt), rec.revision, rec.deleted, rec.meta)
                index.apply(record, pending=rec.pending)
                if stale:
                    rewrite.append(record)
            elif content is not None:
                index.revision += 1
                index.apply(Record(account, JWT(content), index.revision, False, EMPTY_META), pending=False)
                self.counters["external"] += 1
        if self.counters["external"]:
            log.info("%s: indexed %d JWT files written by another tool", self.root, self.counters["external"])
        return rewrite
