"""Benchmark the resolver library on one core.

* **cached get** — ``await resolver.get(pub)`` of accounts already held, with the update
  subscription live (no I/O).
* **updates, in process** — ``resolver.apply_update(jwt, account)``: decode + ed25519 verify +
  nats-server's validation + rollback check + cache replace, with an update callback registered
  (so the diff is computed too).
* **updates over NATS** — as many JWTs published on ``$SYS.ACCOUNT.<id>.CLAIMS.UPDATE`` by another
  process as fast as it can; measured from its go signal until the last one is applied.
* **POST → callback** — a changed JWT POSTed to ``accountd serve`` (a separate process), until the
  resolver's update callback runs: accountd's write, its outbox publish, nats-server, the resolver.

A real nats-server and ``accountd serve`` run as child processes; this process (the resolver) is
pinned to one CPU after they started, where the OS allows it.

    python -m bench.resolver [--accounts 1000] [--gets 200000] [--updates 10000] [--posts 200] [--repeat 3]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
import nats

from accountd.claims import (
    AccountClaims,
    encode,
)
from accountd.natsserver import NatsServer, free_port
from accountd.resolver import AccountDiff, Resolver
from bench._world import BenchWorld


def pin_one_cpu() -> str:
    if hasattr(os, "sched_setaffinity"):
        cpu = min(os.sched_getaffinity(0))
        os.sched_setaffinity(0, {cpu})
        return f"pinned to CPU {cpu}"
    return "not pinned"


async def wait_healthy(url: str, proc: subprocess.Popen[bytes]) -> None:
    async with aiohttp.ClientSession() as http:
        for _ in range(300):
            if proc.poll() is not None:
                raise RuntimeError("accountd serve exited")
            try:
                async with http.get(url + "/healthz") as r:
                    if r.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.05)
    raise RuntimeError("accountd serve did not become healthy")


async def run(args: argparse.Namespace) -> list[tuple[str, str, str]]:
    rows: list[tuple[str, str, str]] = []
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        args.workdir = tmp
        world = BenchWorld(root, args.accounts, conn=100, iat=int(time.time()) - 100_000)
        config = (f'operator: "{root / "operator.jwt"}"\nsystem_account: {world.sys.public_key}\n'
                  f"resolver: MEMORY\nresolver_preload: {{ {world.sys.public_key}: {world.sys_jwt} }}\n")
        server = NatsServer(workdir=root / "nats", config=config).start()
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        accountd = subprocess.Popen(
            [sys.executable, "-m", "accountd", "serve", "--listen", f"127.0.0.1:{port}", "--store", "memory:",
             "--operator", str(root / "operator.jwt"), "--nats", server.url, "--creds", str(world.creds),
             "--log-level", "warning", "--write-rate", "0"],
        )  # fmt: skip
        try:
            await wait_healthy(url, accountd)
            print(pin_one_cpu(), file=sys.stderr)
            async with aiohttp.ClientSession() as http:
                for key, _, jwt in world.accounts:
                    async with http.post(f"{url}/jwt/v1/accounts/{key.public_key}", data=jwt) as r:
                        assert r.status == 200, await r.text()
                rows += await measure(args, world, url, server.url, http)
        finally:
            accountd.send_signal(signal.SIGTERM)
            try:
                accountd.wait(15)
            except subprocess.TimeoutExpired:
                accountd.kill()
                accountd.wait()
            server.stop()
    return rows


async def measure(
    args: argparse.Namespace, world: BenchWorld, url: str, nats_url: str, http: aiohttp.ClientSession
) -> list[tuple[str, str, str]]:
    rows = []
    pubs = [k.public_key for k, _, _ in world.accounts]
    assert world.base is not None
    next_iat = world.base + 1

    def versions() -> list[tuple[str, str]]:
        nonlocal next_iat
        out = world.versions(args.updates, next_iat)
        next_iat += args.updates
        return out

    def row(name: str, count: int, took: float, unit: str = "µs", digits: int = 0) -> None:
        rows.append((name, f"{count / took:,.0f}/s", f"{took / count * 1e6:.{digits}f} {unit}"))

    async with Resolver(world.operator_jwt, url=url, nats=[nats_url], creds=str(world.creds),
                        max_size=max(10_000, len(pubs)), revalidate_interval=None) as resolver:  # fmt: skip
        assert await resolver.wait_live(15)
        started = time.perf_counter()
        await asyncio.gather(*(resolver.get(p) for p in pubs))
        row("first get: HTTP fetch + validate (all at once)", len(pubs), time.perf_counter() - started)

        get = resolver.get
        best = float("inf")
        for _ in range(args.repeat):
            started = time.perf_counter()
            for i in range(args.gets):
                await get(pubs[i % len(pubs)])
            best = min(best, time.perf_counter() - started)
        row("cached get", args.gets, best, digits=2)

        applied, target = 0, 0
        done = asyncio.Event()

        def count(old: AccountClaims, new: AccountClaims, diff: AccountDiff) -> None:
            nonlocal applied
            applied += 1
            if applied >= target:
                done.set()

        resolver.on_update(count)
        best = float("inf")
        for _ in range(args.repeat):
            batch = versions()
            applied, target = 0, len(batch)
            started = time.perf_counter()
            for pub, jwt in batch:
                await resolver.apply_update(jwt, pub)
            best = min(best, time.perf_counter() - started)
            assert applied == len(batch), (applied, resolver.stats.updates_rejected)
        row("validated update applied, in process", args.updates, best)

        best = float("inf")
        for _ in range(args.repeat):
            batch = versions()
            applied, target = 0, len(batch)
            done.clear()
            best = min(best, await over_nats(batch, Path(args.workdir), nats_url, world.creds, done))
        row("validated update applied, published over NATS", args.updates, best)

        latencies = []
        key, claims, _ = world.accounts[0]
        for i in range(args.posts):
            copy = AccountClaims.from_go(claims.to_go())
            copy.nats.limits.leaf = i + 1
            jwt = encode(copy, world.operator, now=next_iat + i)
            applied, target = 0, 1
            done.clear()
            started = time.perf_counter()
            async with http.post(f"{url}/jwt/v1/accounts/{key.public_key}", data=jwt) as r:
                assert r.status == 200
            await asyncio.wait_for(done.wait(), 10)
            latencies.append(time.perf_counter() - started)
        ms = sorted(x * 1000 for x in latencies)
        p50, p99 = statistics.median(ms), ms[min(len(ms) - 1, int(len(ms) * 0.99))]
        rows.append(("POST to accountd → update callback", f"p50 {p50:.1f} ms", f"p99 {p99:.1f} ms, "
                     f"max {ms[-1]:.1f} ms"))  # fmt: skip
        assert resolver.stats.fetch_count("http") == len(pubs)  # updates never re-fetched anything
    return rows


async def over_nats(batch: list[tuple[str, str]], workdir: Path, nats_url: str, creds: Path,
                    done: asyncio.Event) -> float:  # fmt: skip
    """Another process (not pinned) publishes ``batch``, as accountd would; this core only receives."""
    path = workdir / "updates.txt"
    path.write_text("".join(f"$SYS.ACCOUNT.{pub}.CLAIMS.UPDATE {jwt}\n" for pub, jwt in batch))
    publisher = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bench.resolver", "--publish", str(path), nats_url, str(creds),
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, preexec_fn=_all_cpus,
    )
    assert publisher.stdin is not None and publisher.stdout is not None
    assert (await publisher.stdout.readline()).strip() == b"ready"
    started = time.perf_counter()
    publisher.stdin.write(b"go\n")
    await publisher.stdin.drain()
    await asyncio.wait_for(done.wait(), 120)
    took = time.perf_counter() - started
    await publisher.wait()
    return took


def _all_cpus() -> None:
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, range(os.cpu_count() or 1))


async def publish(batch: str, nats_url: str, creds: str) -> None:
    """The publisher process: connect, say ready, wait for go, publish every line, flush."""
    lines = [line.split(" ", 1) for line in Path(batch).read_text().splitlines()]
    nc = await nats.connect(nats_url, user_credentials=creds, name="bench-publisher")
    print("ready", flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
    for subject, jwt in lines:
        await nc.publish(subject, jwt.encode())
    await nc.flush()
    await nc.close()


def main() -> None:
    if len(sys.argv) == 5 and sys.argv[1] == "--publish":
        asyncio.run(publish(*sys.argv[2:]))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=1000)
    parser.add_argument("--gets", type=int, default=200_000)
    parser.add_argument("--updates", type=int, default=10_000)
    parser.add_argument("--posts", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=3, help="Throughput figures are the best of this many runs.")
    args = parser.parse_args()
    rows = asyncio.run(run(args))
    cpu = platform.processor() or platform.machine()
    print(f"Resolver: {args.accounts} accounts, {args.updates} updates, {args.posts} POSTs; best of "
          f"{args.repeat}; one core; "
          f"Python {platform.python_version()} on {cpu}, {os.cpu_count()} CPUs.\n"
          "Aim (issue 5): >= 5,000 validated updates applied per second; POST -> callback within 100 ms.\n")
    print("| measurement | rate | per operation |\n|---|---:|---:|")
    for name, rate, per in rows:
        print(f"| {name} | {rate} | {per} |")


if __name__ == "__main__":
    main()
