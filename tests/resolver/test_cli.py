"""``accountd resolver`` as a real process (state, metrics, SIGTERM) and the commands' error paths."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import aiohttp
import pytest
import pytest_asyncio
from click.testing import CliRunner

from accountd.cli import main
from accountd.natsserver import free_port
from accountd.server import Server
from world import World

from .helpers import accountd_url, close_accountd, eventually, full_resolver, nats_server, start_accountd


@pytest.fixture(scope="module")
def world() -> World:
    return World()


@pytest.fixture(scope="module")
def files(world: World, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return world.write(tmp_path_factory.mktemp("cli") / "files")


@pytest.fixture(scope="module")
def n1(world: World, files: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    root = tmp_path_factory.mktemp("n1")
    server = nats_server(root, files, world.sys, full_resolver(root / "jwt")).start()
    yield server.url
    server.stop()


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def accountd(files: dict[str, Path], n1: str) -> AsyncIterator[Server]:
    server = await start_accountd(files, nats_url=n1)
    yield server
    await close_accountd(server)


@pytest.mark.asyncio(loop_scope="module")
async def test_the_daemon_serves_state_and_metrics_and_stops_on_sigterm(
    world: World, files: dict[str, Path], n1: str, accountd: Server
) -> None:
    a = world.account("A", iat=int(time.time()) - 10)
    await accountd.service.put(a.jwt)
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "accountd", "resolver", "--operator", str(files["operator"]),
         "--url", accountd_url(accountd), "--nats", n1, "--creds", str(files["sys_creds"]),
         "--interval", "500ms", "--listen", f"127.0.0.1:{port}"],
        stderr=subprocess.PIPE, env={**os.environ, "ACCOUNTD_OPERATOR": ""},
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        async with aiohttp.ClientSession() as http:

            async def state() -> dict[str, object] | None:
                assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
                try:
                    async with http.get(base + "/state") as r:
                        doc: dict[str, object] = await r.json()
                        return doc
                except aiohttp.ClientError:
                    return None

            async def two_rounds() -> bool:
                doc = await state()
                return doc is not None and doc["rounds"].get("ok", 0) >= 2  # type: ignore[attr-defined]

            await eventually(two_rounds, timeout=30, interval=0.1, what="two rounds of the daemon")
            doc = await state()
            assert doc is not None
            fleet = doc["fleet"]
            assert isinstance(fleet, dict)
            assert [s["name"] for s in fleet["servers"]] == ["n1"]
            row = next(r for r in fleet["accounts"] if r["account"] == a.pub)
            assert row["servers"]["n1"]["status"] == "current"  # accountd published it; n1 stored it
            assert doc["repairs"]["unrepaired"] == []  # type: ignore[index]
            async with http.get(base + "/metrics") as r:
                text = await r.text()
            for name in ("accountd_fleet_rounds_total", "accountd_fleet_cells{status=\"current\"}",
                         "accountd_resolver_cache_misses_total", "accountd_resolver_nats_connected 1.0"):
                assert name in text
            async with http.get(base + "/healthz") as r:
                assert r.status == 200
    finally:
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(15)
    assert code == 0
    assert proc.stderr is not None
    assert "repairing every 0.5s" in proc.stderr.read().decode()


def _run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_resolver_needs_an_operator_and_a_positive_interval(files: dict[str, Path]) -> None:
    code, _, err = _run("resolver", "--nats", "nats://127.0.0.1:1")
    assert code == 2 and "--operator" in err
    code, _, err = _run("resolver", "--operator", str(files["operator"]), "--nats", "x", "--interval", "0s")
    assert code == 2 and "positive" in err
    code, _, err = _run("resolver", "--operator", str(files["operator"]), "--nats", "x", "--interval", "soon")
    assert code == 2 and "duration" in err


def test_resolver_refuses_a_signing_key_the_operator_does_not_list(files: dict[str, Path], tmp_path: Path) -> None:
    stranger = World().signing_key.seed.reveal()
    (tmp_path / "sk.nk").write_text(stranger)
    code, _, err = _run("resolver", "--operator", str(files["operator"]), "--nats", "x",
                        "--signing-key", str(tmp_path / "sk.nk"))  # fmt: skip
    assert code == 2 and "not a signing key" in err


def test_fleet_without_nats_fails_with_one_json_document() -> None:
    code, out, err = _run("fleet", "--json", "--nats", f"nats://127.0.0.1:{free_port()}")
    assert code == 1
    doc = json.loads(out)
    assert doc["ok"] is False and doc["error"]["code"] == "nats_unavailable"
    assert "cannot connect to NATS" in err
