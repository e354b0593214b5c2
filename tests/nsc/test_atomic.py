"""accountd.nsc.atomic: crash-safe single writes and all-or-nothing transactions."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from accountd.nsc.atomic import Transaction, ensure_dir, write_atomic


def mode(p: Path) -> int:
    return stat.S_IMODE(p.stat().st_mode)


def test_write_atomic_creates_parents_0700_and_file_0600(tmp_path: Path) -> None:
    target = tmp_path / "a" / "b" / "f.txt"
    write_atomic(target, b"data")
    assert target.read_bytes() == b"data"
    assert mode(target) == 0o600
    assert mode(tmp_path / "a") == 0o700 and mode(tmp_path / "a" / "b") == 0o700


def test_write_atomic_replaces_and_leaves_no_temp_files(tmp_path: Path) -> None:
    target = tmp_path / "f"
    write_atomic(target, b"one")
    write_atomic(target, b"two")
    assert target.read_bytes() == b"two"
    assert [p.name for p in tmp_path.iterdir()] == ["f"]


def test_ensure_dir_returns_what_it_created(tmp_path: Path) -> None:
    assert ensure_dir(tmp_path / "x" / "y") == [tmp_path / "x", tmp_path / "x" / "y"]
    assert ensure_dir(tmp_path / "x" / "y") == []


def test_transaction_commits_every_write_and_delete(tmp_path: Path) -> None:
    old = tmp_path / "old"
    old.write_text("bye")
    tx = Transaction()
    tx.write(tmp_path / "d" / "one", "1")
    tx.write(tmp_path / "two", b"2", 0o644)
    tx.delete(old)
    tx.commit()
    assert (tmp_path / "d" / "one").read_text() == "1"
    assert mode(tmp_path / "two") == 0o644
    assert not old.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d", "two"]


def test_transaction_that_fails_before_renaming_writes_nothing(tmp_path: Path) -> None:
    (tmp_path / "blocker").write_text("a file where a directory is needed")
    tx = Transaction()
    tx.write(tmp_path / "new" / "deep" / "f", "x")
    tx.write(tmp_path / "blocker" / "g", "y")
    with pytest.raises(NotADirectoryError):
        tx.commit()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["blocker"]


def test_transaction_that_fails_while_renaming_restores_old_content(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first, second = tmp_path / "first", tmp_path / "second"
    first.write_text("old first")
    real_replace = os.replace
    calls = []

    def failing_replace(src: str | Path, dst: str | Path) -> None:
        calls.append(dst)
        if Path(dst) == second:
            raise OSError(28, "No space left on device")
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", failing_replace)
    tx = Transaction()
    tx.write(first, "new first")
    tx.write(second, "new second")
    with pytest.raises(OSError):
        tx.commit()
    monkeypatch.undo()
    assert first.read_text() == "old first"
    assert not second.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["first"]
