"""The ``$SYS.REQ`` claims protocol answered by accountd, with a real nats-server in operator mode."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path

import nats
import pytest
from nats.aio.client import Client

from accountd.claims import Role, create
from accountd.natsclient import flushed
from accountd.types import JWT, AccountKey
from harness import NatsFactory, operator_mode_config
from serving import Running, StartServer
from world import World

pytest_plugins: list[str] = []


@pytest.fixture
async def connected(tmp_path: Path, nats_factory: NatsFactory, start_server: StartServer,
                    world: World) -> AsyncIterator[tuple[Running, Client]]:
    files = world.write(tmp_path / "nsfiles")
    server = nats_factory(operator_mode_config(files["operator"], world.sys.pub, "MEMORY",
                                               {world.sys.pub: world.sys.jwt}))
    api = await start_server(nats=[server.url], creds=str(files["sys_creds"]))
    assert api.server.bus is not None
    assert await api.server.bus.wait_connected(10)
    nc = await nats.connect(server.url, user_credentials=str(files["sys_creds"]))
    await flushed(nc)
    yield api, nc
    await nc.close()


def _nsc_parse(payload: bytes) -> dict:  # type: ignore[type-arg]
    """The checks nsc's processResponse applies to a reply (SPEC §8.2)."""
    doc = json.loads(payload)
    server = doc["server"]
    assert server["name"]
    datetime.fromisoformat(server["time"])
    assert isinstance(server["seq"], int)
    assert isinstance(server["jetstream"], bool)
    assert next(iter(doc)) == "server"
    return doc  # type: ignore[no-any-return]


async def _ask_accountd(nc: Client, subject: str, data: bytes) -> dict:  # type: ignore[type-arg]
    """Request on a subject nats-server answers too; return accountd's reply (server.name)."""
    inbox = nc.new_inbox()
    sub = await nc.subscribe(inbox)
    await nc.publish(subject, data, reply=inbox)
    try:
        while True:
            msg = await sub.next_msg(timeout=5)
            doc = _nsc_parse(msg.data)
            if doc["server"]["name"] == "accountd":
                return doc
    finally:
        await sub.unsubscribe()


async def test_lookup_of_stored_account_replies_with_raw_jwt(connected: tuple[Running, Client]) -> None:
    api, nc = connected
    a = api.world.account("A")
    await api.post(a.pub, a.jwt)
    reply = await nc.request(f"$SYS.REQ.ACCOUNT.{a.pub}.CLAIMS.LOOKUP", b"", timeout=5)
    assert reply.data.decode() == a.jwt


async def test_lookup_of_unknown_account_replies_empty(connected: tuple[Running, Client]) -> None:
    _, nc = connected
    reply = await nc.request(f"$SYS.REQ.ACCOUNT.{create(Role.ACCOUNT).public_key}.CLAIMS.LOOKUP", b"", timeout=5)
    assert reply.data == b""


async def test_claims_update_request_is_validated_and_stored(connected: tuple[Running, Client]) -> None:
    api, nc = connected
    a = api.world.account("A")
    reply = await nc.request("$SYS.REQ.CLAIMS.UPDATE", a.jwt.encode(), timeout=5)
    doc = _nsc_parse(reply.data)
    assert doc["data"] == {"account": a.pub, "code": 200, "message": "jwt updated"}
    async with api.http.get(api.account_url(a.pub)) as r:
        assert await r.text() == a.jwt


async def test_per_account_update_request_checks_subject(connected: tuple[Running, Client]) -> None:
    api, nc = connected
    a, b = api.world.account("A"), api.world.account("B")
    doc = await _ask_accountd(nc, f"$SYS.REQ.ACCOUNT.{b.pub}.CLAIMS.UPDATE", a.jwt.encode())
    assert doc["error"]["code"] == 400
    assert doc["error"]["description"] == "pub keys don't match"
    doc = await _ask_accountd(nc, f"$SYS.REQ.ACCOUNT.{a.pub}.CLAIMS.UPDATE", a.jwt.encode())
    assert doc["data"]["message"] == "jwt updated"


