"""The audit log: every write attempt — accepted or refused — as one JSON Lines record.

A transport (the HTTP edge, the NATS responder) opens an :class:`Attempt` when a POST, DELETE or
``$SYS.REQ`` claims update/delete arrives, hands it to the service (which fills in the account,
``jti``, ``iat``, the revision stored, and a managed origin), and records its outcome in exactly
one place, so a request refused before the service saw it (429, 413, 408) is in the log too::

    {"time": 1700000000.25, "op": "put", "account": "A…", "via": "http", "client": "127.0.0.1",
     "ok": false, "status": 409, "code": "stale_iat", "message": "stale JWT: …",
     "revision": null, "jti": "…", "iat": 1699999999}

Records are written in order: :meth:`AuditLog.record` appends to a buffer and one writer task
hands each batch to a thread, which appends and flushes it (no fsync: a record survives a crash
of the process, not of the machine). The file is rotated by size: ``audit.jsonl`` →
``audit.jsonl.1`` … ``.4``. :meth:`AuditLog.read` walks them newest first, from the end.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from accountd.service.cache import parse_cache_size
from accountd.service.origin import Origin

__all__ = ["DEFAULT_MAX_BYTES", "KEEP", "Attempt", "AuditLog", "parse_bytes"]

log = logging.getLogger("accountd.audit")

DEFAULT_MAX_BYTES: Final = 64 << 20
KEEP: Final = 4
"""Rotated files kept beside the current one."""
_BLOCK: Final = 1 << 16


def parse_bytes(text: str | int) -> int:
    """``67108864``, ``64MiB``, ``500MB`` → bytes; ``ValueError`` otherwise."""
    count, size = parse_cache_size(str(text))
    return size if size is not None else int(count or 0)


@dataclass(slots=True)
class Attempt:
    """One write attempt, filled in as it is judged; recorded once by the door it came through."""

    op: str
    """``put`` or ``delete``."""
    origin: Origin = field(default_factory=dict)
    """How it arrived; the service makes it ``managed`` when it re-signs the JWT."""
    account: str | None = None
    """The path key, or the JWT's subject once decoded (for a delete over NATS, its one account)."""
    accounts: list[str] | None = None
    """A delete token's accounts."""
    jti: str | None = None
    iat: int | None = None
    revision: int | None = None
    """The revision stored (an unchanged re-POST: the current one)."""
    message: str = ""
    """What an accepted attempt did (``stored``, ``unchanged``, ``deleted 2 accounts``, a clamp note)."""

    def to_record(self, time: float, status: int, code: str | None, message: str) -> dict[str, Any]:
        doc: dict[str, Any] = {"time": time, "op": self.op, "account": self.account}
        if self.accounts is not None:
            doc["accounts"] = self.accounts
        for key, value in self.origin.items():
            doc.setdefault(key, value)
        doc.update(ok=status < 400, status=status, code=code, message=message,
                   revision=self.revision, jti=self.jti, iat=self.iat)
        return doc


def _of_account(doc: Mapping[str, Any], account: str | None) -> bool:
    return account is None or doc.get("account") == account or account in (doc.get("accounts") or ())


def _reverse_lines(path: Path) -> Iterator[bytes]:
    """The lines of ``path``, last first, read a block at a time from the end."""
    try:
        f = open(path, "rb")  # noqa: SIM115 - closed by the with below; only the open may miss
    except FileNotFoundError:
        return
    with f:
        end = f.seek(0, os.SEEK_END)
        rest = b""
        while end > 0:
            start = max(0, end - _BLOCK)
            f.seek(start)
            chunk = f.read(end - start) + rest
            end = start
            lines = chunk.split(b"\n")
            rest = lines.pop(0) if start > 0 else b""
            yield from (line for line in reversed(lines) if line.strip())


def _last_time(path: Path | None) -> float:
    """The time of the last record in ``path`` (0 if none): a restart keeps times from going back."""
    for line in _reverse_lines(path) if path is not None else ():
        try:
            value = json.loads(line).get("time")
        except (ValueError, AttributeError):
            continue
        if isinstance(value, int | float):
            return float(value)
    return 0.0


