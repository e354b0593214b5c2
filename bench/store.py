"""Durable puts per second through the store layer, with many writers at once.

Run ``python -m bench.store``; it prints a markdown table for BENCHMARKS.md.

Each scenario opens a fresh store, then ``--concurrency`` tasks put ``--puts`` account JWTs of a
realistic size (~1 KB) as fast as they can; a put counts once it returned, i.e. once it is durable.
Scenarios: new accounts (every put creates a file) and updates (the same ``--accounts`` accounts
over and over), for the flat and the sharded directory layout; the memory store is the ceiling of
the Python side. The directory is created under ``--dir`` (default: the current directory), so
that the figures are those of a real disk: a tmpfs makes fsync free.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import os
import platform
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from accountd.store import DirectoryStore, MemoryStore, SQLiteStore, Store
from accountd.types import JWT, AccountKey


def _key(n: int) -> AccountKey:
    return AccountKey("A" + base64.b32encode(n.to_bytes(35, "big")).decode()[:55])


def _jwt(n: int) -> JWT:
    body = base64.urlsafe_b64encode(os.urandom(700)).decode().rstrip("=")
    return JWT(f"eyJ0eXAiOiJKV1QiLCJhbGciOiJlZDI1NTE5LW5rZXkifQ.{n}{body}.{'s' * 86}")


async def _run(store: Store, puts: int, concurrency: int, accounts: int | None) -> dict[str, float]:
    await store.open()
    payloads = [_jwt(n) for n in range(min(puts, 1000))]
    latencies: list[float] = []
    counter = iter(range(puts))

    async def writer() -> None:
        for n in counter:
            account = _key(n % accounts if accounts else n)
            start = time.perf_counter()
            await store.put(account, payloads[n % len(payloads)])
            latencies.append(time.perf_counter() - start)

    start = time.perf_counter()
    await asyncio.gather(*(writer() for _ in range(concurrency)))
    elapsed = time.perf_counter() - start
    stats = store.stats()
    await store.close()
    latencies.sort()
    return {
        "rate": puts / elapsed,
        "p50": statistics.median(latencies) * 1e3,
        "p99": latencies[int(len(latencies) * 0.99)] * 1e3,
        "batch": puts / int(stats["batches"]) if "batches" in stats else 1.0,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--puts", type=int, default=20_000)
    parser.add_argument("--concurrency", type=int, default=256)
    parser.add_argument("--accounts", type=int, default=1000, help="accounts in the update scenarios")
    parser.add_argument("--dir", type=Path, default=Path.cwd())
    args = parser.parse_args()

    print(
        f"{platform.python_implementation()} {platform.python_version()}, {os.cpu_count()} CPUs, "
        f"{args.puts} puts, {args.concurrency} concurrent writers, ~1 KB JWTs, under {args.dir}\n"
    )
    print("| store | scenario | puts/s | p50 ms | p99 ms | puts per fsync |")
    print("|---|---|---:|---:|---:|---:|")
    scenarios = [("new accounts", None), (f"updates of {args.accounts} accounts", args.accounts)]
    kinds: list[tuple[str, Callable[[Path], Store]]] = [
        ("memory", lambda base: MemoryStore()),
        ("sqlite", lambda base: SQLiteStore(base / "accounts.db")),
        ("directory", lambda base: DirectoryStore(base / "jwt")),
        ("directory, sharded", lambda base: DirectoryStore(base / "jwt", shard=True)),
    ]
    for label, make in kinds:
        for scenario, accounts in scenarios:
            base = Path(tempfile.mkdtemp(prefix="accountd-bench-", dir=args.dir))
            try:
                r = asyncio.run(_run(make(base), args.puts, args.concurrency, accounts))
            finally:
                shutil.rmtree(base)
            fsync = "—" if label == "memory" else f"{r['batch']:.0f}"
            print(f"| {label} | {scenario} | {r['rate']:,.0f} | {r['p50']:.2f} | {r['p99']:.2f} | {fsync} |")


if __name__ == "__main__":
    main()
