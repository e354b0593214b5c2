"""Managed mode: the operator signing key re-signs self-signed account JWTs (nsc's managed flow)."""

from __future__ import annotations

import time

from accountd.claims import AccountClaims, KeyPair, Role, create, decode_account, encode, new_account
from serving import Running, StartServer


def _self_signed(key: KeyPair, *, iat: int | None = None, **limits: int) -> str:
    claims = new_account(key.public_key, "managed")
    for k, v in limits.items():
        setattr(claims.nats.limits, k, v)
    return encode(claims, key, now=iat)


async def start(start_server: StartServer, tmp_path, **settings: object) -> Running:  # type: ignore[no-untyped-def]
    from world import World

    world = World()
    files = world.write(tmp_path / "managed")
    return await start_server(world, signing_key=str(files["signing_key"]), **settings)


async def test_self_signed_post_of_new_account_needs_allow_new(start_server: StartServer, tmp_path) -> None:  # type: ignore[no-untyped-def]
    api = await start(start_server, tmp_path)
    key = create(Role.ACCOUNT)
    async with api.http.post(api.account_url(key.public_key), data=_self_signed(key)) as r:
        assert r.status == 403
        assert (await r.text()).startswith("account not known")


async def test_self_signed_post_is_resigned_by_operator_signing_key(start_server: StartServer, tmp_path) -> None:  # type: ignore[no-untyped-def]
    api = await start(start_server, tmp_path, allow_new_accounts=True)
    key = create(Role.ACCOUNT)
    async with api.http.post(api.account_url(key.public_key), data=_self_signed(key, conn=3),
                             headers={"Content-Type": "application/jwt"}) as r:
        assert r.status == 200
    async with api.http.get(api.account_url(key.public_key)) as r:
        stored = decode_account(await r.text())
    assert stored.iss == api.world.signing_key.public_key
    assert stored.nats.limits.conn == 3


async def test_known_account_update_is_resigned_without_allow_new(start_server: StartServer, tmp_path) -> None:  # type: ignore[no-untyped-def]
    api = await start(start_server, tmp_path)
    a = api.world.account("A")
    assert (await api.post(a.pub, a.jwt)).status == 200
    now = int(time.time())
    async with api.http.post(api.account_url(a.pub), data=_self_signed(a.key, iat=now + 1, conn=2)) as r:
        assert r.status == 200
    async with api.http.get(api.account_url(a.pub)) as r:
        stored = decode_account(await r.text())
    assert stored.nats.limits.conn == 2
    assert stored.iss == api.world.signing_key.public_key


async def test_limit_above_ceiling_is_refused(start_server: StartServer, tmp_path) -> None:  # type: ignore[no-untyped-def]
    api = await start(start_server, tmp_path, allow_new_accounts=True, max_limits={"conn": 100})
    key = create(Role.ACCOUNT)
    async with api.http.post(api.account_url(key.public_key), data=_self_signed(key, conn=1000)) as r:
        assert r.status == 403
        assert await r.text() == "limits above the allowed ceiling: conn 1000 exceeds the ceiling 100\n"
    async with api.http.get(api.account_url(key.public_key)) as r:
        assert r.status == 404


async def test_limit_above_ceiling_is_clamped_when_configured(start_server: StartServer, tmp_path) -> None:  # type: ignore[no-untyped-def]
    api = await start(start_server, tmp_path, allow_new_accounts=True, max_limits={"conn": 100}, clamp_limits=True)
    key = create(Role.ACCOUNT)
    async with api.http.post(api.account_url(key.public_key), data=_self_signed(key, conn=1000)) as r:
        assert r.status == 200
        assert await r.text() == "clamped: conn 1000 -> 100\n"
    async with api.http.get(api.account_url(key.public_key)) as r:
        assert decode_account(await r.text()).nats.limits.conn == 100


async def test_replayed_older_self_signed_jwt_is_409(start_server: StartServer, tmp_path) -> None:  # type: ignore[no-untyped-def]
    api = await start(start_server, tmp_path, allow_new_accounts=True)
    key = create(Role.ACCOUNT)
    now = int(time.time())
    old = _self_signed(key, iat=now - 10, conn=5)
    new = _self_signed(key, iat=now, conn=6)
    assert (await api.post(key.public_key, new)).status == 200
    async with api.http.post(api.account_url(key.public_key), data=old) as r:
        assert r.status == 409


async def test_operator_signed_post_works_in_managed_mode(start_server: StartServer, tmp_path) -> None:  # type: ignore[no-untyped-def]
    api = await start(start_server, tmp_path)
    a = api.world.account("A")
    assert (await api.post(a.pub, a.jwt)).status == 200
    async with api.http.get(api.account_url(a.pub)) as r:
        assert await r.text() == a.jwt


async def test_account_signed_by_unlisted_key_is_not_trusted(start_server: StartServer, tmp_path) -> None:  # type: ignore[no-untyped-def]
    api = await start(start_server, tmp_path)
    a = api.world.account("A")
    await api.post(a.pub, a.jwt)
    stranger = create(Role.ACCOUNT)
    claims = AccountClaims.from_go(a.claims.to_go())
    token = encode(claims, stranger)
    async with api.http.post(api.account_url(a.pub), data=token) as r:
        assert r.status == 400
        assert await r.text() == "bad JWT issuer is not trusted\n"
