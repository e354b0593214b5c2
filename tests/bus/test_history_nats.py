"""Claim updates and deletes over ``$SYS.REQ`` (a real nats-server in operator mode) leave versions
whose source names NATS, the subject, the client's inbox and its connection name, and one audit
record each."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import nats
import pytest
from nats.aio.client import Client

from accountd.bus.responder import client_of
from accountd.claims import Role, create, encode, new_account
from accountd.natsclient import flushed
from harness import NatsFactory, operator_mode_config
from serving import Running, StartServer
from world import World

Connect = Callable[..., Awaitable[tuple[Running, Client]]]


@pytest.fixture
async def connect(tmp_path: Path, nats_factory: NatsFactory, start_server: StartServer,
                  world: World) -> AsyncIterator[Connect]:
    clients: list[Client] = []

    async def start(**settings: Any) -> tuple[Running, Client]:
        files = world.write(tmp_path / "nsfiles")
        server = nats_factory(operator_mode_config(files["operator"], world.sys.pub, "MEMORY",
                                                   {world.sys.pub: world.sys.jwt}))
        api = await start_server(nats=[server.url], creds=str(files["sys_creds"]),
                                 audit_log=str(tmp_path / "audit.jsonl"), **settings)
        assert api.server.bus is not None and await api.server.bus.wait_connected(10)
        nc = await nats.connect(server.url, user_credentials=str(files["sys_creds"]), name="ops-cli")
        await flushed(nc)
        clients.append(nc)
        return api, nc

    yield start
    for nc in clients:
        await nc.close()


async def _ask_accountd(nc: Client, subject: str, data: bytes) -> tuple[str, dict[str, Any]]:
    """Request with a fresh inbox on a subject nats-server may answer too; accountd's reply."""
    inbox = nc.new_inbox()
    sub = await nc.subscribe(inbox)
    await nc.publish(subject, data, reply=inbox)
    try:
        while True:
            doc: dict[str, Any] = json.loads((await sub.next_msg(timeout=5)).data)
            if doc["server"]["name"] == "accountd":
                return inbox, doc
    finally:
        await sub.unsubscribe()


async def _json(api: Running, path: str) -> Any:
    async with api.http.get(api.url + path) as r:
        assert r.status == 200, await r.text()
        return await r.json()


async def test_updates_and_a_delete_over_nats_leave_nats_versions(connect: Connect) -> None:
    api, nc = await connect()
    w = api.world
    a = w.account("A")
    b = w.reissue(a, conn=4)
    inbox1, doc = await _ask_accountd(nc, "$SYS.REQ.CLAIMS.UPDATE", a.jwt.encode())
    assert doc["data"]["message"] == "jwt updated"
    subject = f"$SYS.REQ.ACCOUNT.{a.pub}.CLAIMS.UPDATE"
    inbox2, doc = await _ask_accountd(nc, subject, b.jwt.encode())
    assert doc["data"]["message"] == "jwt updated"
    inbox3, doc = await _ask_accountd(nc, "$SYS.REQ.CLAIMS.DELETE", w.delete_token(a.pub).encode())
    assert doc["data"]["message"] == "deleted 1 accounts"
    assert client_of(inbox1) == client_of(inbox2) == client_of(inbox3)  # one connection, one client
    versions = (await _json(api, f"/-/accounts/{a.pub}/history"))["versions"]
    # The connection's name comes from nats-server (CONNZ filtered by the reply subject).
    assert [v["source"] for v in versions] == [
        {"via": "nats", "subject": "$SYS.REQ.CLAIMS.DELETE", "client": client_of(inbox3), "name": "ops-cli"},
        {"via": "nats", "subject": subject, "client": client_of(inbox2), "name": "ops-cli"},
        {"via": "nats", "subject": "$SYS.REQ.CLAIMS.UPDATE", "client": client_of(inbox1), "name": "ops-cli"},
    ]
    assert api.server.responder.clients.lookups == 1  # asked once, then known
    assert [v["deleted"] for v in versions] == [True, False, False]
    assert [v["jwt"] for v in versions[1:]] == [b.jwt, a.jwt]
    records = (await _json(api, f"/-/audit?account={a.pub}"))["records"]
    assert [(r["op"], r["ok"], r["via"], r["subject"]) for r in records] == [
        ("delete", True, "nats", "$SYS.REQ.CLAIMS.DELETE"),
        ("put", True, "nats", subject),
        ("put", True, "nats", "$SYS.REQ.CLAIMS.UPDATE"),
    ]
    assert [r["revision"] for r in records] == [v["revision"] for v in versions]


async def test_refused_updates_over_nats_are_audited_and_change_nothing(connect: Connect) -> None:
    api, nc = await connect(write_rate=0.001, write_burst=3)
    w = api.world
    a = w.account("A")
    _, doc = await _ask_accountd(nc, "$SYS.REQ.CLAIMS.UPDATE", a.jwt.encode())
    assert doc["data"]["code"] == 200
    before = (await _json(api, f"/-/accounts/{a.pub}/history"))["versions"]
    foreign = World().account("X", key=a.key)
    _, doc = await _ask_accountd(nc, f"$SYS.REQ.ACCOUNT.{a.pub}.CLAIMS.UPDATE", foreign.jwt.encode())
    assert doc["error"]["code"] == 400
    _, doc = await _ask_accountd(nc, f"$SYS.REQ.ACCOUNT.{a.pub}.CLAIMS.UPDATE", b"")
    assert doc["error"]["code"] == 400
    _, doc = await _ask_accountd(nc, f"$SYS.REQ.ACCOUNT.{a.pub}.CLAIMS.UPDATE", w.reissue(a, conn=1).jwt.encode())
    assert doc["error"]["code"] == 429  # the burst of 3 is spent
    assert (await _json(api, f"/-/accounts/{a.pub}/history"))["versions"] == before
    records = (await _json(api, f"/-/audit?account={a.pub}"))["records"]
    assert [(r["status"], r["code"]) for r in records] == [
        (429, "rate_limited"), (400, "empty_body"), (400, "untrusted_issuer"), (200, None)]
    assert all(r["via"] == "nats" and r["client"].startswith("_INBOX.") for r in records)


async def test_a_managed_update_over_nats_is_a_managed_version_by_way_of_nats(connect: Connect,
                                                                               world: World,
                                                                               tmp_path: Path) -> None:
    files = world.write(tmp_path / "managed")
    api, nc = await connect(signing_key=str(files["signing_key"]), allow_new_accounts=True)
    key = create(Role.ACCOUNT)
    token = encode(new_account(key.public_key, "self"), key)
    inbox, doc = await _ask_accountd(nc, "$SYS.REQ.CLAIMS.UPDATE", token.encode())
    assert doc["data"]["code"] == 200
    [version] = (await _json(api, f"/-/accounts/{key.public_key}/history"))["versions"]
    assert version["source"] == {"via": "managed", "path": "nats", "subject": "$SYS.REQ.CLAIMS.UPDATE",
                                 "client": client_of(inbox), "name": "ops-cli"}
    assert version["issuer"] == world.signing_key.public_key
    [record] = (await _json(api, f"/-/audit?account={key.public_key}"))["records"]
    assert (record["via"], record["path"], record["ok"]) == ("managed", "nats", True)
