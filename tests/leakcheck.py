"""The seed-leak check: no nkey seed in any log line, HTTP response, error output or stray file.

Loaded by tests/conftest.py for the whole suite. While the tests run it watches

* every log record of the ``accountd`` loggers (message and traceback, at every level),
* every HTTP response body read through aiohttp's client (accountd's own clients included),
* the error output (stderr) of every in-process CLI run — stdout may show a seed on purpose
  (``generate nkey``), as nsc does;

and when they are done it walks the session's temporary directory: a seed may only be in a
``.nk``, ``.creds`` or ``.seed`` file, and such a file written by accountd (in an nsc home's
``keys/`` or by ``generate creds``) must be mode 0600 in directories of mode 0700. Anything found
fails the session with the places listed.
"""

from __future__ import annotations

import logging
import re
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from click.testing import CliRunner

SEED = re.compile(rb"S[OAUNCXP][A-Z2-7]{56}")
SEED_FILES = (".nk", ".creds", ".seed")
SKIP_DIRS = {"site-packages", ".venv", "node_modules"}


def seeds_in(data: bytes | str) -> list[str]:
    raw = data.encode(errors="replace") if isinstance(data, str) else data
    return [m.group().decode()[:8] + "…" for m in SEED.finditer(raw)]


class Leaks:
    def __init__(self) -> None:
        self.found: list[str] = []

    def check(self, where: str, data: bytes | str | None) -> None:
        if data:
            for seed in seeds_in(data):
                self.found.append(f"{where}: a seed ({seed})")


LEAKS = Leaks()


class _Handler(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        try:
            LEAKS.check(f"log {record.name}:{record.lineno}", self.format(record))
        except Exception:  # a record that cannot be formatted is someone else's test failure
            pass


def _watch_http() -> None:
    original = aiohttp.ClientResponse.read

    async def read(self: aiohttp.ClientResponse) -> bytes:
        body = await original(self)
        LEAKS.check(f"HTTP {self.method} {self.url.path} -> {self.status}", body)
        return body

    aiohttp.ClientResponse.read = read  # type: ignore[method-assign]


def _watch_cli() -> None:
    original = CliRunner.invoke

    def invoke(self: CliRunner, cli: Any, args: Any = None, *a: Any, **kw: Any) -> Any:
        result = original(self, cli, args, *a, **kw)
        words = list(args or [])
        try:
            LEAKS.check(f"stderr of accountd {' '.join(map(str, words[:3]))}", result.stderr)
        except ValueError:  # stderr not captured separately
            pass
        return result

    CliRunner.invoke = invoke  # type: ignore[method-assign]


def _files(root: Path) -> Iterator[Path]:
    for path in root.rglob("*"):
        if any(part in SKIP_DIRS for part in path.parts):
            continue
        if path.is_file() and not path.is_symlink():
            yield path


def keystore_of(path: Path) -> Path | None:
    """The nsc keystore (``…/keys`` holding ``keys/`` and ``creds/``) that ``path`` is in, if any."""
    parts = path.parts
    for i in range(len(parts) - 2, -1, -1):
        if parts[i] == "keys" and parts[i + 1] in ("keys", "creds"):
            return Path(*parts[: i + 1])
    return None


def check_tree(root: Path) -> list[str]:
    """The stray seeds and the loose modes below ``root``."""
    problems: list[str] = []
    for path in _files(root):
        try:
            data = path.read_bytes()
        except OSError:
            continue
        if not SEED.search(data):
            continue
        if path.suffix not in SEED_FILES:
            problems.append(f"{path}: a seed in a file that is not a seed or creds file")
            continue
        keystore = keystore_of(path)
        if keystore is not None:
            mode = stat.S_IMODE(path.stat().st_mode)
            if mode & 0o077:
                problems.append(f"{path}: mode {mode:04o}, not 0600")
            for d in path.parents:
                dmode = stat.S_IMODE(d.stat().st_mode)
                if dmode & 0o077:
                    problems.append(f"{d}: mode {dmode:04o}, not 0700")
                if d == keystore:
                    break
    return sorted(set(problems))


def pytest_configure(config: pytest.Config) -> None:
    logger = logging.getLogger("accountd")
    logger.addHandler(_Handler())
    if logger.level == logging.NOTSET or logger.level > logging.DEBUG:
        logger.setLevel(logging.DEBUG)
    _watch_http()
    _watch_cli()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    factory = getattr(session.config, "_tmp_path_factory", None)
    problems = list(LEAKS.found)
    if factory is not None:
        try:
            problems += check_tree(factory.getbasetemp())
        except OSError:
            pass
    if problems:
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        lines = ["seed-leak check failed:", *(f"  {p}" for p in problems[:50])]
        if reporter is not None:
            reporter.write_line("\n".join(lines), red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
