"""DELETE, pack, and the store-failure paths of ``/jwt/v1``."""

from __future__ import annotations

import time

from accountd.claims import Role, create
from accountd.store.failing import FailingStore
from serving import Running, StartServer


async def _store(api: Running, *names: str) -> list[str]:
    pubs = []
    for name in names:
        a = api.world.account(name)
        assert (await api.post(a.pub, a.jwt)).status == 200
        pubs.append(a.pub)
    return pubs


async def test_delete_with_operator_token_removes_every_listed_account(api: Running) -> None:
    a, b = await _store(api, "A", "B")
    async with api.http.delete(api.account_url(a), data=api.world.delete_token(a, b)) as r:
        assert r.status == 200
        assert await r.text() == "deleted 2 accounts\n"
    for pub in (a, b):
        async with api.http.get(api.account_url(pub)) as r:
            assert r.status == 404


async def test_delete_leaves_tombstone_refusing_older_jwt(api: Running) -> None:
    now = int(time.time())
    acct = api.world.account("A", iat=now - 5)
    await api.post(acct.pub, acct.jwt)
    async with api.http.delete(api.account_url(acct.pub), data=api.world.delete_token(acct.pub, iat=now)) as r:
        assert r.status == 200
    replay = api.world.reissue(acct, iat=now)
    async with api.http.post(api.account_url(acct.pub), data=replay.jwt) as r:
        assert r.status == 409
    newer = api.world.reissue(acct, iat=now + 1)
    assert (await api.post(acct.pub, newer.jwt)).status == 200


async def test_delete_not_self_signed_is_403(api: Running) -> None:
    (a,) = await _store(api, "A")
    from accountd.claims import GenericClaims, encode

    token = encode(GenericClaims(sub=api.world.signing_key.public_key, nats={"accounts": [a]}), api.world.operator)
    async with api.http.delete(api.account_url(a), data=token) as r:
        assert r.status == 403
        assert await r.text() == "not self signed\n"


async def test_delete_by_untrusted_operator_is_403(api: Running) -> None:
    (a,) = await _store(api, "A")
    stranger = create(Role.OPERATOR)
    async with api.http.delete(api.account_url(a), data=api.world.delete_token(a, signer=stranger)) as r:
        assert r.status == 403
        assert await r.text() == "not trusted\n"


async def test_delete_of_system_account_is_403(api: Running) -> None:
    sys_pub = api.world.sys.pub
    await api.post(sys_pub, api.world.sys.jwt)
    async with api.http.delete(api.account_url(sys_pub), data=api.world.delete_token(sys_pub)) as r:
        assert r.status == 403
        assert await r.text() == "not allowed to delete system account\n"


async def test_old_delete_token_is_refused_as_replay(api: Running) -> None:
    (a,) = await _store(api, "A")
    token = api.world.delete_token(a, iat=int(time.time()) - 3600)
    async with api.http.delete(api.account_url(a), data=token) as r:
        assert r.status == 403
        assert await r.text() == "stale delete request\n"


async def test_delete_token_not_listing_path_key_is_400(api: Running) -> None:
    a, b = await _store(api, "A", "B")
    async with api.http.delete(api.account_url(a), data=api.world.delete_token(b)) as r:
        assert r.status == 400
    async with api.http.get(api.account_url(b)) as r:
        assert r.status == 200


async def test_delete_of_unknown_account_is_404_and_removes_nothing(api: Running) -> None:
    (a,) = await _store(api, "A")
    missing = create(Role.ACCOUNT).public_key
    async with api.http.delete(api.account_url(missing), data=api.world.delete_token(missing, a)) as r:
        assert r.status == 404
    async with api.http.get(api.account_url(a)) as r:
        assert r.status == 200


async def test_delete_with_garbage_body_is_400(api: Running) -> None:
    (a,) = await _store(api, "A")
    async with api.http.delete(api.account_url(a), data=b"nope") as r:
        assert r.status == 400


async def test_delete_disabled_by_config_is_403(start_server: StartServer) -> None:
    api = await start_server(allow_delete=False)
    (a,) = await _store(api, "A")
    async with api.http.delete(api.account_url(a), data=api.world.delete_token(a)) as r:
        assert r.status == 403
        assert await r.text() == "delete must be enabled in server config\n"


async def test_pack_returns_sorted_pub_jwt_lines(api: Running) -> None:
    pubs = await _store(api, "A", "B", "C")
    async with api.http.get(api.url + "/jwt/v1/pack") as r:
        text = await r.text()
    lines = text.split("\n")
    assert [line.split("|")[0] for line in lines] == sorted(pubs)
    assert not text.endswith("\n")
    async with api.http.get(api.url + "/jwt/v1/pack?max=1") as r:
        assert len((await r.text()).split("\n")) == 1


async def test_pack_with_bad_max_is_400(api: Running) -> None:
    for value, message in (("x", 'bad max parameter "x"'), ("-1", None), ("10001", None)):
        async with api.http.get(api.url + f"/jwt/v1/pack?max={value}") as r:
            assert r.status == 400, value
            if message:
                assert await r.text() == message + "\n"


async def test_failing_store_gives_503_health_and_500_on_write(start_server: StartServer) -> None:
    api = await start_server(store=FailingStore())
    async with api.http.get(api.url + "/healthz") as r:
        assert r.status == 503
    a = api.world.account("A")
    async with api.http.post(api.account_url(a.pub), data=a.jwt) as r:
        assert r.status == 500
        assert await r.text() == "error saving JWT\n"
    async with api.http.get(api.account_url(a.pub)) as r:
        assert r.status == 500
