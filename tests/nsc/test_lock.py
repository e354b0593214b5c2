"""accountd.nsc.lock and the home lock: commands at once never corrupt the home."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from accountd.claims import decode_account
from accountd.nsc import Home, HomeLock, LockTimeout
from cli.helpers import Cli


def test_an_exclusive_lock_excludes_another(tmp_path: Path) -> None:
    path = tmp_path / ".lock"
    with HomeLock(path), pytest.raises(LockTimeout, match="another accountd command"):
        HomeLock(path, timeout=0.05).acquire()
    with HomeLock(path, timeout=0.05):
        pass


def test_shared_locks_coexist_but_exclude_a_writer(tmp_path: Path) -> None:
    path = tmp_path / ".lock"
    waited: list[bool] = []
    with HomeLock(path, shared=True), HomeLock(path, shared=True, timeout=0.05), pytest.raises(LockTimeout):
        HomeLock(path, timeout=0.05, on_wait=lambda: waited.append(True)).acquire()
    assert waited == [True]


def test_a_command_waits_for_the_lock_and_says_what_is_wrong(tmp_path: Path) -> None:
    cli = Cli(tmp_path / "home")
    cli("add", "operator", "--name", "OP")
    with Home(cli.home).lock():
        result = cli("add", "account", "--name", "A", code=1, env={"ACCOUNTD_LOCK_TIMEOUT": "0.1"})
    assert "another accountd command" in result.stderr
    assert "waiting for another accountd command" in result.stderr
    assert not (cli.opdir / "accounts" / "A").exists()
    cli("add", "account", "--name", "A")


def test_concurrent_commands_all_land_intact(tmp_path: Path) -> None:
    home = tmp_path / "home"
    Cli(home)("add", "operator", "--name", "OP")
    env = {**os.environ, "ACCOUNTD_HOME": str(home)}
    procs = [
        subprocess.Popen([sys.executable, "-m", "accountd", "add", "account", "--name", f"A{i}"], env=env,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        for i in range(8)
    ]
    for p in procs:
        _, err = p.communicate(timeout=60)
        assert p.returncode == 0, err.decode()
    accounts = home / "stores" / "OP" / "accounts"
    assert sorted(d.name for d in accounts.iterdir()) == [f"A{i}" for i in range(8)]
    for i in range(8):
        assert decode_account((accounts / f"A{i}" / f"A{i}.jwt").read_text()).name == f"A{i}"
    assert not list(home.rglob("*.tmp"))