async def test_untrusted_update_over_nats_is_refused_and_not_stored(connected: tuple[Running, Client]) -> None:
    api, nc = connected
    foreign = World().account("X")
    reply = await nc.request("$SYS.REQ.CLAIMS.UPDATE", foreign.jwt.encode(), timeout=5)
    doc = _nsc_parse(reply.data)
    assert doc["error"] == {"account": "n/a", "code": 400, "description": "untrusted issuer in request"}
    async with api.http.get(api.account_url(foreign.pub)) as r:
        assert r.status == 404


async def test_garbage_and_empty_updates_get_error_replies(connected: tuple[Running, Client]) -> None:
    _, nc = connected
    reply = await nc.request("$SYS.REQ.CLAIMS.UPDATE", b"not-a-jwt", timeout=5)
    assert _nsc_parse(reply.data)["error"]["description"] == "bad JWT in request"
    reply = await nc.request("$SYS.REQ.CLAIMS.UPDATE", b"", timeout=5)
    assert "request body is empty" in _nsc_parse(reply.data)["error"]["description"]


async def test_stale_update_over_nats_is_409(connected: tuple[Running, Client]) -> None:
    api, nc = connected
    now = int(time.time())
    a = api.world.account("A", iat=now)
    await api.post(a.pub, a.jwt)
    old = api.world.reissue(a, iat=now - 50)
    reply = await nc.request("$SYS.REQ.CLAIMS.UPDATE", old.jwt.encode(), timeout=5)
    assert _nsc_parse(reply.data)["error"]["code"] == 409


async def test_list_replies_with_stored_keys(connected: tuple[Running, Client]) -> None:
    api, nc = connected
    pubs = []
    for name in ("A", "B"):
        acct = api.world.account(name)
        await api.post(acct.pub, acct.jwt)
        pubs.append(acct.pub)
    reply = await nc.request("$SYS.REQ.CLAIMS.LIST", b"", timeout=5)
    assert sorted(_nsc_parse(reply.data)["data"]) == sorted(pubs)


async def test_delete_request_removes_listed_accounts(connected: tuple[Running, Client]) -> None:
    api, nc = connected
    a = api.world.account("A")
    await api.post(a.pub, a.jwt)
    reply = await nc.request("$SYS.REQ.CLAIMS.DELETE", api.world.delete_token(a.pub).encode(), timeout=5)
    assert _nsc_parse(reply.data)["data"]["message"] == "deleted 1 accounts"
    async with api.http.get(api.account_url(a.pub)) as r:
        assert r.status == 404


async def test_untrusted_delete_request_is_refused(connected: tuple[Running, Client]) -> None:
    api, nc = connected
    a = api.world.account("A")
    await api.post(a.pub, a.jwt)
    token = api.world.delete_token(a.pub, signer=create(Role.OPERATOR))
    reply = await nc.request("$SYS.REQ.CLAIMS.DELETE", token.encode(), timeout=5)
    assert "not trusted" in _nsc_parse(reply.data)["error"]["description"]
    async with api.http.get(api.account_url(a.pub)) as r:
        assert r.status == 200


async def test_post_publishes_one_claims_update(connected: tuple[Running, Client]) -> None:
    api, nc = connected
    a = api.world.account("A")
    sub = await nc.subscribe(f"$SYS.ACCOUNT.{a.pub}.CLAIMS.UPDATE")
    await flushed(nc)
    await api.post(a.pub, a.jwt)
    msg = await sub.next_msg(timeout=5)
    assert msg.data.decode() == a.jwt
    await api.post(a.pub, a.jwt)  # identical: no second publish
    b = api.world.account("B")
    sub_b = await nc.subscribe(f"$SYS.ACCOUNT.{b.pub}.CLAIMS.UPDATE")
    await flushed(nc)
    await api.post(b.pub, b.jwt)
    await sub_b.next_msg(timeout=5)  # B's update arrived, so A's duplicate would have too
    assert sub.pending_msgs == 0