class AuditLog:
    """JSON Lines at ``path`` (``None``: off — records are dropped and :meth:`read` says so)."""

    def __init__(self, path: str | os.PathLike[str] | None, *, max_bytes: int = DEFAULT_MAX_BYTES,
                 keep: int = KEEP, clock: Callable[[], float] = time.time) -> None:
        self.path = Path(path) if path is not None else None
        self.max_bytes = max_bytes
        self.keep = keep
        self.clock = clock
        self._queue: list[str] = []
        self._writer: asyncio.Task[None] | None = None
        self._file: Any = None
        self._size = 0
        self._last = 0.0
        self._lock = threading.Lock()
        """Held by the writer thread and by readers: a rotation never happens under a read."""
        self.counters: dict[str, int] = {"audit_records": 0, "audit_write_errors": 0, "audit_rotations": 0}

    @property
    def enabled(self) -> bool:
        return self.path is not None

    def files(self) -> list[Path]:
        """The current file and the rotated ones, newest first."""
        if self.path is None:
            return []
        return [self.path] + [self.path.with_name(f"{self.path.name}.{i}") for i in range(1, self.keep + 1)]

    # --- writing -----------------------------------------------------------------------------

    def record(self, attempt: Attempt, *, status: int, code: str | None = None, message: str = "") -> None:
        """Queue the outcome of ``attempt``; written soon, in the order recorded."""
        if self.path is None:
            return
        # Times never go back within a log, so a reader may stop at the first record before `since`.
        now = self._last = max(self.clock(), self._last)
        line = json.dumps(attempt.to_record(round(now, 6), status, code, message or attempt.message),
                          separators=(",", ":"), ensure_ascii=False)
        self._queue.append(line + "\n")
        self.counters["audit_records"] += 1
        if self._writer is None or self._writer.done():
            self._writer = asyncio.get_running_loop().create_task(self._drain())

    async def _drain(self) -> None:
        while self._queue:
            batch, self._queue = self._queue, []
            await asyncio.to_thread(self._write, "".join(batch).encode())

    def open(self) -> None:
        """Open the file for appending and read the last record's time; ``OSError`` if it cannot be.

        Called once at start-up (after the store opened), so an audit log that cannot be written
        stops ``accountd serve`` with one line instead of failing every write later.
        """
        if self.path is None:
            return
        with self._lock:
            self._open_file()
        self._last = max(self._last, _last_time(self.path))

    def _open_file(self) -> None:
        assert self.path is not None
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        self._file = os.fdopen(fd, "ab")
        self._size = os.fstat(fd).st_size

    def _write(self, data: bytes) -> None:
        assert self.path is not None
        with self._lock:
            try:
                if self._file is None:
                    self._open_file()
                for line in data.splitlines(keepends=True):  # a batch may span a rotation
                    if self._size and self._size + len(line) > self.max_bytes:
                        self._file.flush()
                        self._rotate()
                    self._file.write(line)
                    self._size += len(line)
                self._file.flush()
            except OSError as exc:
                self.counters["audit_write_errors"] += 1
                log.error("audit log %s: cannot write %d bytes: %s", self.path, len(data), exc)
                self._close_file()

    def _rotate(self) -> None:
        self._close_file()
        names = self.files()
        with contextlib.suppress(FileNotFoundError):
            names[-1].unlink()
        for older, newer in zip(reversed(names[1:]), reversed(names[:-1]), strict=True):
            with contextlib.suppress(FileNotFoundError):
                newer.rename(older)
        self.counters["audit_rotations"] += 1
        self._open_file()

    def _close_file(self) -> None:
        if self._file is not None:
            with contextlib.suppress(OSError):
                self._file.close()
            self._file = None

    async def flush(self) -> None:
        """Return once everything recorded so far is written."""
        while self._writer is not None and not self._writer.done():
            await asyncio.shield(self._writer)

    async def close(self) -> None:
        await self.flush()
        with self._lock:
            self._close_file()

    # --- reading -----------------------------------------------------------------------------

    async def read(self, *, account: str | None = None, since: float | None = None,
                   limit: int = 100) -> list[dict[str, Any]]:
        """Records newest first (at most ``limit``), of ``account`` (its key, or listed by a delete),
        at or after ``since`` (unix seconds), the rotated files included."""
        await self.flush()
        return await asyncio.to_thread(self._read, account, since, limit)

    def _read(self, account: str | None, since: float | None, limit: int) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        with self._lock:
            for path in self.files():
                for line in _reverse_lines(path):
                    try:
                        doc = json.loads(line)
                    except ValueError:
                        continue  # a torn last line after a crash
                    if not isinstance(doc, dict) or not isinstance(doc.get("time"), int | float):
                        continue
                    if since is not None and doc["time"] < since:
                        return out
                    if _of_account(doc, account):
                        out.append(doc)
                        if len(out) >= limit:
                            return out
        return out
