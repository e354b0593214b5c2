"""The directory store's sidecar formats: the write-ahead log and the state snapshot.

Both live in ``<root>/.accountd/`` and are blocking; callers run them in a thread.

**Log** (``log``): append-only text, one entry per line, ``<crc32 of JSON as 8 hex digits> <JSON>\\n``::

    {"op":"put","account":"A…","revision":7,"jwt":"eyJ…","meta":{"iat":1700000000}}
    {"op":"delete","account":"A…","revision":8,"token":"eyJ…","meta":{}}
    {"op":"published","account":"A…","revision":8}
    {"op":"commit","entries":3}

Each batch (one group commit) ends with a ``commit`` line and is fsync'd once: that is the point a
write is acknowledged. Replay applies whole batches only; an incomplete or damaged final batch is a
write that was never acknowledged and is cut off. Damage followed by a later intact batch is not a
torn tail but corruption, and opening fails rather than guessing.

**Snapshot** (``state.json``), rewritten atomically at each checkpoint, after which the log is
emptied: ``{"format": "accountd-directory-state", "version": 1, "revision": N, "accounts": {…}}``
with, per account, ``revision``, ``meta``, ``pending`` and either ``sha256`` of the live JWT file
(whose content is the JWT itself) or ``deleted: true`` and the delete ``token``.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import zlib
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from accountd.store._files import FILE_MODE, fsync_dir, write_file
from accountd.store.base import Record, StoreError
from accountd.types import AccountKey

__all__ = ["SNAPSHOT_FORMAT", "Log", "encode_batch", "read_snapshot", "write_snapshot"]

log = logging.getLogger("accountd.store")

SNAPSHOT_FORMAT = "accountd-directory-state"
SNAPSHOT_VERSION = 1

_datasync = getattr(os, "fdatasync", os.fsync)
_DSYNC = getattr(os, "O_DSYNC", 0)


def _append(fd: int, data: bytes) -> None:
    """Write ``data`` to the log opened on ``fd``; durable on return.

    The log is opened ``O_DSYNC`` where there is one: each write then waits for its data (and the
    file size) to be on the disk, as an ``fdatasync`` would, in one system call instead of two.
    That matters under load: every return from a system call in a worker thread waits for the GIL,
    up to a switch interval while the event loop is busy.
    """
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]
    if not _DSYNC:
        _datasync(fd)


def _line(entry: dict[str, Any]) -> bytes:
    body = json.dumps(entry, separators=(",", ":")).encode()
    return b"%08x %s\n" % (zlib.crc32(body), body)


def encode_batch(changes: Iterable[Record], published: Iterable[tuple[AccountKey, int]]) -> bytes:
    """The log lines of one batch, commit line included."""
    lines = []
    for record in changes:
        entry: dict[str, Any] = {"op": "delete" if record.deleted else "put", "account": record.account}
        entry["revision"] = record.revision
        entry["token" if record.deleted else "jwt"] = record.jwt
        entry["meta"] = dict(record.meta)
        lines.append(_line(entry))
    for account, revision in published:
        lines.append(_line({"op": "published", "account": account, "revision": revision}))
    lines.append(_line({"op": "commit", "entries": len(lines)}))
    return b"".join(lines)


def _parse(line: bytes) -> dict[str, Any] | None:
    if len(line) < 10 or line[8:9] != b" ":
        return None
    try:
        crc = int(line[:8], 16)
    except ValueError:
        return None
    body = line[9:]
    if zlib.crc32(body) != crc:
        return None
    try:
        entry = json.loads(body)
    except ValueError:
        return None
    return entry if isinstance(entry, dict) else None


def parse_log(data: bytes) -> tuple[list[dict[str, Any]], int]:
    """Entries of the intact batches and the length of the prefix holding them."""
    entries: list[dict[str, Any]] = []
    batch: list[dict[str, Any]] = []
    good = pos = 0
    while True:
        end = data.find(b"\n", pos)
        entry = _parse(data[pos:end]) if end >= 0 else None
        if entry is None:
            break
        pos = end + 1
        if entry.get("op") != "commit":
            batch.append(entry)
            continue
        if entry.get("entries") != len(batch):
            break
        entries += batch
        batch = []
        good = pos
    # Batches are written one at a time, each fsync'd before the next, so only the final batch can
    # be torn (pages may reach the disk out of order: a hole, then intact lines). An intact commit
    # line after the damage is fine only as the very last line, closing that same final batch.
    rest = data[pos:].split(b"\n")
    if rest and not rest[-1]:
        rest.pop()
    commits = [
        i for i, line in enumerate(rest) if (e := _parse(line)) is not None and e.get("op") == "commit"
    ]
    if len(commits) > 1 or (commits and commits[0] != len(rest) - 1):
        raise StoreError(
            f"write-ahead log is damaged at byte {pos} and intact batches follow; refusing to open"
        )
    return entries, good


class Log:
    """The append-only write-ahead log; every :meth:`append` is durable when it returns.

    Only one thread at a time may call its methods.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.size = 0
        self.cut = 0
        """Bytes of an unacknowledged, torn tail cut off by :meth:`open`."""
        self.broken = False
        """A failed append could not be undone: the log must not be written again."""
        self._fd = -1
        self._id = (-1, -1)

    def open(self) -> list[dict[str, Any]]:
        """Open for appending and return the entries of every intact batch."""
        created = not self.path.exists()
        flags = os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC | _DSYNC
        self._fd = os.open(self.path, flags, FILE_MODE)
        os.fchmod(self._fd, FILE_MODE)
        st = os.fstat(self._fd)
        self._id = (st.st_dev, st.st_ino)
        if created:
            fsync_dir(self.path.parent)
        with open(self._fd, "rb", closefd=False) as f:
            data = f.read()
        entries, self.size = parse_log(data)
        self.cut = len(data) - self.size
        if self.cut:
            log.warning("%s: cut off %d bytes of an unacknowledged, torn final batch", self.path, self.cut)
            os.ftruncate(self._fd, self.size)
            os.fsync(self._fd)
        return entries

    def append(self, data: bytes) -> None:
        """Write ``data`` durably; on failure, cut the log back to where it was."""
        try:
            _append(self._fd, data)
        except OSError:
            try:
                os.ftruncate(self._fd, self.size)
                os.fsync(self._fd)
            except OSError:
                self.broken = True
            raise
        self.size += len(data)

    def reset(self) -> None:
        """Empty the log (after a checkpoint made its content redundant)."""
        os.ftruncate(self._fd, 0)
        os.fsync(self._fd)
        self.size = 0

    def is_ours(self) -> bool:
        """Whether ``path`` still names the file we write (the directory was not removed or replaced)."""
        try:
            st = os.stat(self.path)
        except OSError:
            return False
        return (st.st_dev, st.st_ino) == self._id

    def close(self) -> None:
        if self._fd >= 0:
            with contextlib.suppress(OSError):  # every append was fsync'd: nothing is lost here
                os.close(self._fd)
            self._fd = -1