async def test_get_with_notify_republishes(connected: tuple[Running, Client]) -> None:
    api, nc = connected
    a = api.world.account("A")
    await api.post(a.pub, a.jwt)
    sub = await nc.subscribe(f"$SYS.ACCOUNT.{a.pub}.CLAIMS.UPDATE")
    await flushed(nc)
    async with api.http.get(api.account_url(a.pub) + "?notify=true") as r:
        assert r.status == 200
    assert (await sub.next_msg(timeout=5)).data.decode() == a.jwt


async def test_metrics_with_nats_has_monitor_and_accountd_series(connected: tuple[Running, Client]) -> None:
    from prometheus_client.parser import text_string_to_metric_families

    api, _ = connected
    monitor = api.server.extras["monitor"]
    await monitor.wait_until(lambda state: len(state.servers) >= 1, timeout=10)
    async with api.http.get(api.url + "/metrics") as r:
        names = {f.name for f in text_string_to_metric_families(await r.text())}
    assert {"nats_server_up", "nats_account_connections", "accountd_outbox_depth", "accountd_http_requests"} <= names
    async with api.http.get(api.url + "/-/status") as r:
        assert r.status == 200
        assert "text/html" in r.headers["Content-Type"]


class _ListSpy:
    """Wraps ``store.list``: records how many keys each call asked for and got."""

    def __init__(self, api: Running) -> None:
        self.store = api.server.store
        self.real = self.store.list
        self.calls: list[tuple[int | None, int]] = []

    async def __call__(self, *, after: str | None = None, limit: int | None = None) -> list[str]:
        keys = await self.real(after=None if after is None else AccountKey(after), limit=limit)
        self.calls.append((limit, len(keys)))
        return list(keys)


async def _store_accounts(api: Running, n: int) -> list[str]:
    """``n`` accounts straight into the store (which does not read the JWT): LIST only needs keys."""
    token = api.world.account("ANY").jwt
    keys = sorted(str(create(Role.ACCOUNT).public_key) for _ in range(n))
    for key in keys:
        await api.server.store.put(AccountKey(key), JWT(token), publish=False)
    return keys


async def test_list_walks_the_store_in_pages_and_replies_with_every_key_once(
    connected: tuple[Running, Client], monkeypatch: pytest.MonkeyPatch
) -> None:
    api, nc = connected
    keys = await _store_accounts(api, 2500)
    spy = _ListSpy(api)
    monkeypatch.setattr(api.server.store, "list", spy)
    monkeypatch.setattr(api.server.responder, "list_page", 100)
    doc = await _ask_accountd(nc, "$SYS.REQ.CLAIMS.LIST", b"")
    assert doc["data"] == keys
    assert len(spy.calls) >= 25
    assert all(limit == 100 and got <= 100 for limit, got in spy.calls)


async def test_a_list_larger_than_max_payload_gets_an_error_reply_that_says_so(
    tmp_path: Path, nats_factory: NatsFactory, start_server: StartServer, world: World
) -> None:
    files = world.write(tmp_path / "nsfiles")
    server = nats_factory(operator_mode_config(files["operator"], world.sys.pub, "MEMORY",
                                               {world.sys.pub: world.sys.jwt}, "max_payload: 4096\n"))
    api = await start_server(nats=[server.url], creds=str(files["sys_creds"]))
    assert api.server.bus is not None and await api.server.bus.wait_connected(10)
    nc = await nats.connect(server.url, user_credentials=str(files["sys_creds"]))
    try:
        await _store_accounts(api, 100)  # 100 quoted keys: 5,900 bytes
        fits = await _ask_accountd(nc, "$SYS.REQ.CLAIMS.LIST", b"")
        assert "data" not in fits
        error = fits["error"]
        assert error["code"] == 413
        assert "100 stored accounts do not fit in one reply of at most 4096 bytes" in error["description"]
        assert "max_payload" in error["description"] and "?list=true" in error["description"]
        assert api.server.responder.counters["list_errors"] == 1
    finally:
        await nc.close()
