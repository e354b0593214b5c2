"""HttpRemote against an in-process accountd: the account listing is read a page at a time."""

from __future__ import annotations

import asyncio

from accountd.cli.remote_http import HttpRemote
from accountd.types import JWT, AccountKey
from serving import StartServer
from world import World


async def test_the_listing_is_read_in_pages_and_covers_every_account_once(start_server: StartServer) -> None:
    api = await start_server(World())  # this package's `world` fixture is a CLI home
    accounts = [api.world.account(f"P{i}") for i in range(2500)]
    for a in accounts:
        await api.server.store.put(AccountKey(a.pub), JWT(a.jwt), publish=False)
    remote = HttpRemote(api.url + "/jwt/v1")

    def sizes_and_keys() -> tuple[list[int], list[str]]:
        sizes, keys = [], []
        for page in remote.account_pages(limit=100):
            sizes.append(len(page))
            keys += [a["account"] for a in page]
        return sizes, keys

    sizes, keys = await asyncio.to_thread(sizes_and_keys)  # urllib blocks; the server runs on this loop
    assert sizes == [100] * 25
    assert keys == sorted(a.pub for a in accounts)
    flat = await asyncio.to_thread(lambda: [a["jti"] for a in remote.list_accounts(limit=1000)])
    assert sorted(flat) == sorted(a.claims.jti for a in accounts)
