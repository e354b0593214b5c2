"""The status page rendered by headless Chromium, after its JavaScript fetched the live numbers."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from aiohttp import web

from accountd.monitor import Monitor, add_monitor_routes
from accountd.natsserver import NatsServer, free_port
from harness import VectorSet

from .browser import chromium, need_chromium
from .support import connections, open_client, vector_keys

REPO = Path(__file__).resolve().parents[2]


async def test_status_page_renders_live_numbers_in_chromium(
    monitor: Monitor, op_server: NatsServer, basic: VectorSet, signing: VectorSet, tmp_path: Path
) -> None:
    binary = need_chromium()
    sys_pub, a_pub = vector_keys(basic)
    clients = [await open_client(op_server.url, basic.file("U.creds"), f"page-a{i}") for i in range(3)]
    clients.append(await open_client(op_server.url, basic.file("sys.creds"), "page-sys"))
    await clients.pop(0).close()
    with pytest.raises(Exception, match="Authorization Violation"):
        await open_client(op_server.url, signing.file("U.creds"), "page-intruder")
    await monitor.wait_until(lambda s: connections(s, a_pub) == 2 and connections(s, sys_pub) == 2
                             and len(s.auth_errors) == 1 and s.totals()["disconnects"] == 1)  # fmt: skip
    await monitor.refresh()  # a second stats sample, so message rates show

    app = web.Application()
    add_monitor_routes(app, monitor)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    url = f"http://127.0.0.1:{port}/-/status"
    try:
        shot = tmp_path / "status-page.png"
        await chromium(binary, tmp_path / "profile-shot", url, f"--screenshot={shot}")
        assert shot.is_file() and shot.stat().st_size > 10_000
        out = REPO / "test-output"
        out.mkdir(exist_ok=True)
        shutil.copyfile(shot, out / "status-page.png")

        dom = await chromium(binary, tmp_path / "profile-dom", url, "--dump-dom")
    finally:
        for client in clients:
            await client.close()
        await runner.cleanup()

    # The script ran and replaced the server-rendered tables with what it fetched.
    polls = re.search(r'<body[^>]*data-polls="(\d+)"', dom)
    assert polls is not None and int(polls.group(1)) >= 1, dom[:500]
    assert 'data-state="live"' in dom
    assert re.search(rf'<tr data-account="{a_pub}">.*?data-field="connections">2<', dom, re.S)
    assert re.search(rf'<tr data-account="{sys_pub}">.*?data-field="connections">2<', dom, re.S)
    assert re.search(r'<tr data-server="N\w+">.*?class="pill up"', dom, re.S)
    assert "page-intruder" in dom and "Authentication Failure" in dom
    assert "page-a0" in dom and "Client Closed" in dom
    assert re.search(r'id="tile-auth" data-health="bad">.*?class="value">1<', dom, re.S)
    assert '<a href="../-/accounts/">Accounts</a>' in dom  # the navigation to the accounts pages
