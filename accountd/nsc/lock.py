"""One advisory lock per home (``fcntl.flock`` on ``<home>/.lock``).

Commands that change the home hold it exclusively for their whole read-modify-write; readers
hold it shared. nsc has no lock, so two runs at once can corrupt its files (nsc#538); accountd
serialises them. The lock is released by the kernel when the process dies, so a crashed command
never leaves a stale lock behind.
"""

from __future__ import annotations

import errno
import fcntl
import os
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType

from accountd.nsc.errors import LockTimeout

__all__ = ["HomeLock"]


class HomeLock:
    """``with HomeLock(path): ...`` — blocks (up to ``timeout`` seconds) while another process holds it."""

    def __init__(
        self,
        path: Path,
        *,
        shared: bool = False,
        timeout: float = 60.0,
        on_wait: Callable[[], None] | None = None,
    ) -> None:
        self.path = path
        self.shared = shared
        self.timeout = timeout
        self.on_wait = on_wait
        self._fd: int | None = None

    def acquire(self) -> None:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        op = (fcntl.LOCK_SH if self.shared else fcntl.LOCK_EX) | fcntl.LOCK_NB
        deadline = time.monotonic() + self.timeout
        waited = False
        delay = 0.01
        while True:
            try:
                fcntl.flock(fd, op)
                break
            except OSError as exc:
                if exc.errno not in (errno.EAGAIN, errno.EACCES):
                    os.close(fd)
                    raise
            if not waited and self.on_wait is not None:
                self.on_wait()
            waited = True
            if time.monotonic() >= deadline:
                os.close(fd)
                raise LockTimeout(
                    f"another accountd command has been holding {self.path} for {self.timeout:.0f}s",
                    "wait for it to finish and try again",
                )
            time.sleep(delay)
            delay = min(delay * 2, 0.2)
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> HomeLock:
        self.acquire()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.release()
