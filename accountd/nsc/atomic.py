"""Crash-safe file writes: temp file → fsync → rename → fsync directory.

:func:`write_atomic` replaces one file. :class:`Transaction` stages several writes and deletions
and applies them together: every new content is first written to a temp file next to its target
(so a full disk or a permission problem fails before anything changes), then renamed into place.
If a step fails, what was already renamed is rolled back and directories the transaction created
are removed again, so a failed command leaves no partial files behind.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["DIR_MODE", "FILE_MODE", "Transaction", "ensure_dir", "fsync_dir", "write_atomic"]

DIR_MODE = 0o700
FILE_MODE = 0o600


def fsync_dir(path: Path) -> None:
    """Make a rename in ``path`` durable."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def ensure_dir(path: Path, mode: int = DIR_MODE) -> list[Path]:
    """Create ``path`` and missing parents with ``mode``; return the directories created, outermost first."""
    missing: list[Path] = []
    p = path
    while not p.exists():
        missing.append(p)
        p = p.parent
    if not p.is_dir():
        raise NotADirectoryError(20, "Not a directory", str(p))
    for d in reversed(missing):
        d.mkdir(mode=mode)
        os.chmod(d, mode)  # mkdir's mode is filtered by the umask
    return list(reversed(missing))


def _temp_beside(path: Path, data: bytes, mode: int) -> Path:
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, mode)
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
    except BaseException:
        os.close(fd)
        os.unlink(name)
        raise
    os.close(fd)
    return Path(name)


def write_atomic(path: Path, data: bytes, mode: int = FILE_MODE) -> None:
    """Replace ``path`` with ``data`` so that readers see the old or the new content, never a mix."""
    ensure_dir(path.parent)
    tmp = _temp_beside(path, data, mode)
    try:
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)


@dataclass
class Transaction:
    """Writes and deletions applied all together by :meth:`commit`, or not at all."""

    writes: dict[Path, tuple[bytes, int]] = field(default_factory=dict)
    deletes: list[Path] = field(default_factory=list)
    rmdirs: list[Path] = field(default_factory=list)
    """Directories removed after the deletions when they are empty then (innermost first)."""

    def write(self, path: Path, data: bytes | str, mode: int = FILE_MODE) -> None:
        self.writes[path] = (data.encode() if isinstance(data, str) else data, mode)

    def delete(self, path: Path) -> None:
        self.deletes.append(path)

    def delete_tree(self, root: Path) -> list[Path]:
        """Stage the deletion of every file below ``root`` and the removal of its directories."""
        if not root.is_dir():
            return []
        files = sorted(p for p in root.rglob("*") if not p.is_dir())
        self.deletes.extend(files)
        self.rmdirs.extend(sorted((p for p in root.rglob("*") if p.is_dir()), key=lambda d: -len(d.parts)))
        self.rmdirs.append(root)
        return files

    def staged(self, path: Path) -> bytes | None:
        entry = self.writes.get(path)
        return entry[0] if entry else None

    def __bool__(self) -> bool:
        return bool(self.writes or self.deletes or self.rmdirs)

    def commit(self) -> None:
        created_dirs: list[Path] = []
        temps: dict[Path, Path] = {}
        done: list[tuple[Path, Path | None]] = []  # (target, backup of the old file or None)
        try:
            for path, (data, mode) in self.writes.items():
                created_dirs += ensure_dir(path.parent)
                temps[path] = _temp_beside(path, data, mode)
            for path, tmp in temps.items():
                backup = self._backup(path)
                done.append((path, backup))
                os.replace(tmp, path)
            for path in self.deletes:
                if path.exists():
                    done.append((path, self._backup(path)))
                    path.unlink()
        except BaseException:
            self._rollback(temps, done, created_dirs)
            raise
        for _, backup in done:
            if backup is not None:
                backup.unlink(missing_ok=True)
        for d in self.rmdirs:
            with contextlib.suppress(OSError):  # not empty: something else lives there, keep it
                d.rmdir()
        for d in {p.parent for p in [*self.writes, *self.deletes, *self.rmdirs]}:
            if d.exists():
                fsync_dir(d)
        self.writes.clear()
        self.deletes.clear()
        self.rmdirs.clear()

    @staticmethod
    def _backup(path: Path) -> Path | None:
        if not path.exists():
            return None
        backup = path.with_name(f".{path.name}.{os.getpid()}.bak")
        backup.unlink(missing_ok=True)
        os.link(path, backup)
        return backup

    @staticmethod
    def _rollback(temps: dict[Path, Path], done: list[tuple[Path, Path | None]], created: list[Path]) -> None:
        for tmp in temps.values():
            with contextlib.suppress(OSError):
                tmp.unlink(missing_ok=True)
        for target, backup in reversed(done):
            with contextlib.suppress(OSError):
                if backup is not None:
                    os.replace(backup, target)
                else:
                    target.unlink(missing_ok=True)
        for d in reversed(created):
            with contextlib.suppress(OSError):
                d.rmdir()
