"""The audit log over HTTP: every POST and DELETE is one record, a refused one changes nothing,
and ``GET /-/audit`` filters it."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from accountd.claims import Role, create
from serving import Running, StartServer
from world import World


@pytest.fixture
async def audited(start_server: StartServer, tmp_path: Path) -> Running:
    return await start_server(audit_log=str(tmp_path / "audit.jsonl"))


async def _audit(api: Running, query: str = "") -> list[dict[str, Any]]:
    async with api.http.get(f"{api.url}/-/audit{query}") as r:
        assert r.status == 200, await r.text()
        return (await r.json())["records"]  # type: ignore[no-any-return]


async def _state(api: Running, pub: str) -> tuple[int, str, list[dict[str, Any]]]:
    async with api.http.get(api.account_url(pub)) as r:
        body = await r.text()
        status = r.status
    async with api.http.get(f"{api.url}/-/accounts/{pub}/history") as r:
        history = (await r.json()).get("versions", []) if r.status == 200 else []
    return status, body, history


async def test_refused_posts_are_audited_with_their_code_and_change_nothing(audited: Running) -> None:
    api, w = audited, audited.world
    now = int(time.time())
    a = w.account("A", iat=now)
    assert (await api.post(a.pub, a.jwt)).status == 200
    before = await _state(api, a.pub)
    stale = w.reissue(a, iat=now - 100, conn=1)
    foreign = World().account("X", key=a.key)
    attempts: list[tuple[str | bytes, int, str]] = [
        (b"not a jwt", 400, "bad JWT in request"),
        (foreign.jwt, 400, "untrusted issuer in request"),
        (stale.jwt, 409, "stale JWT"),
        (b"x" * ((1 << 20) + 1), 413, "request body exceeds"),
    ]
    for body, status, _ in attempts:
        assert (await api.post(a.pub, body)).status == status
    assert await _state(api, a.pub) == before
    records = await _audit(api, f"?account={a.pub}")
    assert len(records) == 5
    accepted = records[-1]
    assert accepted["ok"] is True and accepted["status"] == 200 and accepted["code"] is None
    assert accepted["message"] == "stored" and accepted["revision"] == before[2][0]["revision"]
    assert (accepted["jti"], accepted["iat"]) == (a.claims.jti, now)
    codes = ["bad_encoding", "untrusted_issuer", "stale_iat", "too_large"]
    for record, (_, status, message), code in zip(reversed(records[:-1]), attempts, codes, strict=True):
        assert record["op"] == "put" and record["account"] == a.pub
        assert (record["via"], record["client"]) == ("http", "127.0.0.1")
        assert record["ok"] is False and record["status"] == status and record["revision"] is None
        assert record["message"].startswith(message) and record["code"] == code
    garbage = records[-2]
    assert garbage["jti"] is None and garbage["iat"] is None
    assert records[-4]["jti"] == stale.claims.jti  # known: it decoded


async def test_a_write_flood_is_audited_as_429_and_stores_nothing(start_server: StartServer,
                                                                  tmp_path: Path) -> None:
    api = await start_server(audit_log=str(tmp_path / "audit.jsonl"), write_rate=0.001, write_burst=1)
    a, b = api.world.account("A"), api.world.account("B")
    assert (await api.post(a.pub, a.jwt)).status == 200
    assert (await api.post(b.pub, b.jwt)).status == 429
    async with api.http.get(api.account_url(b.pub)) as r:
        assert r.status == 404
    [refused, accepted] = await _audit(api)
    assert accepted["account"] == a.pub and accepted["ok"] is True
    assert refused["account"] == b.pub and refused["status"] == 429 and refused["code"] == "rate_limited"
    assert refused["jti"] is None  # refused at the door: the body was never read
    async with api.http.get(f"{api.url}/-/accounts/{b.pub}/history") as r:
        assert r.status == 404


async def test_deletes_are_audited_with_the_token_and_the_tombstone_revision(audited: Running) -> None:
    api, w = audited, audited.world
    a = w.account("A")
    await api.post(a.pub, a.jwt)
    token = w.delete_token(a.pub)
    async with api.http.delete(api.account_url(a.pub), data=w.delete_token(a.pub, signer=create(Role.OPERATOR))) as r:
        assert r.status == 403
    async with api.http.delete(api.account_url(a.pub), data=token) as r:
        assert r.status == 200
    async with api.http.get(f"{api.url}/-/accounts/{a.pub}/history") as r:
        tomb = (await r.json())["versions"][0]
    deleted, refused, _ = await _audit(api, f"?account={a.pub}")
    assert deleted["op"] == "delete" and deleted["ok"] is True and deleted["accounts"] == [a.pub]
    assert deleted["revision"] == tomb["revision"] and deleted["jti"] == tomb["jti"]
    assert deleted["message"] == "deleted 1 accounts"
    assert (refused["op"], refused["status"], refused["code"]) == ("delete", 403, "untrusted_issuer")
    assert refused["message"] == "not trusted" and refused["revision"] is None


async def test_audit_filters_by_account_since_and_limit(audited: Running) -> None:
    api, w = audited, audited.world
    a, b = w.account("A"), w.account("B")
    await api.post(a.pub, a.jwt)
    await api.post(b.pub, b.jwt)
    await api.post(a.pub, b"garbage")
    records = await _audit(api)
    assert [r["account"] for r in records] == [a.pub, b.pub, a.pub]
    assert [r["account"] for r in await _audit(api, f"?account={b.pub}")] == [b.pub]
    assert len(await _audit(api, "?limit=2")) == 2
    middle = records[1]["time"]
    assert [r["account"] for r in await _audit(api, f"?since={middle}")] == [a.pub, b.pub]
    assert await _audit(api, f"?since={records[0]['time'] + 1}") == []
    for query in ("?limit=0", "?limit=1001", "?limit=x", "?since=soon", "?since=nan", "?account=nope"):
        async with api.http.get(f"{api.url}/-/audit{query}") as r:
            assert r.status == 400, query
            assert (await r.json())["error"]["code"] in ("bad_parameter", "invalid_key")


async def test_without_an_audit_log_the_route_says_it_is_off(api: Running) -> None:
    async with api.http.get(f"{api.url}/-/audit") as r:
        assert r.status == 404
        assert (await r.json())["error"]["code"] == "audit_off"


async def test_a_small_audit_max_bytes_rotates_and_the_route_reads_the_rotated_files(
    start_server: StartServer, tmp_path: Path,
) -> None:
    path = tmp_path / "audit.jsonl"
    api = await start_server(audit_log=str(path), audit_max_bytes="2000")
    a = api.world.account("A")
    for _ in range(20):
        assert (await api.post(a.pub, b"garbage")).status == 400
    records = await _audit(api, "?limit=1000")
    assert len(records) == 20
    assert path.with_name("audit.jsonl.1").exists()
    sizes = {p.name: p.stat().st_size for p in tmp_path.glob("audit.jsonl*")}
    assert all(size <= 2000 for size in sizes.values()), sizes
    times = [r["time"] for r in records]
    assert times == sorted(times, reverse=True)
