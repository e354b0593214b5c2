"""``/-/monitor/*``, ``/metrics`` and the status page over HTTP, fed by a real nats-server."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from prometheus_client import Counter
from prometheus_client.parser import text_string_to_metric_families

from accountd.monitor import METRICS, Monitor, add_monitor_routes, attach
from accountd.natsserver import NatsServer
from harness import VectorSet

from .support import connections, open_client, vector_keys


@pytest.fixture
async def activity(
    monitor: Monitor, op_server: NatsServer, basic: VectorSet, signing: VectorSet
) -> AsyncIterator[None]:
    """One A client connected and one gone, one SYS client gone, one failed login."""
    sys_pub, a_pub = vector_keys(basic)
    stays = await open_client(op_server.url, basic.file("U.creds"), "web-stays")
    leaves = await open_client(op_server.url, basic.file("U.creds"), "web-leaves")
    sys_client = await open_client(op_server.url, basic.file("sys.creds"), "web-sys")
    await leaves.close()
    await sys_client.close()
    with pytest.raises(Exception, match="Authorization Violation"):
        await open_client(op_server.url, signing.file("U.creds"), "web-intruder")
    await monitor.wait_until(
        lambda s: connections(s, a_pub) == 1 and connections(s, sys_pub) == 1 and len(s.auth_errors) == 1
        and s.totals()["disconnects"] == 2
    )  # fmt: skip
    yield
    await stays.close()


async def test_servers_endpoint_lists_the_server(client: TestClient[web.Request, web.Application]) -> None:
    resp = await client.get("/-/monitor/servers")
    assert resp.status == 200
    doc = await resp.json()
    assert [s["name"] for s in doc["servers"]] == ["n1"]
    assert doc["totals"]["servers_up"] == 1


async def test_accounts_endpoint_shows_names_and_counts(
    client: TestClient[web.Request, web.Application], activity: None, basic: VectorSet
) -> None:
    doc = await (await client.get("/-/monitor/accounts")).json()
    by_name = {a["name"]: a for a in doc["accounts"]}
    assert by_name["A"]["connections"] == 1 and by_name["A"]["servers"] == {"n1": 1}
    assert (by_name["A"]["connects"], by_name["A"]["disconnects"]) == (2, 1)
    assert by_name["SYS"]["connections"] == 1
    assert doc["totals"]["connections"] == 2


async def test_events_endpoint_filters(
    client: TestClient[web.Request, web.Application], activity: None, basic: VectorSet
) -> None:
    doc = await (await client.get("/-/monitor/events", params={"account": "A", "kind": "disconnect"})).json()
    assert [e["client"]["name"] for e in doc["events"]] == ["web-leaves"]
    doc = await (await client.get("/-/monitor/events", params={"limit": "1"})).json()
    assert len(doc["events"]) == 1
    resp = await client.get("/-/monitor/events", params={"limit": "many"})
    assert resp.status == 400


async def test_auth_errors_endpoint(client: TestClient[web.Request, web.Application], activity: None) -> None:
    doc = await (await client.get("/-/monitor/auth-errors")).json()
    assert doc["total"] == 1
    (row,) = doc["auth_errors"]
    assert (row["server"], row["client"]["name"], row["client"]["host"]) == ("n1", "web-intruder", "127.0.0.1")


async def test_metrics_parse_and_hold_every_series(
    client: TestClient[web.Request, web.Application], monitor: Monitor, activity: None, basic: VectorSet
) -> None:
    sys_pub, a_pub = vector_keys(basic)
    server_id = monitor.state.servers_view()[0]["id"]
    resp = await client.get("/metrics")
    assert resp.status == 200
    assert resp.headers["Content-Type"].startswith("text/plain")
    families = {f.name: f for f in text_string_to_metric_families(await resp.text())}
    assert set(METRICS) <= set(families)

    def value(sample_name: str, **labels: str) -> float:
        for family in families.values():
            for sample in family.samples:
                if sample.name == sample_name and all(sample.labels.get(k) == v for k, v in labels.items()):
                    return sample.value
        raise AssertionError(f"no sample {sample_name} {labels}")

    server = {"server": "n1", "server_id": server_id}
    assert value("nats_server_up", **server) == 1
    assert value("nats_server_info", **server) == 1
    assert value("nats_server_connections", **server) >= 1
    assert value("nats_server_memory_bytes", **server) > 0
    assert value("nats_server_received_messages_total", **server) >= 0
    assert value("nats_account_connections", account=a_pub, name="A") == 1
    assert value("nats_account_connections", account=sys_pub, name="SYS") == 1
    assert value("nats_account_connects_total", account=a_pub) == 2
    assert value("nats_account_disconnects_total", account=a_pub, reason="Client Closed") == 1
    assert value("nats_auth_errors_total", server="n1") == 1
    assert value("accountd_monitor_servers", status="up") == 1
    assert value("accountd_monitor_events_total", kind="connect") >= 3


async def test_callers_add_their_own_metrics_to_the_registry(
    client: TestClient[web.Request, web.Application], monitor: Monitor
) -> None:
    requests = Counter("accountd_http_requests", "HTTP requests answered.", ["route"], registry=monitor.registry)
    requests.labels(route="/jwt/v1/accounts/").inc(3)
    text = await (await client.get("/metrics")).text()
    assert 'accountd_http_requests_total{route="/jwt/v1/accounts/"} 3.0' in text


async def test_status_page_is_server_rendered(
    client: TestClient[web.Request, web.Application], activity: None, basic: VectorSet
) -> None:
    _, a_pub = vector_keys(basic)
    for path, base in (("/-/status", "../"), ("/", "./")):
        resp = await client.get(path)
        assert resp.status == 200
        assert resp.content_type == "text/html"
        html = await resp.text()
        assert f'data-base="{base}"' in html
        assert f'<tr data-account="{a_pub}">' in html
        assert "web-intruder" in html and "web-leaves" in html
        assert "{{" not in html


async def test_routes_can_leave_root_and_metrics_to_the_caller(monitor: Monitor) -> None:
    app = web.Application()
    add_monitor_routes(app, monitor, root=False, metrics=False)
    async with TestClient(TestServer(app)) as c:
        assert (await c.get("/")).status == 404
        assert (await c.get("/metrics")).status == 404
        assert (await c.get("/-/status")).status == 200


async def test_attach_starts_the_monitor_when_the_bus_connects(op_server: NatsServer, basic: VectorSet) -> None:
    from accountd.bus import Bus

    app = web.Application()
    bus = Bus([op_server.url], str(basic.file("sys.creds")), name="attach-test")
    extras: dict[str, object] = {}
    monitor = attach(app, bus, {"X": "x"}.get, extras)
    assert extras["monitor"] is monitor
    async with TestClient(TestServer(app)) as c:
        assert (await (await c.get("/-/monitor/servers")).json())["servers"] == []  # not connected yet
        assert not monitor.running
        bus.start()
        assert await bus.wait_connected(10)
        await monitor.wait_until(lambda s: bool(s.servers))
        assert [s["name"] for s in (await (await c.get("/-/monitor/servers")).json())["servers"]] == ["n1"]
    assert not monitor.running  # app cleanup stopped it
    await bus.close()
