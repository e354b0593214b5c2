"""The JWT files the directory store shares with nats-server and nats-account-server, and fs helpers.

Layout (``server/dirstore.go``): ``<root>/<PUB>.jwt``, or sharded ``<root>/<last 2 chars>/<PUB>.jwt``;
content = the JWT; a soft-deleted account is renamed ``<PUB>.jwt.deleted``. Files are 0600 and
directories 0700 whatever the umask. Everything here is blocking; callers run it in a thread.
"""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import logging
import os
import re
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import cast

from accountd.types import AccountKey

__all__ = [
    "DIR_MODE", "FILE_MODE", "JwtFiles", "fsync_dir", "lock_file", "make_dirs", "syncfs", "unlock_file", "write_file",
]

log = logging.getLogger("accountd.store")

FILE_MODE = 0o600
DIR_MODE = 0o700
JWT_SUFFIX = ".jwt"
DELETED_SUFFIX = ".jwt.deleted"
TEMP_SUFFIX = ".tmp"
_ACCOUNT_FILE = re.compile(r"A[A-Z2-7]{55}\.jwt")
HEARTBEAT = 512


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def make_dirs(path: Path, *, sync: bool = True) -> None:
    """``mkdir -p`` where every directory created is 0700 and, with ``sync``, durable (its parent
    fsync'd)."""
    if path.is_dir():
        return
    make_dirs(path.parent, sync=sync)
    try:
        os.mkdir(path, DIR_MODE)
    except FileExistsError:
        if not path.is_dir():
            raise
        return
    os.chmod(path, DIR_MODE)
    if sync:
        fsync_dir(path.parent)


def lock_file(path: Path) -> int:
    """Open ``path`` (created 0600) and hold an exclusive ``flock`` on it: the descriptor.
    ``BlockingIOError`` when another process or store holds it."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, FILE_MODE)
    try:
        os.fchmod(fd, FILE_MODE)
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BaseException:
        os.close(fd)
        raise
    return fd


def unlock_file(fd: int) -> int:
    """Let go of a :func:`lock_file` lock (the lock goes with the descriptor); returns -1."""
    if fd >= 0:
        with contextlib.suppress(OSError):
            os.close(fd)
    return -1


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def write_file(path: Path, data: bytes, *, sync: bool) -> None:
    """Replace ``path`` atomically: temp file → (fsync) → rename → (fsync directory)."""
    temp = path.with_name(path.name + TEMP_SUFFIX)
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, FILE_MODE)
    try:
        os.fchmod(fd, FILE_MODE)
        _write_all(fd, data)
        if sync:
            os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(temp, path)
    if sync:
        fsync_dir(path.parent)


def _load_syncfs() -> Callable[[int], int] | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        return cast("Callable[[int], int]", ctypes.CDLL(None, use_errno=True).syncfs)
    except (OSError, AttributeError):
        return None


_SYNCFS = _load_syncfs()


def syncfs(path: Path) -> None:
    """Make every file and directory of the filesystem holding ``path`` durable (one call on Linux)."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        if _SYNCFS is None:
            os.sync()
        elif _SYNCFS(fd) != 0:
            errno = ctypes.get_errno()
            raise OSError(errno, os.strerror(errno), str(path))
    finally:
        os.close(fd)


