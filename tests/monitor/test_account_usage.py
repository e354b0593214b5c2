"""``GET /-/monitor/accounts/<pub>``: one account's live usage, connects, disconnects and the failed
logins that claim it, from a real nats-server."""

from __future__ import annotations

from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from accountd.claims import Role, create, encode, format_creds, new_user
from accountd.monitor import Monitor
from accountd.natsserver import NatsServer
from harness import VectorSet

from .support import connections, open_client, vector_keys

Client = TestClient[web.Request, web.Application]


def forged_creds(account: str, path: Path) -> Path:
    """A user that claims ``account`` but is signed by a key the account does not list: refused."""
    user, stranger = create(Role.USER), create(Role.ACCOUNT)
    path.write_text(format_creds(encode(new_user(user.public_key, "forger", issuer_account=account), stranger),
                                 user.seed))  # fmt: skip
    return path


async def test_one_account_shows_its_connections_events_and_auth_errors(
    client: Client, monitor: Monitor, op_server: NatsServer, basic: VectorSet, tmp_path: Path
) -> None:
    sys_pub, a_pub = vector_keys(basic)
    stays = [await open_client(op_server.url, basic.file("U.creds"), f"usage-stays{i}") for i in range(2)]
    leaves = await open_client(op_server.url, basic.file("U.creds"), "usage-leaves")
    await leaves.close()
    with pytest.raises(Exception, match="Authorization Violation"):
        await open_client(op_server.url, forged_creds(a_pub, tmp_path / "forged.creds"), "usage-forger")
    try:
        # SYS's count (the monitor's own connection) comes from its own CONNS/STATZ: wait for it too.
        await monitor.wait_until(lambda s: connections(s, a_pub) == 2 and len(s.auth_errors) == 1
                                 and s.totals()["disconnects"] >= 1 and connections(s, sys_pub) == 1)  # fmt: skip
        resp = await client.get(f"/-/monitor/accounts/{a_pub}")
        assert resp.status == 200
        doc = await resp.json()
    finally:
        for nc in stays:
            await nc.close()
    assert doc["account"] == a_pub and doc["name"] == "A"
    assert doc["connections"] == 2 and doc["leafnodes"] == 0
    assert doc["servers"] == {"n1": 2}
    assert doc["connects"] == 3 and doc["disconnects"] == 1
    assert doc["disconnect_reasons"] == {"Client Closed": 1}
    kinds = [(e["kind"], e["client"]["name"]) for e in doc["events"]]
    assert kinds[0] == ("disconnect", "usage-leaves")  # newest first
    assert {n for _, n in kinds} == {"usage-stays0", "usage-stays1", "usage-leaves"}
    assert [e["client"]["name"] for e in doc["auth_errors"]] == ["usage-forger"]
    assert doc["auth_errors"][0]["account"] == a_pub  # what the refused credentials claimed

    other = await (await client.get(f"/-/monitor/accounts/{sys_pub}")).json()
    assert other["name"] == "SYS" and other["connections"] == 1  # the monitor's own connection
    assert not any(e["client"]["name"].startswith("usage-") for e in other["events"])
    assert other["auth_errors"] == []


async def test_an_account_never_seen_has_zeros(client: Client) -> None:
    unseen = create(Role.ACCOUNT).public_key
    doc = await (await client.get(f"/-/monitor/accounts/{unseen}?limit=5")).json()
    assert doc == {"account": unseen, "name": "", "connections": 0, "leafnodes": 0, "subscriptions": None,
                   "servers": {}, "connects": 0, "disconnects": 0, "disconnect_reasons": {}, "last_event": None,
                   "events": [], "auth_errors": []}  # fmt: skip


@pytest.mark.parametrize("key", ["not-a-key", "UAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"])
async def test_what_is_not_an_account_key_is_a_400(client: Client, key: str) -> None:
    resp = await client.get(f"/-/monitor/accounts/{key}")
    assert resp.status == 400
