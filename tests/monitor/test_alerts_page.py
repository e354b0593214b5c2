"""The status page lists the firing alerts (headless Chromium, after its script fetched them)."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from aiohttp import web

from accountd.monitor import Monitor, add_monitor_routes
from accountd.monitor.alerts import Alerts, AlertSettings, add_alert_routes
from accountd.natsserver import NatsServer, free_port
from harness import VectorSet

from .browser import chromium, need_chromium
from .support import open_client

REPO = Path(__file__).resolve().parents[2]


async def test_the_status_page_lists_a_firing_alert(
    monitor: Monitor, op_server: NatsServer, signing: VectorSet, tmp_path: Path
) -> None:
    binary = need_chromium()
    alerts = Alerts(monitor, AlertSettings(auth_errors_per_minute=1))
    await alerts.start()
    app = web.Application()
    add_monitor_routes(app, monitor)
    add_alert_routes(app, alerts)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        before = len(monitor.state.auth_errors)
        with pytest.raises(Exception, match="Authorization Violation"):
            await open_client(op_server.url, signing.file("U.creds"), "alert-page-intruder")
        await monitor.wait_until(lambda s: len(s.auth_errors) > before)
        assert ("auth_errors", "server:n1") in {(a.rule, a.subject) for a in alerts.evaluate()}
        url = f"http://127.0.0.1:{port}/-/status"
        shot = tmp_path / "status-alerts.png"
        await chromium(binary, tmp_path / "profile-shot", url, f"--screenshot={shot}")
        (REPO / "test-output").mkdir(exist_ok=True)
        shutil.copyfile(shot, REPO / "test-output" / "status-alerts.png")
        dom = await chromium(binary, tmp_path / "profile-dom", url, "--dump-dom")
    finally:
        await alerts.stop()
        await runner.cleanup()
    assert re.search(r'<section class="card" id="alerts-card">', dom), "the alerts card is still hidden"
    assert re.search(r'<tr data-rule="auth_errors"><td>auth_errors</td><td>server:n1</td>', dom)