class JwtFiles:
    """The ``*.jwt`` files under ``root``, in the flat or the sharded layout."""

    def __init__(self, root: Path, *, shard: bool) -> None:
        self.root = root
        self.shard = shard
        self.seen = 0
        """Account files looked at by :meth:`changed`."""
        self.elsewhere: dict[AccountKey, Path] = {}
        """Accounts that also have a file in the other layout: moved on their next write."""
        self._dirs: set[Path] = {root}

    def path(self, account: AccountKey) -> Path:
        if self.shard:
            return self.root / account[-2:] / f"{account}{JWT_SUFFIX}"
        return self.root / f"{account}{JWT_SUFFIX}"

    def changed(self, since_ns: int) -> Iterator[tuple[AccountKey, Path] | None]:
        """``(account, path)`` of every ``<PUB>.jwt``, in either layout, whose status changed after
        ``since_ns`` (``st_ctime``), streamed: a million files are never listed in memory. ``None``
        every :data:`HEARTBEAT` files looked at, so that a caller can pause or stop. Removes our
        stale temp files; counts the files looked at in :attr:`seen`.

        When an account has a file in the other layout as well as in the configured one, only the
        configured one is yielded and the other is removed on the account's next write; a file in
        the other layout alone is yielded and moved on its next write.
        """
        for directory, sharded in self._directories():
            other_layout = sharded != self.shard
            try:
                it = os.scandir(directory)
            except FileNotFoundError:
                continue
            with it:
                for n, entry in enumerate(it):
                    if n % HEARTBEAT == 0:
                        yield None
                    name = entry.name
                    if not name.endswith(JWT_SUFFIX):
                        if name.endswith(JWT_SUFFIX + TEMP_SUFFIX):
                            with contextlib.suppress(FileNotFoundError):
                                os.unlink(entry.path)
                        continue
                    if not _ACCOUNT_FILE.fullmatch(name) or (sharded and name[-6:-4] != directory.name):
                        continue
                    self.seen += 1
                    account = AccountKey(name[: -len(JWT_SUFFIX)])
                    if other_layout:
                        self.elsewhere[account] = Path(entry.path)
                        if self.path(account).exists():
                            continue
                    try:
                        if entry.stat().st_ctime_ns <= since_ns:
                            continue
                    except FileNotFoundError:
                        continue
                    yield account, Path(entry.path)

    def entries(self) -> Iterator[Path]:
        """The path of every ``<PUB>.jwt`` (see :meth:`changed`)."""
        for item in self.changed(-1):
            if item is not None:
                yield item[1]

    def directories(self) -> list[Path]:
        """The root and its shard directories."""
        return [directory for directory, _ in self._directories()]

    def _directories(self) -> Iterator[tuple[Path, bool]]:
        yield self.root, False
        with os.scandir(self.root) as it:
            shards = sorted(e.path for e in it if len(e.name) == 2 and e.is_dir(follow_symlinks=False))
        for shard in shards:
            self._dirs.add(Path(shard))
            yield Path(shard), True

    def locate(self, account: AccountKey) -> Path | None:
        """The file holding ``account``'s JWT: the configured layout's, else the other one's."""
        path = self.path(account)
        if path.is_file():
            return path
        other = self._other(account)
        if other.is_file():
            self.elsewhere[account] = other  # moved on the account's next write
            return other
        return None

    def _other(self, account: AccountKey) -> Path:
        if self.shard:
            return self.root / f"{account}{JWT_SUFFIX}"
        return self.root / account[-2:] / f"{account}{JWT_SUFFIX}"

    def read(self, path: Path) -> str | None:
        """The stripped content of ``path``; ``None`` if it is gone, empty or not UTF-8 text."""
        try:
            content = path.read_bytes().decode().strip()
        except FileNotFoundError:
            return None
        except UnicodeDecodeError:
            log.warning("ignoring %s: not UTF-8 text", path)
            return None
        return content or None

    def write(self, account: AccountKey, jwt: str) -> None:
        """Write the live JWT (no fsync, of the file or of a new shard directory: the store's index is
        authoritative until the file writer's ``syncfs`` makes both durable)."""
        path = self.path(account)
        if path.parent not in self._dirs:
            make_dirs(path.parent, sync=False)
            self._dirs.add(path.parent)
        try:
            write_file(path, jwt.encode(), sync=False)
        except FileNotFoundError:
            if path.parent == self.root:
                raise
            make_dirs(path.parent, sync=False)  # a shard directory removed behind our back
            write_file(path, jwt.encode(), sync=False)
        other = self.elsewhere.pop(account, None)
        if other is not None:
            other.unlink(missing_ok=True)

    def remove(self, account: AccountKey) -> None:
        """Soft-delete as nats-server does: rename ``<PUB>.jwt`` to ``<PUB>.jwt.deleted``."""
        for path in (self.elsewhere.pop(account, None), self.path(account)):
            if path is not None:
                try:
                    os.replace(path, path.with_name(path.name[: -len(JWT_SUFFIX)] + DELETED_SUFFIX))
                except FileNotFoundError:
                    pass
