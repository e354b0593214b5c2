"""``accountd top --once`` against a real nats-server, with a pseudo-terminal as its stdout."""

from __future__ import annotations

import os
import pty
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from accountd.monitor import MonitorState
from accountd.natsserver import NatsServer
from harness import operator_mode_config
from world import World

ACCOUNTD = str(Path(sys.executable).parent / "accountd")


@pytest.fixture(scope="module")
def fleet(nats_server_binary: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[NatsServer, Path]]:
    tmp = tmp_path_factory.mktemp("top")
    world = World()
    files = world.write(tmp / "files")
    config = operator_mode_config(files["operator"], world.sys.pub, "MEMORY", {world.sys.pub: world.sys.jwt})
    server = NatsServer(workdir=tmp / "n1", config=config, name="top-n1", binary=nats_server_binary)
    server.start()
    yield server, files["sys_creds"]
    server.stop()


def run_in_pty(*args: str) -> tuple[int, str]:
    """Run accountd with a pseudo-terminal as stdout; its exit code and everything it wrote there."""
    master, slave = pty.openpty()
    proc = subprocess.Popen([ACCOUNTD, *args], stdout=slave, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
    os.close(slave)
    out = b""
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:  # EIO: every copy of the slave side is closed, the process is done
            break
        if not chunk:
            break
        out += chunk
    os.close(master)
    assert proc.stderr is not None
    err = proc.stderr.read().decode()
    code = proc.wait(timeout=30)
    return code, out.decode(errors="replace") + err


def test_top_once_renders_a_frame_with_the_server_row(fleet: tuple[NatsServer, Path]) -> None:
    server, creds = fleet
    code, out = run_in_pty("top", "--once", "--nats", server.url, "--creds", str(creds))
    assert code == 0, out
    lines = out.replace("\r\n", "\n").splitlines()
    assert "\x1b[1mSERVERS\x1b[0m" in lines and "\x1b[1mBUSIEST ACCOUNTS\x1b[0m" in lines
    assert "\x1b[1mRECENT AUTH ERRORS\x1b[0m" in lines
    header = lines.index("\x1b[1mSERVERS\x1b[0m") + 1
    assert lines[header].split()[:3] == ["NAME", "CLUSTER", "VERSION"]
    row = lines[header + 2].split()
    assert row[0] == "top-n1" and row[2].startswith("2.")


def test_top_without_a_server_fails_cleanly(fleet: tuple[NatsServer, Path]) -> None:
    _, creds = fleet
    code, out = run_in_pty("top", "--once", "--nats", "nats://127.0.0.1:1", "--creds", str(creds))
    assert code == 1 and "cannot connect to NATS at nats://127.0.0.1:1" in out


def test_a_frame_without_servers_says_so() -> None:
    from accountd.cli.top import render_frame

    frame = render_frame(MonitorState(), ansi=False)
    assert "(no server answered yet)" in frame and "(no connections)" in frame and "(none)" in frame
