"""``/-/accounts``: the history a push leaves (with its source), the diff between versions, search."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from accountd.claims import KeyPair, Role, create, decode_account, encode, new_account
from accountd.config import Settings
from accountd.natsserver import free_port
from accountd.server import Server
from serving import Running, StartServer
from world import World


async def _get(api: Running, path: str) -> tuple[int, Any]:
    async with api.http.get(api.url + path) as r:
        return r.status, await r.json()


async def _history(api: Running, pub: str, query: str = "") -> list[dict[str, Any]]:
    status, doc = await _get(api, f"/-/accounts/{pub}/history{query}")
    assert status == 200, doc
    assert doc["account"] == pub
    return doc["versions"]  # type: ignore[no-any-return]


async def test_http_pushes_and_a_delete_leave_versions_newest_first_with_their_source(api: Running) -> None:
    w = api.world
    a = w.account("A", iat=int(time.time()) - 10)
    b = w.reissue(a, conn=5)
    assert (await api.post(a.pub, a.jwt)).status == 200
    assert (await api.post(a.pub, b.jwt)).status == 200
    assert (await api.post(a.pub, b.jwt)).status == 200  # identical: no new version
    token = w.delete_token(a.pub)
    async with api.http.delete(api.account_url(a.pub), data=token) as r:
        assert r.status == 200
    versions = await _history(api, a.pub)
    assert [v["deleted"] for v in versions] == [True, False, False]
    revisions = [v["revision"] for v in versions]
    assert revisions == sorted(revisions, reverse=True)
    deletion, second, first = versions
    assert first["jwt"] == a.jwt and second["jwt"] == b.jwt and deletion["jwt"] == token
    for v, jwt in ((first, a.jwt), (second, b.jwt)):
        claims = decode_account(jwt)
        assert (v["iat"], v["jti"], v["issuer"]) == (claims.iat, claims.jti, w.operator.public_key)
        assert v["source"] == {"via": "http", "client": "127.0.0.1"}
        assert isinstance(v["stored_at"], float) and abs(v["stored_at"] - time.time()) < 3600
    assert deletion["issuer"] == w.operator.public_key and deletion["source"]["via"] == "http"
    assert [v["revision"] for v in await _history(api, a.pub, "?limit=1")] == revisions[:1]


async def test_history_of_an_unknown_account_is_404_and_of_a_bad_key_400(api: Running) -> None:
    status, doc = await _get(api, f"/-/accounts/{create(Role.ACCOUNT).public_key}/history")
    assert status == 404 and doc["error"]["code"] == "not_found"
    status, doc = await _get(api, "/-/accounts/NOTAKEY/history")
    assert status == 400 and doc["error"]["code"] == "invalid_key"
    a = api.world.account("A")
    await api.post(a.pub, a.jwt)
    for query in ("?limit=0", "?limit=x"):
        status, doc = await _get(api, f"/-/accounts/{a.pub}/history{query}")
        assert status == 400 and doc["error"]["code"] == "bad_parameter"


def _self_signed(key: KeyPair, *, iat: int | None = None, **limits: int) -> str:
    claims = new_account(key.public_key, "managed")
    for k, v in limits.items():
        setattr(claims.nats.limits, k, v)
    return encode(claims, key, now=iat)


async def test_a_managed_push_is_a_managed_version_that_came_over_http(start_server: StartServer,
                                                                        tmp_path: Path) -> None:
    world = World()
    files = world.write(tmp_path / "managed")
    api = await start_server(world, signing_key=str(files["signing_key"]), allow_new_accounts=True)
    key = create(Role.ACCOUNT)
    assert (await api.post(key.public_key, _self_signed(key, conn=3))).status == 200
    [version] = await _history(api, key.public_key)
    assert version["source"] == {"via": "managed", "path": "http", "client": "127.0.0.1"}
    assert version["issuer"] == world.signing_key.public_key  # what was stored: the re-signed JWT
    assert decode_account(version["jwt"]).nats.limits.conn == 3


async def test_diff_defaults_to_the_newest_against_the_one_before(api: Running) -> None:
    w = api.world
    now = int(time.time())
    v1 = w.account("A", iat=now - 20)
    v2 = w.reissue(v1, iat=now - 10, conn=5)
    v3 = w.reissue(v2, iat=now, subs=7)
    for v in (v1, v2, v3):
        assert (await api.post(v1.pub, v.jwt)).status == 200
    r3, r2, r1 = (v["revision"] for v in await _history(api, v1.pub))
    status, doc = await _get(api, f"/-/accounts/{v1.pub}/diff")
    assert status == 200
    assert (doc["account"], doc["from"], doc["to"]) == (v1.pub, r2, r3)
    assert doc["limits"] == {"subs": {"old": -1, "new": 7}}
    assert (doc["old_jti"], doc["new_jti"]) == (v2.claims.jti, v3.claims.jti)
    assert doc["lines"] == ["limits.subs: -1 -> 7"]
    status, doc = await _get(api, f"/-/accounts/{v1.pub}/diff?from={r1}&to={r3}")
    assert doc["limits"] == {"conn": {"old": -1, "new": 5}, "subs": {"old": -1, "new": 7}}
    status, doc = await _get(api, f"/-/accounts/{v1.pub}/diff?to={r2}")
    assert (doc["from"], doc["to"], doc["lines"]) == (r1, r2, ["limits.conn: -1 -> 5"])


async def test_diff_refuses_unknown_revisions_bad_numbers_and_deletions(api: Running) -> None:
    w = api.world
    a = w.account("A", iat=int(time.time()) - 10)
    await api.post(a.pub, a.jwt)
    status, doc = await _get(api, f"/-/accounts/{a.pub}/diff")
    assert status == 404 and doc["error"]["code"] == "no_version"  # nothing before the first
    status, doc = await _get(api, f"/-/accounts/{a.pub}/diff?to=999999")
    assert status == 404 and doc["error"]["code"] == "no_version"
    for query in ("?from=x", "?to=-1", "?from=1.5"):
        status, doc = await _get(api, f"/-/accounts/{a.pub}/diff{query}")
        assert status == 400 and doc["error"]["code"] == "bad_parameter", query
    async with api.http.delete(api.account_url(a.pub), data=w.delete_token(a.pub)) as r:
        assert r.status == 200
    [tomb, live] = await _history(api, a.pub)
    status, doc = await _get(api, f"/-/accounts/{a.pub}/diff?from={live['revision']}&to={tomb['revision']}")
    assert status == 400 and doc["error"]["code"] == "deleted_version"
    status, doc = await _get(api, f"/-/accounts/{create(Role.ACCOUNT).public_key}/diff")
    assert status == 404


async def test_search_finds_by_name_tag_and_key_prefix_and_pages(api: Running) -> None:
    w = api.world
    accounts = []
    for i in range(5):
        a = w.account(f"team-{i}" if i < 4 else "other")
        a.claims.nats.tags = ["prod"] if i % 2 == 0 else ["dev"]
        a.jwt = encode(a.claims, w.operator)
        assert (await api.post(a.pub, a.jwt)).status == 200
        accounts.append(a)
    status, doc = await _get(api, "/-/accounts?q=TEAM")
    assert status == 200 and doc["next"] is None
    team = sorted(a.pub for a in accounts[:4])
    assert [d["account"] for d in doc["accounts"]] == team
    item = next(d for d in doc["accounts"] if d["account"] == accounts[0].pub)
    claims = decode_account(accounts[0].jwt)
    assert item == {"account": accounts[0].pub, "name": "team-0", "tags": ["prod"], "iat": claims.iat,
                    "exp": 0, "revision": item["revision"]}
    assert isinstance(item["revision"], int) and item["revision"] > 0
    _, doc = await _get(api, "/-/accounts?q=prod")
    assert sorted(d["name"] for d in doc["accounts"]) == ["other", "team-0", "team-2"]
    _, doc = await _get(api, f"/-/accounts?q={accounts[3].pub[:20].lower()}")
    assert [d["account"] for d in doc["accounts"]] == [accounts[3].pub]
    _, first = await _get(api, "/-/accounts?q=team&limit=3")
    assert [d["account"] for d in first["accounts"]] == team[:3] and first["next"] == team[2]
    _, rest = await _get(api, f"/-/accounts?q=team&limit=3&after={first['next']}")
    assert [d["account"] for d in rest["accounts"]] == team[3:] and rest["next"] is None
    _, everything = await _get(api, "/-/accounts")
    assert {d["account"] for d in everything["accounts"]} == {a.pub for a in accounts}
    for query in ("?limit=0", "?limit=1001", "?after=nope"):
        status, doc = await _get(api, "/-/accounts" + query)
        assert status == 400, query


async def test_the_new_routes_are_admin(start_server: StartServer, tmp_path: Path) -> None:
    tokens = tmp_path / "tokens"
    tokens.write_text("s3cret-token-for-tests\n")
    api = await start_server(admin_token_file=str(tokens))
    a = api.world.account("A")
    await api.post(a.pub, a.jwt)
    for path in ("/-/accounts", f"/-/accounts/{a.pub}/history", f"/-/accounts/{a.pub}/diff", "/-/audit"):
        async with api.http.get(api.url + path) as r:
            assert r.status == 401, path
        async with api.http.get(api.url + path, headers={"Authorization": "Bearer s3cret-token-for-tests"}) as r:
            assert r.status in (200, 404), path
            assert r.headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize("kind", ["dir", "sqlite"])
async def test_history_and_the_audit_log_survive_a_restart(kind: str, tmp_path: Path, world: World) -> None:
    spec = f"dir:{tmp_path / 'jwt'}" if kind == "dir" else f"sqlite:{tmp_path / 'accounts.db'}"
    files = world.write(tmp_path / "world")
    a = world.account("A", iat=int(time.time()) - 10)
    b = world.reissue(a, conn=2)

    async def run(*bodies: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        server = Server(Settings(operator=str(files["operator"]), store=spec, listen=f"127.0.0.1:{free_port()}"))
        await server.start()
        host, port = server.address
        api = Running(server, f"http://{host}:{port}", aiohttp.ClientSession(), world)
        try:
            for body in bodies:
                assert (await api.post(a.pub, body)).status in (200, 400)
            versions = await _history(api, a.pub)
            _, audit = await _get(api, "/-/audit")
            return versions, audit["records"]
        finally:
            await api.http.close()
            await server.close()

    before, audit_before = await run(a.jwt, b.jwt)
    after, audit_after = await run("garbage")
    assert after == before and [v["jwt"] for v in after] == [b.jwt, a.jwt]
    assert {v["source"]["via"] for v in after} == {"http"}
    assert audit_after[1:] == audit_before and audit_after[0]["status"] == 400
    beside = tmp_path / "jwt" / ".accountd" / "audit.jsonl" if kind == "dir" else tmp_path / "accounts.db.audit.jsonl"
    assert len(beside.read_text().splitlines()) == 3
