"""The status page with its history charts and limit flags, an account's drill-down and a server page, in
headless Chromium against ``accountd serve --nats`` and a nats-server resolving through it (screenshots
saved to test-output/)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from nats.aio.client import Client

from accountd.monitor import Monitor
from accountd.natsserver import free_port
from harness import NatsFactory, operator_mode_config
from serving import Running, StartServer
from world import Account, World

from .browser import devtools, need_chromium
from .support import open_client
from .test_accounts_pages import keep, wait_for


@dataclass
class Setup:
    api: Running
    capped: Account
    clients: list[Client]
    monitor: Monitor


@pytest.fixture
async def setup(
    tmp_path: Path, nats_factory: NatsFactory, start_server: StartServer, world: World
) -> AsyncIterator[Setup]:
    """accountd (no admin auth: loopback), a nats-server resolving through it, account capped (conn=3)
    holding 3 connections."""
    files = world.write(tmp_path / "files")
    nats_port = free_port()
    api = await start_server(nats=[f"nats://127.0.0.1:{nats_port}"], creds=str(files["sys_creds"]))
    capped = world.account("capped", conn=3)
    for acct in (world.sys, capped):
        assert (await api.post(acct.pub, acct.jwt)).status == 200
    config = operator_mode_config(files["operator"], world.sys.pub, f"URL({api.url}/jwt/v1/accounts/)")
    await asyncio.to_thread(nats_factory, config, port=nats_port)
    assert api.server.bus is not None and await api.server.bus.wait_connected(15)
    creds = tmp_path / "capped.creds"
    world.user_creds(capped, "clerk", creds)
    clients = [await open_client(f"nats://127.0.0.1:{nats_port}", creds, f"capped-app-{i}") for i in range(3)]
    monitor: Monitor = api.server.extras["monitor"]
    await monitor.wait_until(lambda s: s.account_view(capped.pub)["connections"] == 3, timeout=15)
    await monitor.wait_until(lambda s: any(r.stats is not None for r in s.servers.values()), timeout=15)
    yield Setup(api, capped, clients, monitor)
    for nc in clients:
        await nc.close()


async def test_serve_reports_a_full_account_in_metrics_and_limits(setup: Setup) -> None:
    api, pub = setup.api, setup.capped.pub
    async with api.http.get(api.url + "/metrics") as r:
        text = await r.text()
    assert f'nats_account_limit_usage_ratio{{account="{pub}",limit="conn",name="capped"}} 1.0' in text
    async with api.http.get(api.url + "/-/monitor/limits", params={"account": pub}) as r:
        doc = await r.json()
    assert [(u["limit"], u["used"], u["maximum"], u["ratio"]) for u in doc["limits"]] == [("conn", 3.0, 3.0, 1.0)]


async def test_the_status_page_draws_charts_and_flags_the_full_account(setup: Setup, tmp_path: Path) -> None:
    binary = need_chromium()
    api, pub = setup.api, setup.capped.pub
    async with devtools(binary, tmp_path / "profile") as page:
        await page.goto(api.url + "/-/status")
        await wait_for(page, "document.body.dataset.polls >= 1")
        charts = await page.evaluate("[...document.querySelectorAll('#charts figure.chart')].map(f => f.id)")
        assert {"chart-connections", "chart-cpu", "chart-mem", "chart-in_msgs", "chart-accounts"} <= set(charts)
        assert await page.evaluate("Number(document.querySelector('#chart-connections').dataset.points)") >= 1
        assert await page.evaluate("document.querySelectorAll('#charts svg path').length") >= 1
        flag = f"document.querySelector('#accounts tr[data-account=\"{pub}\"] .pill.full')"
        assert await page.evaluate(f"{flag}.textContent") == "conn 100%"
        near = await page.evaluate("document.querySelector('#near-limits tbody tr').dataset.account")
        assert near == pub
        shot = tmp_path / "status-page-charts.png"
        await page.screenshot(shot, full=True)

        href = await page.evaluate("document.querySelector('#servers tbody a').getAttribute('href')")
        assert href.startswith("../-/servers/N")  # relative to /-/status
        await page.goto(api.url + "/" + href.removeprefix("../"))
        await wait_for(page, "document.body.dataset.polls >= 1")
        assert await page.evaluate("document.querySelector('#server-name').textContent") == "n1"
        assert "ok" in await page.evaluate("document.querySelector('#jetstream').textContent")
        assert await page.evaluate("document.querySelectorAll('#charts figure.chart').length") == 6
        server_shot = tmp_path / "server-page.png"
        await page.screenshot(server_shot, full=True)
    keep(shot)
    keep(server_shot)


async def test_an_account_page_lists_its_live_connections(setup: Setup, tmp_path: Path) -> None:
    binary = need_chromium()
    api, pub = setup.api, setup.capped.pub
    async with devtools(binary, tmp_path / "profile") as page:
        await page.goto(f"{api.url}/-/accounts/{pub}/")
        await wait_for(page, "document.querySelectorAll('#connections tr.connection').length === 3")
        rows = "[...document.querySelectorAll('#connections tr.connection')]"
        names = await page.evaluate(f"{rows}.map(r => r.dataset.name)")
        assert sorted(names) == ["capped-app-0", "capped-app-1", "capped-app-2"]
        row = await page.evaluate("document.querySelector('#connections tr.connection').textContent")
        assert "clerk" in row and "python3" in row and "127.0.0.1" in row
        await wait_for(page, "document.querySelector('#meter-connections').dataset.near === '100'")
        await wait_for(page, "document.querySelector('#chart-account-connections') !== null")
        shot = tmp_path / "account-drill-down.png"
        await page.screenshot(shot, full=True)

        await page.goto(f"{api.url}/-/accounts/?q=capped")
        await wait_for(page, f"document.querySelector('tr[data-account=\"{pub}\"] .pill.full') !== null")
        assert await page.evaluate("document.querySelector('.pill.full').textContent") == "conn 100%"
    keep(shot)
