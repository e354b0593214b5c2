"""accountd in front of a real nats-server: the URL resolver, live updates, durability."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import nats
import pytest
from nats.aio.client import Client

from accountd.natsserver import NatsServer, free_port
from harness import NatsFactory, operator_mode_config
from serving import Running, StartServer
from world import Account, World

LIMIT_ERROR = "maximum account active connections exceeded"


async def _connect(server_url: str, creds: Path) -> Client:
    errors: list[Exception] = []

    async def on_error(exc: Exception) -> None:
        errors.append(exc)

    try:
        return await nats.connect(server_url, user_credentials=str(creds), allow_reconnect=False,
                                  max_reconnect_attempts=0, connect_timeout=2, error_cb=on_error)
    except Exception as exc:
        raise ConnectionError("; ".join(str(e) for e in [*errors, exc])) from exc


async def _roundtrip(nc: Client, subject: str = "e2e.ping") -> None:
    sub = await nc.subscribe(subject)
    await nc.publish(subject, b"hello")
    msg = await sub.next_msg(timeout=5)
    assert msg.data == b"hello"
    await sub.unsubscribe()


async def _wait_until_refused(server_url: str, creds: Path, attempts: int = 200) -> str:
    """Open connections until the server refuses one (the update applied) — bounded."""
    for _ in range(attempts):
        try:
            nc = await _connect(server_url, creds)
        except ConnectionError as exc:
            return str(exc)
        await nc.close()
        await asyncio.sleep(0.05)
    raise AssertionError("nats-server never applied the new limit")


@pytest.fixture
async def url_resolver_setup(
    tmp_path: Path, nats_factory: NatsFactory, start_server: StartServer, world: World
) -> AsyncIterator[tuple[Running, NatsServer, Account]]:
    files = world.write(tmp_path / "files")
    nats_port = free_port()
    api = await start_server(nats=[f"nats://127.0.0.1:{nats_port}"], creds=str(files["sys_creds"]))
    account = world.account("A")
    for acct in (world.sys, account):
        assert (await api.post(acct.pub, acct.jwt)).status == 200
    resolver = f"URL({api.url}/jwt/v1/accounts/)"
    # In a thread: the server's startup probe must reach accountd, which runs on this event loop.
    config = operator_mode_config(files["operator"], world.sys.pub, resolver)
    server = await asyncio.to_thread(nats_factory, config, port=nats_port)
    assert api.server.bus is not None and await api.server.bus.wait_connected(15)
    yield api, server, account


async def test_url_resolver_applies_limit_change_live(
    url_resolver_setup: tuple[Running, NatsServer, Account], tmp_path: Path
) -> None:
    api, server, account = url_resolver_setup
    creds = tmp_path / "a.creds"
    api.world.user_creds(account, "u1", creds)
    first = await _connect(server.url, creds)
    await _roundtrip(first)

    changed = api.world.reissue(account, conn=1)
    assert (await api.post(account.pub, changed.jwt)).status == 200

    error = await _wait_until_refused(server.url, creds)
    assert LIMIT_ERROR in error
    await _roundtrip(first)  # the first connection keeps working
    await first.close()


async def test_missing_account_is_refused_by_url_resolver(
    url_resolver_setup: tuple[Running, NatsServer, Account], tmp_path: Path
) -> None:
    api, server, _ = url_resolver_setup
    unknown = api.world.account("NOT-STORED")
    creds = tmp_path / "x.creds"
    api.world.user_creds(unknown, "x", creds)
    with pytest.raises(ConnectionError, match="Authorization Violation"):
        await _connect(server.url, creds)


async def test_updates_made_while_nats_is_down_are_published_on_reconnect(
    tmp_path: Path, nats_factory: NatsFactory, start_server: StartServer, world: World
) -> None:
    """The full resolver saves every update it receives: its directory shows what was delivered."""
    files = world.write(tmp_path / "files")
    nats_port = free_port()
    api = await start_server(nats=[f"nats://127.0.0.1:{nats_port}"], creds=str(files["sys_creds"]))
    accounts = [world.account(f"A{i}") for i in range(3)]
    latest = {a.pub: world.reissue(a, iat=a.claims.iat + 1, conn=i + 2) for i, a in enumerate(accounts)}
    for a in accounts:
        assert (await api.post(a.pub, a.jwt)).status == 200
        assert (await api.post(a.pub, latest[a.pub].jwt)).status == 200
    assert api.server.notifier.depth == 3 or (await api.server.store.pending())

    jwt_dir = tmp_path / "jwt"
    config = operator_mode_config(files["operator"], world.sys.pub,
                                  f'{{ type: full, dir: "{jwt_dir}" }}', {world.sys.pub: world.sys.jwt})
    await asyncio.to_thread(nats_factory, config, port=nats_port)
    assert api.server.bus is not None and await api.server.bus.wait_connected(15)
    assert await api.server.notifier.flush(timeout=10)
    for pub, acct in latest.items():
        path = jwt_dir / f"{pub}.jwt"
        for _ in range(200):  # the server saves on its own queue after receiving
            if path.exists() and path.read_text().strip() == acct.jwt:
                break
            await asyncio.sleep(0.02)
        assert path.read_text().strip() == acct.jwt


async def test_sigkill_during_write_storm_keeps_every_acknowledged_jwt(tmp_path: Path, world: World) -> None:
    files = world.write(tmp_path / "files")
    store = tmp_path / "store"
    port = free_port()
    cmd = [sys.executable, "-m", "accountd", "serve", "--listen", f"127.0.0.1:{port}", "--store", str(store),
           "--operator", str(files["operator"]), "--log-level", "warning"]
    proc = subprocess.Popen(cmd, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    accounts = [world.account(f"S{i}") for i in range(300)]
    acknowledged: list[Account] = []
    try:
        async with aiohttp.ClientSession() as http:
            await _wait_healthy(http, url, proc)

            async def write(a: Account) -> None:
                try:
                    async with http.post(f"{url}/jwt/v1/accounts/{a.pub}", data=a.jwt) as r:
                        if r.status == 200:
                            acknowledged.append(a)
                except aiohttp.ClientError:
                    pass

            tasks = [asyncio.create_task(write(a)) for a in accounts]
            while len(acknowledged) < 100:
                await asyncio.sleep(0.005)
            os.kill(proc.pid, signal.SIGKILL)
            await asyncio.gather(*tasks)
    finally:
        proc.kill()
        proc.wait()
    assert len(acknowledged) >= 100

    proc = subprocess.Popen(cmd, stderr=subprocess.PIPE)
    try:
        async with aiohttp.ClientSession() as http:
            await _wait_healthy(http, url, proc)
            for a in acknowledged:
                async with http.get(f"{url}/jwt/v1/accounts/{a.pub}") as r:
                    assert r.status == 200, a.pub
                    assert await r.text() == a.jwt
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(15) == 0


async def _wait_healthy(http: aiohttp.ClientSession, url: str, proc: subprocess.Popen[bytes]) -> None:
    for _ in range(300):
        if proc.poll() is not None:
            raise AssertionError(f"accountd exited: {proc.stderr.read().decode() if proc.stderr else ''}")
        try:
            async with http.get(url + "/healthz") as r:
                if r.status == 200:
                    return
        except aiohttp.ClientError:
            pass
        await asyncio.sleep(0.05)
    raise AssertionError("accountd did not become healthy")


async def test_sigterm_exits_zero_and_logs_the_resolver_line(tmp_path: Path, world: World) -> None:
    files = world.write(tmp_path / "files")
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "accountd", "serve", "--listen", f"127.0.0.1:{port}",
                             "--store", "memory:", "--operator", str(files["operator"])], stderr=subprocess.PIPE)
    async with aiohttp.ClientSession() as http:
        await _wait_healthy(http, f"http://127.0.0.1:{port}", proc)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(15) == 0
    assert proc.stderr is not None
    log = proc.stderr.read().decode()
    assert f"resolver: URL(http://127.0.0.1:{port}/jwt/v1/accounts/)" in log


def test_serve_without_operator_is_a_usage_error(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "accountd", "serve", "--store", "memory:"],
                          capture_output=True, text=True, timeout=30, env={**os.environ, "ACCOUNTD_OPERATOR": ""})
    assert proc.returncode == 2
    assert "no operator JWT configured" in proc.stderr
