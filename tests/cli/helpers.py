"""Helpers for the CLI tests: run commands in-process against a temporary home, run `accountd serve`."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from click.testing import CliRunner, Result

from accountd.cli import main
from accountd.natsserver import free_port


class Cli:
    """``cli("add", "account", "--name", "A")`` runs ``accountd … --home <home>`` and checks the exit code."""

    def __init__(self, home: Path) -> None:
        self.home = home

    def __call__(self, *args: str, code: int = 0, home: bool = True, env: dict[str, str] | None = None) -> Result:
        argv = [*args, *(["--home", str(self.home)] if home else [])]
        result = CliRunner().invoke(main, argv, env=env, catch_exceptions=False)
        detail = f"{argv} -> {result.exit_code}\nstdout: {result.stdout}\nstderr: {result.stderr}"
        assert result.exit_code == code, detail
        return result

    def json(self, *args: str, code: int = 0) -> Any:
        result = self(*args, "--json", code=code)
        return json.loads(result.stdout)

    @property
    def opdir(self) -> Path:
        return self.home / "stores" / "OP"


def make_world(cli: Cli, url: str = "http://127.0.0.1:9/jwt/v1") -> Cli:
    """Operator OP (+ SYS, sys), account A with user u."""
    cli("add", "operator", "--name", "OP", "--sys", "--account-server-url", url)
    cli("add", "account", "--name", "A")
    cli("add", "user", "--name", "u", "--account", "A")
    return cli


def snapshot(root: Path) -> dict[str, bytes]:
    """Every file below ``root`` with its content (the lock file aside)."""
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
            and p.name != ".lock"}


class ServeProcess:
    """``accountd serve`` as a subprocess, ready when /healthz answers 200."""

    def __init__(self, workdir: Path, operator_jwt: Path, *extra: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/jwt/v1"
        self.log = workdir / "serve.log"
        workdir.mkdir(parents=True, exist_ok=True)
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "accountd", "serve", "--listen", f"127.0.0.1:{self.port}",
                 "--store", str(workdir / "store"), "--operator", str(operator_jwt), *extra],
                stdout=out, stderr=subprocess.STDOUT,
            )
        self._wait()

    def _wait(self) -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, self.log.read_text()
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/healthz", timeout=1) as r:
                    if r.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.05)
        raise TimeoutError(f"accountd serve not healthy:\n{self.log.read_text()}")

    def get(self, pub: str) -> tuple[int, str]:
        try:
            with urllib.request.urlopen(f"{self.url}/accounts/{pub}", timeout=5) as r:
                return r.status, r.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode()

    def post(self, pub: str, token: str) -> int:
        req = urllib.request.Request(f"{self.url}/accounts/{pub}", data=token.encode(), method="POST")
        try:
            with urllib.request.urlopen(req, timeout=5) as r:
                return r.status
        except urllib.error.HTTPError as exc:
            return exc.code

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(15)
