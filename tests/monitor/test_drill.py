"""Drill-down against real nats-servers (2.15 alone and the 2-node cluster): an account's live connections
from CONNZ, and a server's stats, routes, gateways, leafnodes, JetStream and health."""

from __future__ import annotations

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from nats.aio.msg import Msg

from accountd.monitor import Monitor
from accountd.monitor.drill import server_detail
from accountd.natsclient import flushed
from accountd.natsserver import NatsServer
from harness import VectorSet

from .support import names, open_client, vector_keys
from .test_cluster import cluster  # noqa: F401 - the 2-node cluster fixture

Client = TestClient[web.Request, web.Application]


async def test_the_connz_drill_down_lists_a_connected_client_by_its_name(
    client: Client, op_server: NatsServer, basic: VectorSet
) -> None:
    _, a_pub = vector_keys(basic)
    nc = await open_client(op_server.url, basic.file("U.creds"), "drill-me")
    try:
        await nc.publish("x", b"1")
        resp = await client.get(f"/-/monitor/accounts/{a_pub}/connections")
        assert resp.status == 200
        doc = await resp.json()
    finally:
        await nc.close()
    assert (doc["account"], doc["name"], doc["servers"]) == (a_pub, "A", 1)
    (conn,) = [c for c in doc["connections"] if c["name"] == "drill-me"]
    assert conn["server"] == "n1" and conn["address"].startswith("127.0.0.1:")
    assert conn["user"] == basic.summary["user"]["public_key"] and conn["user_name"] == "U"
    assert conn["lang"] == "python3" and conn["version"]
    assert conn["uptime"] and conn["pending_bytes"] == 0 and conn["in_msgs"] >= 1
    assert "jwt" not in conn  # the user's JWT is read for its name, never shown
    assert (await client.get("/-/monitor/accounts/nope/connections")).status == 400


async def test_a_server_page_and_its_json(client: Client, monitor: Monitor) -> None:
    (row,) = monitor.state.servers_view()
    doc = await (await client.get(f"/-/monitor/servers/{row['id']}")).json()
    assert doc["id"] == row["id"] and doc["status"] == "up" and doc["row"]["name"] == "n1"
    assert doc["statsz"]["connections"] >= 1
    assert doc["routes"] == [] and doc["leafnodes"] == [] and doc["gateways"] == {"outbound": {}, "inbound": {}}
    assert doc["health"]["status"] == "ok"
    assert doc["jetstream"] is None  # JetStream is off on this server
    assert set(doc["answered"]) >= {"statsz", "routez", "gatewayz", "leafz", "healthz"}
    page = await client.get(f"/-/servers/{row['id']}/")
    assert page.status == 200 and page.content_type == "text/html"
    html = await page.text()
    assert f'data-server="{row["id"]}"' in html and 'href="../../../-/status"' in html
    unknown = "N" + "A" * 55
    assert (await client.get(f"/-/monitor/servers/{unknown}")).status == 404
    assert (await client.get(f"/-/servers/{unknown}/")).status == 404
    with pytest.raises(ValueError):
        await server_detail(monitor._collect, "N1.>", monitor.state.malformed)


async def test_a_cluster_server_shows_its_route(cluster: list[NatsServer], basic: VectorSet) -> None:  # noqa: F811
    nc = await open_client(cluster[0].url, basic.file("sys.creds"), "drill-cluster")
    monitor = Monitor(nc, account_name=names(basic).get, ping_interval=None)
    try:
        await monitor.refresh()
        ids = {r["name"]: r["id"] for r in monitor.state.servers_view()}
        doc = await monitor.server_detail(ids["c2"])
    finally:
        await nc.close()
    assert doc["row"]["name"] == "c2" and doc["server"]["cluster"] == "c"
    assert {r["remote_id"] for r in doc["routes"]} == {ids["c1"]}  # a pool of routes (2.10+), all to c1


async def test_malformed_replies_to_the_new_requests_are_counted_and_skipped(
    client: Client, monitor: Monitor, op_server: NatsServer, basic: VectorSet
) -> None:
    _, a_pub = vector_keys(basic)
    rogue = await open_client(op_server.url, basic.file("sys.creds"), "rogue-responder")

    async def garbage(msg: Msg) -> None:
        await msg.respond(b"not json" if msg.subject.endswith("JSZ") else b'{"server": {"id": "NX"}, "data": []}')

    try:
        for subject in ("$SYS.REQ.SERVER.PING.JSZ", f"$SYS.REQ.ACCOUNT.{a_pub}.CONNZ"):
            await rogue.subscribe(subject, cb=garbage)
        await flushed(rogue)
        await monitor.refresh()
        doc = await (await client.get(f"/-/monitor/accounts/{a_pub}/connections")).json()
    finally:
        await rogue.close()
    assert monitor.state.malformed["jsz"] == 1 and monitor.state.malformed["connz"] == 1
    assert doc["servers"] == 1  # the real server's answer is still there
    assert monitor.state.servers_view()[0]["status"] == "up"
