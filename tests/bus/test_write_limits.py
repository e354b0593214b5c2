"""Write limits on ``$SYS.REQ.CLAIMS.UPDATE``/``DELETE``: one flooding connection gets 429 error
replies and changes nothing, while another connection is still served."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import nats
import pytest
from nats.aio.client import Client
from nats.aio.msg import Msg

from accountd.bus.responder import NO_REPLY, client_of
from accountd.natsclient import flushed
from accountd.natsserver import NatsServer
from harness import NatsFactory, operator_mode_config
from serving import Running, StartServer
from world import World


@pytest.fixture
async def setup(tmp_path: Path, nats_factory: NatsFactory, start_server: StartServer,
                world: World) -> AsyncIterator[tuple[Running, NatsServer, str]]:
    files = world.write(tmp_path / "world")
    server = nats_factory(operator_mode_config(files["operator"], world.sys.pub, "MEMORY",
                                               {world.sys.pub: world.sys.jwt}))
    # Two writes at once, then one every 1000 s: nothing refills while the test runs.
    api = await start_server(nats=[server.url], creds=str(files["sys_creds"]), write_rate=0.001, write_burst=2)
    assert api.server.bus is not None and await api.server.bus.wait_connected(10)
    yield api, server, str(files["sys_creds"])


async def _client(server: NatsServer, creds: str) -> Client:
    nc = await nats.connect(server.url, user_credentials=creds)
    await flushed(nc)
    return nc


async def _ask(nc: Client, subject: str, payload: bytes) -> dict[str, Any]:
    """``nc.request`` (the connection's ``_INBOX.<nuid>.*`` mux), on a subject only accountd answers."""
    return json.loads((await nc.request(subject, payload, timeout=5)).data)  # type: ignore[no-any-return]


async def _ask_accountd(nc: Client, subject: str, payload: bytes) -> dict[str, Any]:
    """A fresh ``new_inbox()``; the nats-server answers some of these subjects too: keep accountd's reply."""
    inbox = nc.new_inbox()
    sub = await nc.subscribe(inbox)
    await nc.publish(subject, payload, reply=inbox)
    try:
        while True:
            doc: dict[str, Any] = json.loads((await sub.next_msg(timeout=5)).data)
            if doc["server"]["name"] == "accountd":
                return doc
    finally:
        await sub.unsubscribe()


async def test_a_flooding_connection_gets_429_and_another_is_still_served(
    setup: tuple[Running, NatsServer, str],
) -> None:
    api, server, creds = setup
    flooder, other = await _client(server, creds), await _client(server, creds)
    try:
        accounts = [api.world.account(f"A{i}") for i in range(5)]
        replies = [await _ask(flooder, "$SYS.REQ.CLAIMS.UPDATE", a.jwt.encode()) for a in accounts[:2]]
        assert [r["data"]["message"] for r in replies] == ["jwt updated"] * 2
        # Fresh inboxes of the same connection share its bucket (one NUID prefix per client).
        refused = [await _ask_accountd(flooder, f"$SYS.REQ.ACCOUNT.{a.pub}.CLAIMS.UPDATE", a.jwt.encode())
                   for a in accounts[2:]]
        for a, doc in zip(accounts[2:], refused, strict=True):
            assert next(iter(doc)) == "server"
            assert doc["error"]["account"] == a.pub and doc["error"]["code"] == 429
            assert doc["error"]["description"].startswith("too many requests; retry in ")
            assert doc["error"]["description"].endswith(" s")
        doc = await _ask_accountd(flooder, "$SYS.REQ.CLAIMS.DELETE", api.world.delete_token(accounts[0].pub).encode())
        assert doc["error"]["code"] == 429

        served = api.world.account("B")
        doc = await _ask(other, "$SYS.REQ.CLAIMS.UPDATE", served.jwt.encode())
        assert doc["data"] == {"account": served.pub, "code": 200, "message": "jwt updated"}
    finally:
        await flooder.close()
        await other.close()

    for a in [*accounts[:2], served]:  # the refused delete deleted nothing
        assert (await api.server.service.get(a.pub)).body.decode() == a.jwt
    assert [await api.server.store.lookup(a.pub) for a in accounts[2:]] == [None] * 3
    assert api.server.responder.counters["rate_limited"] == 4
    async with api.http.get(f"{api.url}/metrics") as r:
        assert 'accountd_sys_requests_total{kind="rate_limited"} 4.0' in await r.text()


async def test_the_bucket_key_is_the_connections_inbox_prefix(setup: tuple[Running, NatsServer, str]) -> None:
    _, server, creds = setup
    one, two = await _client(server, creds), await _client(server, creds)
    try:
        async def echo(msg: Msg) -> None:
            await msg.respond((msg.reply or "").encode())

        await two.subscribe("echo.reply", cb=echo)
        await flushed(two)
        used_by_request = (await one.request("echo.reply", b"", timeout=5)).data.decode()
        assert client_of(one.new_inbox()) == client_of(one.new_inbox()) == client_of(used_by_request)
        assert client_of(one.new_inbox()) != client_of(two.new_inbox())
    finally:
        await one.close()
        await two.close()
    assert client_of("") == NO_REPLY
    assert client_of("reply.to.me") == "reply.to"
