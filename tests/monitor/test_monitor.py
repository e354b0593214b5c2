"""The monitor against a real nats-server in operator mode (MEMORY resolver, accounts SYS and A)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import nats
import pytest

import accountd.monitor
from accountd.monitor import Monitor
from accountd.natsclient import flushed
from accountd.natsserver import NatsServer
from harness import VectorSet

from .support import connections, open_client, vector_keys


def find(rows: list[dict[str, Any]], **match: Any) -> dict[str, Any] | None:
    for row in rows:
        if all(row.get(k) == v or (isinstance(row.get("client"), dict) and row["client"].get(k) == v)
               for k, v in match.items()):  # fmt: skip
            return row
    return None


def test_public_api_is_pinned() -> None:
    assert sorted(accountd.monitor.__all__) == sorted([
        "EVENT_SUBJECTS", "METRICS", "Event", "MalformedEvent", "Monitor", "MonitorCollector", "MonitorState",
        "add_account_pages", "add_monitor_routes", "attach", "collect_replies", "decode", "decode_statsz",
        "ping_servers",
    ])  # fmt: skip


async def test_discovery_finds_the_server(monitor: Monitor, op_server: NatsServer) -> None:
    (server,) = monitor.state.servers_view()
    assert server["name"] == "n1"
    assert server["status"] == "up"
    assert server["version"]
    assert server["connections"] >= 1


async def test_clients_of_two_accounts_move_their_own_counts(
    monitor: Monitor, op_server: NatsServer, basic: VectorSet
) -> None:
    sys_pub, a_pub = vector_keys(basic)
    state = monitor.state
    # The monitor's own connection is a system-account client.
    await monitor.wait_until(lambda s: connections(s, sys_pub) == 1 and connections(s, a_pub) == 0)

    a1 = await open_client(op_server.url, basic.file("U.creds"), "a-one")
    a2 = await open_client(op_server.url, basic.file("U.creds"), "a-two")
    s1 = await open_client(op_server.url, basic.file("sys.creds"), "sys-extra")
    await monitor.wait_until(lambda s: connections(s, a_pub) == 2 and connections(s, sys_pub) == 2)

    await a1.close()
    await monitor.wait_until(lambda s: connections(s, a_pub) == 1)
    assert connections(state, sys_pub) == 2

    await s1.close()
    await monitor.wait_until(lambda s: connections(s, sys_pub) == 1)
    assert connections(state, a_pub) == 1
    await a2.close()
    await monitor.wait_until(lambda s: connections(s, a_pub) == 0)

    user = basic.summary["user"]["public_key"]
    await monitor.wait_until(lambda s: find(s.events_view(), kind="disconnect", name="a-two") is not None)
    connect = find(state.events_view(), kind="connect", name="a-one")
    assert connect is not None
    assert (connect["account"], connect["account_name"], connect["user"], connect["server"]) == (a_pub, "A", user, "n1")
    assert connect["user_name"] == "U"
    gone = find(state.events_view(), kind="disconnect", name="a-one")
    assert gone is not None
    assert (gone["account"], gone["user"], gone["reason"]) == (a_pub, user, "Client Closed")
    extra = find(state.events_view(), kind="connect", name="sys-extra")
    assert extra is not None and extra["account_name"] == "SYS"

    a_row = next(a for a in state.accounts_view() if a["account"] == a_pub)
    assert (a_row["connects"], a_row["disconnects"]) == (2, 2)


async def test_bad_creds_produce_an_auth_error_naming_server_and_client(
    monitor: Monitor, op_server: NatsServer, basic: VectorSet, signing: VectorSet, tmp_path: Path
) -> None:
    # A user JWT from another operator: the server cannot resolve its account.
    with pytest.raises(Exception, match="Authorization Violation"):
        await open_client(op_server.url, signing.file("U.creds"), "intruder")
    # The right JWT with somebody else's seed: the nonce signature does not verify.
    stolen = tmp_path / "stolen.creds"
    stolen.write_text(basic.file("U.creds").read_text().replace(basic.seed("U"), signing.seed("U")))
    with pytest.raises(Exception, match="Authorization Violation"):
        await open_client(op_server.url, stolen, "thief")

    await monitor.wait_until(lambda s: find(s.auth_errors_view(), name="thief") is not None)
    state = monitor.state
    intruder = find(state.auth_errors_view(), name="intruder")
    assert intruder is not None
    assert intruder["server"] == "n1" and intruder["server_id"] == state.servers_view()[0]["id"]
    assert intruder["client"]["host"] == "127.0.0.1"
    assert intruder["reason"] == "Authentication Failure"
    assert intruder["user"] == signing.summary["user"]["public_key"]  # claimed, not verified
    assert intruder["account"] == signing.summary["account"]["public_key"]
    thief = find(state.auth_errors_view(), name="thief")
    assert thief is not None
    assert (thief["user"], thief["account_name"]) == (basic.summary["user"]["public_key"], "A")
    assert state.totals()["auth_errors"] == 2
    # Auth failures are not connects or disconnects of any account.
    assert find(state.events_view(), name="intruder") is None


async def test_malformed_payloads_are_counted_and_skipped(
    monitor: Monitor, op_server: NatsServer, basic: VectorSet
) -> None:
    _, a_pub = vector_keys(basic)
    rogue = await open_client(op_server.url, basic.file("sys.creds"), "rogue")
    try:
        await rogue.publish(f"$SYS.ACCOUNT.{a_pub}.CONNECT", b"not json")
        await rogue.publish(f"$SYS.ACCOUNT.{a_pub}.DISCONNECT", b'{"server": {"id": 7}}')
        await rogue.publish("$SYS.SERVER.ACCOUNT.X.CONNS", b"[]")
        await rogue.publish("$SYS.SERVER.NFAKE.STATSZ", b'{"server": {"id": "NFAKE"}, "statsz": "high"}')
        await rogue.publish("$SYS.SERVER.NFAKE.CLIENT.AUTH.ERR", b"\xff\xfe\x00")
        await flushed(rogue)
        await monitor.wait_until(lambda s: sum(s.malformed.values()) == 5)
    finally:
        await rogue.close()
    assert dict(monitor.state.malformed) == {"connect": 1, "disconnect": 1, "conns": 1, "stats": 1, "auth": 1}
    # Still working: a real client shows up afterwards.
    client = await open_client(op_server.url, basic.file("U.creds"), "after-garbage")
    await client.close()
    await monitor.wait_until(lambda s: find(s.events_view(), kind="disconnect", name="after-garbage") is not None)
    assert [s["id"] for s in monitor.state.servers_view()] != ["NFAKE"]


async def test_a_late_monitor_learns_existing_connections_from_account_statz(
    op_server: NatsServer, basic: VectorSet
) -> None:
    _, a_pub = vector_keys(basic)
    early = await open_client(op_server.url, basic.file("U.creds"), "early-bird")
    nc = await open_client(op_server.url, basic.file("sys.creds"), "late-monitor")
    mon = Monitor(nc, ping_interval=None)
    try:
        await mon.start()
        await mon.wait_until(lambda s: connections(s, a_pub) == 1)
    finally:
        await mon.stop()
        await early.close()
        await nc.close()


async def test_listeners_see_every_event_and_can_be_removed(
    monitor: Monitor, op_server: NatsServer, basic: VectorSet
) -> None:
    seen: list[str] = []
    remove = monitor.add_listener(lambda event: seen.append(event.kind))
    client = await open_client(op_server.url, basic.file("U.creds"), "listened")
    await monitor.wait_until(lambda s: find(s.events_view(), kind="connect", name="listened") is not None)
    remove()
    await client.close()
    assert "connect" in seen and "conns" in seen


async def test_stop_leaves_the_connection_open(op_server: NatsServer, basic: VectorSet) -> None:
    nc = await open_client(op_server.url, basic.file("sys.creds"), "owner")
    mon = Monitor(nc)
    await mon.start()
    await mon.stop()
    assert nc.is_connected
    await nc.close()


async def test_start_without_a_connection_is_an_error() -> None:
    with pytest.raises(RuntimeError, match="needs a NATS connection"):
        await Monitor().start()


async def test_a_non_system_user_sees_no_servers(op_server: NatsServer, basic: VectorSet) -> None:
    nc = await nats.connect(op_server.url, user_credentials=str(basic.file("U.creds")))
    try:
        replies, bad = await accountd.monitor.ping_servers(nc, quiet=0.1, timeout=0.5)
    finally:
        await nc.close()
    assert (replies, bad) == ([], 0)
