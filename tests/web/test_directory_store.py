"""``serve --store DIR`` on a directory other tools wrote: served at once; a bad file hurts only its account."""

from __future__ import annotations

from pathlib import Path

from accountd.claims import Role, create
from accountd.store import DirectoryStore
from serving import StartServer
from world import World


async def test_a_nats_server_directory_is_served_and_a_corrupt_file_is_a_404_for_its_account_only(
    tmp_path: Path, start_server: StartServer, world: World
) -> None:
    root = tmp_path / "jwt"
    good = [world.account(f"T{n}") for n in range(3)]
    for n, account in enumerate(good):  # flat and sharded, as nats-server's full resolver may leave them
        path = root / (account.pub[-2:] if n % 2 else "") / f"{account.pub}.jwt"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(account.jwt)
    broken = create(Role.ACCOUNT).public_key
    (root / f"{broken}.jwt").write_text("eyJhbGciOiJlZDI1NTE5LW5rZXkifQ.not-a-payload.c2ln")
    api = await start_server(store=str(root))
    for account in good:
        async with api.http.get(api.account_url(account.pub)) as r:
            assert r.status == 200 and await r.text() == account.jwt
    async with api.http.get(api.account_url(broken)) as r:
        assert r.status == 404
        assert "stored JWT cannot be decoded" in await r.text()
    async with api.http.get(api.url + "/healthz") as r:
        assert r.status == 200
    newer = world.reissue(good[0], iat=good[0].claims.iat + 10)
    assert (await api.post(good[0].pub, newer.jwt)).status == 200
    async with api.http.get(api.account_url(good[0].pub)) as r:
        assert await r.text() == newer.jwt


async def test_files_of_other_tools_are_indexed_with_what_serving_them_needs(
    tmp_path: Path, start_server: StartServer, world: World
) -> None:
    root = tmp_path / "jwt"
    root.mkdir()
    account = world.account("T")
    (root / f"{account.pub}.jwt").write_text(account.jwt)
    api = await start_server(store=str(root))
    store = api.server.store
    assert isinstance(store, DirectoryStore)
    await store.scan.wait()
    record = await store.get(account.pub)  # type: ignore[arg-type]
    assert dict(record.meta) == {"iat": account.claims.iat, "jti": account.claims.jti, "exp": 0,
                                 "name": "T", "tags": ""}  # name and tags: what a search matches