def read_snapshot(path: Path) -> dict[str, Any] | None:
    """The snapshot, or ``None`` if there is none yet."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    try:
        state = json.loads(data)
    except ValueError as exc:
        raise StoreError(f"{path} is not valid JSON: {exc}") from None
    if not isinstance(state, dict) or state.get("format") != SNAPSHOT_FORMAT:
        raise StoreError(f"{path} is not an accountd directory state file")
    if state.get("version") != SNAPSHOT_VERSION:
        raise StoreError(
            f"{path} has version {state.get('version')!r}; this accountd reads {SNAPSHOT_VERSION}"
        )
    return state


def write_snapshot(path: Path, revision: int, records: Iterable[Record], pending: set[AccountKey]) -> int:
    """Durably replace the snapshot; returns its size in bytes."""
    accounts: dict[str, dict[str, Any]] = {}
    for record in sorted(records, key=lambda r: r.account):
        item: dict[str, Any] = {"revision": record.revision}
        if record.deleted:
            item["deleted"] = True
            item["token"] = record.jwt
        else:
            item["sha256"] = hashlib.sha256(record.jwt.encode()).hexdigest()
        item["meta"] = dict(record.meta)
        item["pending"] = record.account in pending
        accounts[record.account] = item
    state = {
        "format": SNAPSHOT_FORMAT,
        "version": SNAPSHOT_VERSION,
        "revision": revision,
        "accounts": accounts,
    }
    data = json.dumps(state, separators=(",", ":")).encode()
    write_file(path, data, sync=True)
    return len(data)
