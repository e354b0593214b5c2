"""A store that cannot be opened stops ``accountd serve`` with one clear line and exit 1, never a traceback."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from accountd.claims import Role, create, encode, new_operator


@pytest.fixture
def public_dir() -> Iterator[Path]:
    """A directory every user can reach (pytest's own are root's alone): for the unprivileged serve."""
    path = Path(tempfile.mkdtemp(prefix="accountd-test-"))
    path.chmod(0o755)
    yield path
    for sub in path.rglob("*"):
        if sub.is_dir():
            sub.chmod(0o755)
    shutil.rmtree(path)


@pytest.fixture
def operator(public_dir: Path) -> Path:
    key = create(Role.OPERATOR)
    path = public_dir / "operator.jwt"
    path.write_text(encode(new_operator(key.public_key, "OP"), key))
    path.chmod(0o644)
    return path


def serve(operator: Path, store: str, *, as_nobody: bool = False) -> subprocess.CompletedProcess[str]:
    prefix: list[str] = []
    if as_nobody and os.geteuid() == 0:  # root reads and writes whatever the modes: run as nobody
        setpriv = shutil.which("setpriv")
        assert setpriv, "setpriv (util-linux) drops root's privileges for this test"
        prefix = [setpriv, "--reuid=65534", "--regid=65534", "--clear-groups"]
        if subprocess.run([*prefix, sys.executable, "-c", "import accountd"], capture_output=True,
                          check=False).returncode != 0:
            pytest.skip(f"user nobody cannot run {sys.executable} with accountd from this checkout")
    return subprocess.run([*prefix, sys.executable, "-m", "accountd", "serve", "--operator", str(operator),
                           "--store", store, "--listen", "127.0.0.1:0"], capture_output=True, text=True,
                          timeout=60, check=False)


def one_clear_line(done: subprocess.CompletedProcess[str], *words: str) -> None:
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in done.stderr, done.stderr
    for word in words:
        assert word in lines[0]


def test_a_damaged_directory_index(operator: Path, tmp_path: Path) -> None:
    (tmp_path / "jwt" / ".accountd").mkdir(parents=True)
    (tmp_path / "jwt" / ".accountd" / "index.db").write_bytes(b"garbage\n" * 100)
    one_clear_line(serve(operator, str(tmp_path / "jwt")), "not a database", "move")


def test_a_damaged_sqlite_database(operator: Path, tmp_path: Path) -> None:
    (tmp_path / "a.db").write_bytes(b"garbage\n" * 100)
    one_clear_line(serve(operator, f"sqlite:{tmp_path / 'a.db'}"), "not a database")


def test_a_directory_of_garbage_files(operator: Path, tmp_path: Path) -> None:
    (tmp_path / "junk").mkdir()
    for n in range(3):
        (tmp_path / "junk" / f"photo{n}.png").write_bytes(os.urandom(64))
    one_clear_line(serve(operator, str(tmp_path / "junk")), "none of them is a <PUB>.jwt")


@pytest.mark.parametrize("kind", ["dir", "sqlite"])
def test_a_store_without_permission(operator: Path, public_dir: Path, kind: str) -> None:
    locked = public_dir / "locked"
    locked.mkdir()
    (locked / "data").mkdir()
    locked.chmod(0o755)
    (locked / "data").chmod(0)
    store = str(locked / "data") if kind == "dir" else f"sqlite:{locked / 'data' / 'a.db'}"
    done = serve(operator, store, as_nobody=True)
    one_clear_line(done, "ermission denied", "locked")
    assert "operator" not in done.stderr
