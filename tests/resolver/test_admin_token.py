"""Clients of accountd's account listing (an admin route) send the token of --admin-token-file."""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from accountd.claims import Trust
from accountd.cli import main
from accountd.cli.remote_http import HttpRemote, RemoteError
from accountd.resolver import FetchFailed, FleetDaemon, HttpFetcher
from serving import Running, StartServer
from world import World

from .helpers import full_resolver, nats_server

TOKEN = "listing-token-9"


@pytest.fixture
def token_file(tmp_path: Path) -> Path:
    path = tmp_path / "tokens"
    path.write_text(f"# for the fleet tools\n{TOKEN}\nsecond-token\n")
    return path


@pytest.fixture
async def guarded(start_server: StartServer, token_file: Path, world: World) -> Running:
    api = await start_server(admin_token_file=str(token_file))
    a = world.account("A", iat=int(time.time()) - 10)
    assert (await api.post(a.pub, a.jwt)).status == 200
    return api


async def test_the_http_fetcher_lists_with_the_token(guarded: Running) -> None:
    fetcher = HttpFetcher(guarded.url, token=TOKEN, retries=0)
    try:
        pages = [page async for page in fetcher.list_accounts()]
    finally:
        await fetcher.close()
    assert [r["name"] for r in pages[0]] == ["A"]
    anonymous = HttpFetcher(guarded.url, retries=0)
    try:
        with pytest.raises(FetchFailed, match="401"):
            _ = [page async for page in anonymous.list_accounts()]
    finally:
        await anonymous.close()


async def test_push_prune_lists_over_http_with_the_token(guarded: Running) -> None:
    base = guarded.url + "/jwt/v1"
    listed = await asyncio.to_thread(lambda: list(HttpRemote(base, token=TOKEN).list_accounts()))
    assert [a["name"] for a in listed] == ["A"]
    with pytest.raises(RemoteError, match="refused: HTTP 401") as caught:
        await asyncio.to_thread(lambda: list(HttpRemote(base).list_accounts()))
    assert "--admin-token-file" in caught.value.hint


@pytest.fixture
def n1(world: World, tmp_path: Path) -> Iterator[str]:
    files = world.write(tmp_path / "n1-files")
    server = nats_server(tmp_path / "n1", files, world.sys, full_resolver(tmp_path / "n1" / "jwt")).start()
    yield server.url
    server.stop()


async def test_fleet_sends_the_token_from_the_environment(guarded: Running, n1: str, token_file: Path,
                                                          tmp_path: Path, world: World) -> None:
    creds = world.write(tmp_path / "files")["sys_creds"]
    args = ["fleet", "--json", "--url", guarded.url, "--nats", n1, "--creds", str(creds), "--quiet", "100ms"]

    def fleet(**env: str) -> tuple[int, str]:
        result = CliRunner().invoke(main, args, env={**os.environ, **env})
        return result.exit_code, result.stdout

    code, out = await asyncio.to_thread(fleet, ACCOUNTD_ADMIN_TOKEN_FILE=str(token_file))
    assert code == 0, out
    assert [a["name"] for a in json.loads(out)["accounts"]] == ["A"]
    code, out = await asyncio.to_thread(fleet, ACCOUNTD_ADMIN_TOKEN_FILE="")
    assert code == 1
    assert json.loads(out)["error"]["code"] == "accountd_unavailable"
    code, out = await asyncio.to_thread(fleet, ACCOUNTD_ADMIN_TOKEN_FILE=str(tmp_path / "missing"))
    assert code == 1
    assert json.loads(out)["error"]["code"] == "bad_token_file"


async def test_the_resolver_daemon_walks_accountd_with_the_token(guarded: Running, n1: str, tmp_path: Path,
                                                                 world: World) -> None:
    creds = world.write(tmp_path / "files")["sys_creds"]
    daemon = FleetDaemon(Trust.from_jwts(world.operator_jwt), url=guarded.url, nats=[n1], creds=str(creds),
                         token=TOKEN, quiet=0.1)  # fmt: skip
    await daemon.resolver.start()
    try:
        assert await daemon.resolver.wait_live(15)
        report, _ = await daemon.run_once()
    finally:
        await daemon.close()
    assert report.compared == 1 and report.accountd_source == "http"  # accountd listed A to it
