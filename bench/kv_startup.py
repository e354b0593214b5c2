"""``accountd serve`` starting on a KV bucket that already holds many accounts: time to serve, memory.

Part of ``python -m bench.kv`` (``--startup-accounts N``, 0 skips it). Steps:

1. N real account JWTs (signed by the bench operator in a process pool) are written to a fresh R3
   bucket through :class:`~accountd.store.KVStore` with ``publish=False`` (an import), then the
   outbox is drained the way an instance does it (``pending()`` until the consumer has nothing
   left): the time this takes is the import's outbox backlog.
2. ``accountd serve --store nats-kv://…`` is exec'd; from exec to the first ``GET`` of a random
   stored account answering 200 (polled every 5 ms) is the start-up time.
3. VmRSS/VmHWM of the process then, and after GETs of 10,000 random accounts (each one read
   through from the bucket the first time).
4. The bytes per account of the in-memory index (:class:`~accountd.store.kv.index.Revisions`),
   measured with ``tracemalloc`` in the bench process.
"""

from __future__ import annotations

import asyncio
import random
import signal
import subprocess
import sys
import time
import tracemalloc
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import aiohttp
import nats

from accountd.claims import Role, create, encode, load_seed, new_account
from accountd.natsserver import free_port
from accountd.store import KVStore
from accountd.store.kv.index import Revisions
from accountd.types import JWT, AccountKey

CHUNK = 2_000


def _sign(seed: str, start: int, count: int) -> list[tuple[str, str]]:
    operator = load_seed(seed, Role.OPERATOR)
    out = []
    for i in range(start, start + count):
        key = create(Role.ACCOUNT)
        out.append((key.public_key, encode(new_account(key.public_key, f"S{i}"), operator)))
    return out


def accounts(operator_seed: str, n: int) -> list[tuple[str, str]]:
    """``n`` (public key, JWT) pairs signed by the operator, over every core."""
    with ProcessPoolExecutor() as pool:
        parts = pool.map(_sign, *zip(*[(operator_seed, s, min(CHUNK, n - s)) for s in range(0, n, CHUNK)],
                                     strict=True))
        return [pair for part in parts for pair in part]


async def populate(urls: list[str], creds: Path, bucket: str, pairs: list[tuple[str, str]]) -> dict[str, float]:
    """Import ``pairs`` with publish=False; then let the outbox acknowledge them all."""
    store = KVStore(bucket, servers=urls, creds=str(creds))
    await store.open()
    limit = asyncio.Semaphore(256)
    t0 = time.perf_counter()

    async def put(pub: str, jwt: str) -> None:
        async with limit:
            await store.put(AccountKey(pub), JWT(jwt), publish=False)

    await asyncio.gather(*(put(pub, jwt) for pub, jwt in pairs))
    written = time.perf_counter() - t0
    t1 = time.perf_counter()
    nc = await nats.connect(urls, user_credentials=str(creds))
    try:
        while True:
            assert await store.pending() == []
            info = await nc.jetstream().consumer_info(f"KV_{bucket}", "accountd")
            if not info.num_pending and not info.num_ack_pending:
                break
            await asyncio.sleep(0.05)
    finally:
        await nc.close()
        await store.close()
    return {"import_s": written, "import_rate": len(pairs) / written, "backlog_s": time.perf_counter() - t1}


def index_bytes(pubs: list[str]) -> float:
    """Bytes per account of the KV store's in-memory index holding ``pubs`` (tracemalloc)."""
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    index = Revisions()
    for n, pub in enumerate(pubs):
        # a fresh string, as the watcher slices one out of each message's subject
        index.apply(AccountKey(pub[:1] + pub[1:]), 10_000_000 + n, n % 50 == 0)
    index.page(None, 1)
    used = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    return used / len(pubs)


def _memory_mb(pid: int) -> tuple[float, float]:
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            fields[name] = int(value.split()[0]) / 1024
    return fields["VmRSS"], fields["VmHWM"]


async def startup(urls: list[str], kv_creds: Path, root: Path, operator_seed: str, n: int) -> dict[str, Any]:
    """Steps 1-4 of the module docstring for a bucket of ``n`` accounts."""
    t = time.perf_counter()
    pairs = accounts(operator_seed, n)
    result: dict[str, Any] = {"accounts": n, "sign_s": time.perf_counter() - t}
    result.update(await populate(urls, kv_creds, "startup", pairs))
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    t0 = time.perf_counter()
    proc = subprocess.Popen([
        sys.executable, "-m", "accountd", "serve", "--listen", f"127.0.0.1:{port}",
        "--store", f"nats-kv://startup?creds={kv_creds}", "--operator", str(root / "operator.jwt"),
        "--nats", ",".join(urls), "--creds", str(root / "sys.creds"), "--log-level", "warning", "--write-rate", "0"])
    try:
        pub, jwt = random.choice(pairs)
        async with aiohttp.ClientSession() as http:
            while True:
                if proc.poll() is not None:
                    raise RuntimeError(f"accountd exited with {proc.returncode}")
                try:
                    async with http.get(f"{url}/jwt/v1/accounts/{pub}") as r:
                        if r.status == 200 and await r.text() == jwt:
                            break
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(0.005)
            result["first_get_s"] = time.perf_counter() - t0
            result["rss_mb"], result["hwm_mb"] = _memory_mb(proc.pid)
            sample = random.sample(pairs, min(10_000, n))
            limit = asyncio.Semaphore(32)
            t1 = time.perf_counter()

            async def get(p: str, j: str) -> None:
                async with limit, http.get(f"{url}/jwt/v1/accounts/{p}") as r:
                    assert r.status == 200 and await r.text() == j

            await asyncio.gather(*(get(p, j) for p, j in sample))
            result["cold_gets"] = len(sample)
            result["cold_get_rate"] = len(sample) / (time.perf_counter() - t1)
            result["rss_after_gets_mb"], result["hwm_after_gets_mb"] = _memory_mb(proc.pid)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
    result["index_bytes_per_account"] = index_bytes([p for p, _ in pairs])
    return result


def report(r: dict[str, Any]) -> str:
    return "\n".join([
        f"Start-up on a bucket of {r['accounts']:,} accounts (R3, 3 nats-servers on the same machine):",
        "",
        "| measure | value |",
        "|---|---:|",
        f"| import with publish=False (KVStore.put, 256 at a time) | {r['import_s']:.1f} s "
        f"({r['import_rate']:,.0f}/s) |",
        f"| outbox backlog of the import acknowledged | {r['backlog_s']:.1f} s |",
        f"| exec → first GET 200 | {r['first_get_s']:.2f} s |",
        f"| RSS at the first GET (peak) | {r['rss_mb']:.0f} MB ({r['hwm_mb']:.0f} MB) |",
        f"| {r['cold_gets']:,} GETs of random accounts, each read through once | {r['cold_get_rate']:,.0f}/s |",
        f"| RSS after them (peak) | {r['rss_after_gets_mb']:.0f} MB ({r['hwm_after_gets_mb']:.0f} MB) |",
        f"| in-memory index per account (tracemalloc) | {r['index_bytes_per_account']:.0f} bytes |",
    ])
