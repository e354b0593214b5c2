"""accountd dev (make run): from a fresh home to a working demo connection, and a clean stop."""

from __future__ import annotations

import asyncio
import json
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import nats
import pytest

from accountd.natsserver import free_port


class Dev:
    def __init__(self, cwd: Path, *args: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "accountd", "dev", "--json", *args], cwd=cwd,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            env={k: v for k, v in os.environ.items() if not k.startswith("ACCOUNTD_")},
        )
        self.lines: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line)
        self.lines.put(None)

    def ready(self, timeout: float = 60) -> dict[str, Any]:
        """The JSON document dev prints once both servers are up."""
        text = ""
        while True:
            line = self.lines.get(timeout=timeout)
            if line is None:
                raise AssertionError(f"dev exited early: {self.proc.wait()}\n{self.proc.stderr.read()}")  # type: ignore[union-attr]
            text += line
            try:
                doc = dict(json.loads(text))
            except ValueError:
                continue
            assert "nats_url" in doc, f"dev failed: {doc}\nexit code {self.proc.wait(30)}\n{self.proc.stderr.read()}"  # type: ignore[union-attr]
            return doc

    def stop(self) -> tuple[int, str]:
        self.proc.send_signal(signal.SIGINT)
        rc = self.proc.wait(60)
        assert self.proc.stderr is not None
        return rc, self.proc.stderr.read()


def gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


async def roundtrip(url: str, creds: str) -> bytes:
    nc = await nats.connect(url, user_credentials=creds)
    try:
        sub = await nc.subscribe("demo.hello")
        await nc.publish("demo.hello", b"hi")
        return (await sub.next_msg(timeout=5)).data
    finally:
        await nc.close()


@pytest.mark.timeout(150)
def test_dev_from_a_fresh_home_serves_the_demo_user_and_stops_cleanly(tmp_path: Path) -> None:
    ports = ["--http-port", str(free_port()), "--nats-port", str(free_port())]
    dev = Dev(tmp_path, "--home", str(tmp_path / "home"), "--data", str(tmp_path / "data"), *ports)
    try:
        info = dev.ready()
        assert info["created"] == ["operator accountd", "account SYS", "user sys", "account DEMO", "user demo"]
        assert info["account_server_url"] == f"{info['http_url']}/jwt/v1"
        assert Path(info["demo_creds"]).is_file()
        assert asyncio.run(roundtrip(info["nats_url"], info["demo_creds"])) == b"hi"
        assert "--conn 1" in info["try"]["push_limit"] and "push --account DEMO" in info["try"]["push_limit"]
    finally:
        rc, err = dev.stop()
    assert rc == 0, err
    assert gone(info["pids"]["nats_server"]) and gone(info["pids"]["accountd"])
    assert "stopped" in err

    again = Dev(tmp_path, "--home", str(tmp_path / "home"), "--data", str(tmp_path / "data"), *ports)
    try:
        info = again.ready()
        assert info["created"] == []
        assert asyncio.run(roundtrip(info["nats_url"], info["demo_creds"])) == b"hi"
    finally:
        rc, err = again.stop()
    assert rc == 0, err


@pytest.mark.timeout(150)
def test_dev_defaults_to_keys_and_data_in_the_working_directory_and_dodges_busy_ports(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        taken = busy.getsockname()[1]
        dev = Dev(tmp_path, "--http-port", str(taken), "--nats-port", str(free_port()))
        try:
            info = dev.ready()
        finally:
            rc, err = dev.stop()
    assert rc == 0, err
    assert f"port {taken} is busy" in err
    assert info["home"] == str(tmp_path / "keys") and info["data"] == str(tmp_path / "data")
    assert str(taken) not in info["http_url"]
    assert (tmp_path / "keys" / "stores" / "accountd" / "accountd.jwt").is_file()
