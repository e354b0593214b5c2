"""Alerts on a real nats-server (2.15): a burst of failed logins and an account at its ``conn`` limit
start alerts, which clear again; the webhook receiver (a real aiohttp server) gets each change once."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from nats.aio.msg import Msg
from prometheus_client import generate_latest

from accountd.claims import Role, create, encode, format_creds, new_user
from accountd.claims.models import AccountLimits
from accountd.monitor import Monitor
from accountd.monitor.alerts import Alert, Alerts, AlertSettings, add_alert_routes
from accountd.monitor.webhook import Webhook
from accountd.natsclient import flushed
from accountd.natsserver import NatsServer
from harness import operator_mode_config
from world import Account, World

from .support import open_client
from .webhook_receiver import Receiver, receiver_fixture  # noqa: F401  (the receiver fixture)


@dataclass
class AlertWorld:
    world: World
    server: NatsServer
    capped: Account  # conn=3
    files: dict[str, Path]
    creds: Path

    def limits_of(self, account: str) -> AccountLimits | None:
        return {a.pub: a.claims.nats.limits for a in (self.world.sys, self.capped)}.get(account)


@pytest.fixture(scope="module")
def aworld(nats_server_binary: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[AlertWorld]:
    tmp = tmp_path_factory.mktemp("alerts")
    world = World()
    files = world.write(tmp / "files")
    capped = world.account("capped", conn=3)
    config = operator_mode_config(files["operator"], world.sys.pub, "MEMORY",
                                  {a.pub: a.jwt for a in (world.sys, capped)})  # fmt: skip
    creds = tmp / "capped.creds"
    world.user_creds(capped, "u", creds)
    server = NatsServer(workdir=tmp / "n1", config=config, name="n1", binary=nats_server_binary)
    server.start()
    yield AlertWorld(world, server, capped, files, creds)
    server.stop()


@pytest.fixture
async def monitor(aworld: AlertWorld) -> AsyncIterator[Monitor]:
    nc = await open_client(aworld.server.url, aworld.files["sys_creds"], "alerts-monitor")
    mon = Monitor(
        nc, account_name={aworld.capped.pub: "capped"}.get, account_limits=aworld.limits_of, ping_interval=None
    )
    await mon.start()
    await mon.wait_until(lambda s: bool(s.servers))
    yield mon
    await mon.stop()
    await nc.close()


@pytest.fixture
async def alerting(monitor: Monitor, receiver: Receiver) -> AsyncIterator[tuple[Alerts, Webhook]]:
    hook = Webhook(receiver.url, backoff=0.05)
    settings = AlertSettings(interval=0.5, auth_errors_per_minute=5, auth_window=3.0)
    alerts = Alerts(monitor, settings, on_change=hook.notify)
    await hook.start()
    await alerts.start()
    yield alerts, hook
    await alerts.stop()
    await hook.stop()


def forged_creds(account: str, path: Path) -> Path:
    """A user that claims ``account`` but is signed by a key the account does not list: refused."""
    user, stranger = create(Role.USER), create(Role.ACCOUNT)
    path.write_text(format_creds(encode(new_user(user.public_key, "forger", issuer_account=account), stranger),
                                 user.seed))  # fmt: skip
    return path


async def test_a_burst_of_failed_logins_starts_and_clears_one_auth_error_alert(
    aworld: AlertWorld, monitor: Monitor, alerting: tuple[Alerts, Webhook], receiver: Receiver, tmp_path: Path
) -> None:
    alerts, hook = alerting
    pub = aworld.capped.pub
    forged = forged_creds(pub, tmp_path / "forged.creds")
    for i in range(6):
        with pytest.raises(Exception, match="Authorization Violation"):
            await open_client(aworld.server.url, forged, f"forger-{i}")
    await receiver.wait_for("auth_errors", f"account:{pub}", ["firing"])
    body = next(b for b in receiver.bodies if b["alert"]["subject"] == f"account:{pub}")
    assert set(body) == {"status", "time", "alert"}
    assert set(body["alert"]) == {"rule", "subject", "since", "message", "value"}
    assert body["alert"]["value"] >= 5 and "claiming capped" in body["alert"]["message"]
    assert "server:n1" in {a.subject for a in alerts.view() if a.rule == "auth_errors"}
    # Once the errors are older than the window the alert clears, and the receiver hears that once.
    await receiver.wait_for("auth_errors", f"account:{pub}", ["firing", "resolved"])
    await receiver.wait_for("auth_errors", "server:n1", ["firing", "resolved"])
    assert hook.counters["given_up"] == 0 and hook.counters["dropped"] == 0


async def test_an_account_at_its_conn_limit_starts_the_limit_alert_until_they_close(
    aworld: AlertWorld, monitor: Monitor, alerting: tuple[Alerts, Webhook], receiver: Receiver
) -> None:
    alerts, _ = alerting
    pub = aworld.capped.pub
    clients = [await open_client(aworld.server.url, aworld.creds, f"capped-{i}") for i in range(3)]
    try:
        await receiver.wait_for("limit", pub, ["firing"])
        (alert,) = [a for a in alerts.view() if a.rule == "limit"]
        assert (alert.subject, alert.value) == (pub, 1.0) and alert.message == "capped: conn 3 of 3 (100%)"
        metrics = generate_latest(monitor.registry).decode()
        assert f'accountd_alert{{rule="limit",subject="{pub}"}} 1.0' in metrics
        app = web.Application()
        add_alert_routes(app, alerts)
        async with TestClient(TestServer(app)) as http:
            doc = await (await http.get("/-/monitor/alerts")).json()
        assert [a for a in doc["alerts"] if a["rule"] == "limit"] == [alert.to_dict()]
    finally:
        for nc in clients:
            await nc.close()
    await receiver.wait_for("limit", pub, ["firing", "resolved"])
    assert not [a for a in alerts.view() if a.rule == "limit"]
    assert f'accountd_alert{{rule="limit",subject="{pub}"}}' not in generate_latest(monitor.registry).decode()


async def test_the_webhook_retries_a_refusing_receiver_and_delivers_once(receiver: Receiver) -> None:
    receiver.refuse = 2
    hook = Webhook(receiver.url, backoff=0.01)
    await hook.start()
    try:
        hook.notify("firing", Alert("server_gone", "n9", 0.0, "n9: shut down", 3.0))
        await receiver.wait_for("server_gone", "n9", ["firing"])
    finally:
        await hook.stop()
    assert hook.counters == {"retries": 2, "sent": 1}
    assert receiver.bodies[0]["alert"]["since"] == "1970-01-01T00:00:00Z"


async def test_a_dead_receiver_never_blocks_and_the_queue_stays_bounded() -> None:
    hook = Webhook("http://127.0.0.1:1/hook", queue_size=10, attempts=2, backoff=0.01)
    await hook.start()
    try:
        for i in range(100):
            hook.notify("firing", Alert("health", f"n{i}", 0.0, "down", 0.0))  # returns at once
        assert hook.depth <= 10 and hook.counters["dropped"] >= 90
    finally:
        await hook.stop()


async def test_a_health_reply_that_is_not_ok_raises_the_health_alert(aworld: AlertWorld, monitor: Monitor) -> None:
    alerts = Alerts(monitor)
    rogue = await open_client(aworld.server.url, aworld.files["sys_creds"], "rogue-healthz")
    bad = b'{"server": {"id": "NROGUE", "name": "rogue"}, "data": {"status": "unavailable", "error": "JetStream down"}}'

    async def answer(msg: Msg) -> None:
        await msg.respond(bad)

    await rogue.subscribe("$SYS.REQ.SERVER.PING.HEALTHZ", cb=answer)
    await flushed(rogue)
    try:
        await alerts.check_health()
    finally:
        await rogue.close()
    health = [a for a in alerts.evaluate() if a.rule == "health"]
    assert [(a.subject, a.message) for a in health] == [("rogue", "rogue: health check says unavailable "
                                                                  "(JetStream down)")]  # fmt: skip
    await alerts.check_health()  # n1 alone answers, and it is ok
    assert [a for a in alerts.evaluate() if a.rule == "health"] == []
