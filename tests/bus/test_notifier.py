"""The outbox drained onto a real nats-server, a page at a time."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import nats

from accountd.bus.notifier import PAGE, Notifier
from accountd.natsclient import flushed
from accountd.store import SQLiteStore
from accountd.types import JWT, AccountKey
from harness import NatsFactory, operator_mode_config
from serving import StartServer
from world import World

BACKLOG = 2 * PAGE + 500


def key(n: int) -> AccountKey:
    import base64
    import hashlib

    return AccountKey("A" + base64.b32encode(hashlib.sha512(str(n).encode()).digest()).decode()[:55])


def count_reads(store: SQLiteStore) -> list[int | None]:
    """Make ``store.pending`` note the ``limit`` of every read of the outbox, in the list returned."""
    reads: list[int | None] = []
    pending = store.pending

    async def observed(*, limit: int | None = None) -> Any:
        reads.append(limit)
        return await pending(limit=limit)

    store.pending = observed  # type: ignore[method-assign]
    return reads


async def test_a_backlog_left_while_nats_was_down_is_published_in_pages(
    tmp_path: Path, nats_factory: NatsFactory, start_server: StartServer, world: World
) -> None:
    db = tmp_path / "accounts.db"
    store = SQLiteStore(db)
    await store.open()
    await asyncio.gather(*(store.put(key(n), JWT(f"e30.{n}.c2ln")) for n in range(BACKLOG)))
    await store.close()

    files = world.write(tmp_path / "nsfiles")
    server = nats_factory(operator_mode_config(files["operator"], world.sys.pub, "MEMORY",
                                               {world.sys.pub: world.sys.jwt}))
    nc = await nats.connect(server.url, user_credentials=str(files["sys_creds"]))
    seen: set[str] = set()
    everything = asyncio.Event()

    async def on_update(msg: Any) -> None:
        seen.add(msg.subject.split(".")[2])
        if len(seen) == BACKLOG:
            everything.set()

    await nc.subscribe("$SYS.ACCOUNT.*.CLAIMS.UPDATE", cb=on_update)
    await flushed(nc)

    store = SQLiteStore(db)
    pending = store.pending
    limits = count_reads(store)
    await start_server(store=store, nats=[server.url], creds=str(files["sys_creds"]))
    try:
        async with asyncio.timeout(30):
            await everything.wait()
    finally:
        await nc.close()
    assert seen == {key(n) for n in range(BACKLOG)}
    assert limits and all(limit == PAGE for limit in limits)
    for _ in range(100):
        if await pending(limit=None) == []:
            break
        await asyncio.sleep(0.05)
    assert await pending(limit=None) == []


async def test_without_nats_the_backlog_is_counted_and_never_read(tmp_path: Path) -> None:
    """Nowhere to publish: every round costs a counter, not a page of JWTs read and decoded."""
    store = SQLiteStore(tmp_path / "accounts.db")
    await store.open()
    try:
        await asyncio.gather(*(store.put(key(n), JWT(f"e30.{n}.c2ln")) for n in range(25)))
        reads = count_reads(store)
        notifier = Notifier(store, None)
        assert await notifier.drain() == 0
        assert notifier.depth == 25 and reads == []
        assert await notifier.flush(timeout=0.2) is False
    finally:
        await store.close()
