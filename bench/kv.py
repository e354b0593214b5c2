"""Benchmark ``accountd serve`` on the JetStream KV store: GET and POST throughput with 1 and 2 instances.

Starts a 3-node nats-server cluster on loopback (operator mode, JetStream, full resolver), then 1 and
then 2 ``accountd serve --store nats-kv://…`` processes on one fresh R3 bucket each time. The load
goes straight to the instances (no load balancer): with 2 instances, two load generators run at
once, each on one instance with half the connections, and their rates are added. POSTs are changed
versions of the accounts; with 2 instances each one gets its own half of the accounts, so that the
figure is throughput, not compare-and-set retries. Prints a Markdown table for BENCHMARKS.md.

Then, on the same cluster, :mod:`bench.kv_startup` (an instance starting on a bucket of
``--startup-accounts`` accounts: seconds to the first GET 200, RSS) and :mod:`bench.kv_failover`
(an instance killed right after acknowledging a write: seconds until another one publishes it).

    python -m bench.kv [--accounts 200] [--duration 10] [--connections 32]
                       [--startup-accounts 100000] [--failover-samples 10] [--only throughput,startup,failover]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import aiohttp

from accountd.claims import create, encode, format_creds, new_account, new_user
from accountd.claims.keys import Role
from accountd.natsserver import NatsServer, free_port
from bench import kv_failover, kv_startup
from bench._world import BenchWorld
from bench.serve import _lua_get, _lua_post, _python_load, _update_latency, _wrk


class Cluster:
    """Three JetStream nodes; ``kv.creds`` is a user of a JetStream-enabled account."""

    def __init__(self, root: Path, setup: BenchWorld) -> None:
        kv_key, user = create(Role.ACCOUNT), create(Role.USER)
        claims = new_account(kv_key.public_key, "KV")
        for limit in ("mem_storage", "disk_storage", "streams", "consumer"):
            setattr(claims.nats.limits, limit, -1)
        kv_jwt = encode(claims, setup.operator)
        self.kv_creds = root / "kv.creds"
        self.kv_creds.write_text(format_creds(encode(new_user(user.public_key, "kv"), kv_key), user.seed))
        routes = [free_port() for _ in range(3)]
        self.servers = []
        for i in range(3):
            node = root / f"n{i + 1}"
            self.servers.append(NatsServer(workdir=node, name=f"n{i + 1}", config=(
                f'operator: "{root / "operator.jwt"}"\nsystem_account: {setup.sys.public_key}\n'
                f'resolver {{ type: full, dir: "{node / "jwt"}" }}\n'
                f"resolver_preload: {{ {setup.sys.public_key}: {setup.sys_jwt}, {kv_key.public_key}: {kv_jwt} }}\n"
                f'jetstream {{ store_dir: "{node / "js"}", max_memory_store: 256MB, max_file_store: 4GB }}\n'
                f"cluster {{ name: bench, listen: 127.0.0.1:{routes[i]}, routes: ["
                + ", ".join(f"nats-route://127.0.0.1:{p}" for p in routes) + "] }\n"
            )))

    @property
    def urls(self) -> list[str]:
        return [s.url for s in self.servers]

    def start(self) -> None:
        for server in self.servers:
            server.start()

    def stop(self) -> None:
        for server in self.servers:
            server.stop()


async def _start_instances(
    count: int, root: Path, cluster: Cluster, bucket: str
) -> list[tuple[str, subprocess.Popen[bytes]]]:
    store = f"nats-kv://{bucket}?creds={cluster.kv_creds}"
    running = []
    for _ in range(count):
        port = free_port()
        proc = subprocess.Popen([
            sys.executable, "-m", "accountd", "serve", "--listen", f"127.0.0.1:{port}", "--store", store,
            "--operator", str(root / "operator.jwt"), "--nats", ",".join(cluster.urls),
            "--creds", str(root / "sys.creds"), "--log-level", "warning", "--write-rate", "0"])
        running.append((f"http://127.0.0.1:{port}", proc))
    async with aiohttp.ClientSession() as http:
        for url, proc in running:
            for _ in range(1200):  # JetStream may still be electing its leaders
                if proc.poll() is not None:
                    raise RuntimeError(f"accountd exited with {proc.returncode}")
                try:
                    async with http.get(url + "/healthz") as r:
                        if r.status == 200:
                            break
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(0.05)
    return running


async def _load_accounts(urls: list[str], setup: BenchWorld) -> None:
    """POST every account on the first instance; wait until every instance serves all of them."""
    async with aiohttp.ClientSession() as http:
        for key, _, jwt in setup.accounts:
            async with http.post(f"{urls[0]}/jwt/v1/accounts/{key.public_key}", data=jwt) as r:
                assert r.status == 200, await r.text()
        for url in urls[1:]:
            for key, _, jwt in setup.accounts:
                for _ in range(500):
                    async with http.get(f"{url}/jwt/v1/accounts/{key.public_key}") as r:
                        if r.status == 200 and await r.text() == jwt:
                            break
                    await asyncio.sleep(0.01)


async def _measure(urls: list[str], requests: list[list[tuple[str, str, str | None]]], duration: int,
                   connections: int, root: Path) -> dict[str, float]:
    """One load generator per instance, at the same time; rates are added, latencies averaged."""
    share = max(1, connections // len(urls))
    if shutil.which("wrk"):
        for i in range(len(urls)):
            (root / f"w{i}").mkdir(exist_ok=True)
        scripts = []
        for reqs in requests:
            if reqs[0][0] == "GET":
                scripts.append(_lua_get([path for _, path, _ in reqs]))
            else:
                scripts.append(_lua_post([(path.rsplit("/", 1)[1], body or "") for _, path, body in reqs]))
        parts = await asyncio.gather(*(asyncio.to_thread(_wrk, url, script, duration, share, root / f"w{i}")
                                       for i, (url, script) in enumerate(zip(urls, scripts, strict=True))))
    else:
        parts = await asyncio.gather(*(_python_load(url, reqs, duration, share)
                                       for url, reqs in zip(urls, requests, strict=True)))
    return {"rps": sum(p["rps"] for p in parts), "p50": sum(p["p50"] for p in parts) / len(parts),
            "p99": max(p["p99"] for p in parts), "errors": sum(p["errors"] for p in parts)}


async def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--accounts", type=int, default=200)
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--samples", type=int, default=300)
    parser.add_argument("--startup-accounts", type=int, default=100_000)
    parser.add_argument("--failover-samples", type=int, default=10)
    parser.add_argument("--only", default="throughput,startup,failover",
                        help="comma-separated: throughput, startup, failover")
    args = parser.parse_args()
    only = set(args.only.split(","))

    root = Path(tempfile.mkdtemp(prefix="accountd-bench-kv-"))
    setup = BenchWorld(root, args.accounts)
    cluster = Cluster(root, setup)
    cluster.start()
    rows = []
    startup: dict[str, float] | None = None
    failover: dict[str, float] | None = None
    seed = setup.operator.seed.reveal()
    try:
        if "startup" in only and args.startup_accounts:
            startup = await kv_startup.startup(cluster.urls, cluster.kv_creds, root, seed, args.startup_accounts)
        if "failover" in only and args.failover_samples:
            failover = await kv_failover.failover(cluster.urls, cluster.kv_creds, root,
                                                  kv_startup.accounts(seed, args.failover_samples))
        for count in (1, 2) if "throughput" in only else ():
            running = await _start_instances(count, root, cluster, f"bench{count}")
            urls = [url for url, _ in running]
            try:
                await _load_accounts(urls, setup)
                paths = [f"/jwt/v1/accounts/{key.public_key}" for key, _, _ in setup.accounts]
                get = await _measure(urls, [[("GET", p, None) for p in paths]] * count, args.duration,
                                     args.connections, root)
                versions = setup.versions(max(20000, args.duration * 4000))
                halves: list[list[tuple[str, str, str | None]]] = [
                    [("POST", f"/jwt/v1/accounts/{pub}", jwt) for n, (pub, jwt) in enumerate(versions)
                     if (n % len(setup.accounts)) % count == i] for i in range(count)]
                post = await _measure(urls, halves, args.duration, args.connections, root)
                update = await _update_latency(urls[0], cluster.urls[0], root / "sys.creds", setup, args.samples)
                rows.append((count, get, post, update))
            finally:
                for _, proc in running:
                    proc.send_signal(signal.SIGTERM)
                for _, proc in running:
                    proc.wait(30)
    finally:
        cluster.stop()
        shutil.rmtree(root, ignore_errors=True)

    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    tool = "wrk -t1 per instance" if shutil.which("wrk") else "Python aiohttp load generator per instance"
    print(f"Machine: {os.cpu_count()} cores, {cpu}; Python {platform.python_version()}; load: {tool}, "
          f"{args.connections} connections in all, {args.duration}s per run, {args.accounts} accounts; "
          "3-node nats-server cluster on the same machine, R3 bucket.\n")
    if startup is not None:
        print(kv_startup.report(startup) + "\n")
    if failover is not None:
        print(kv_failover.report(failover) + "\n")
    if not rows:
        return
    print("| instances | benchmark | requests/s | p50 ms | p99 ms | non-200 |")
    print("|---:|---|---:|---:|---:|---:|")
    for count, get, post, update in rows:
        print(f"| {count} | GET /jwt/v1/accounts/<pub> | {get['rps']:,.0f} | {get['p50']:.2f} | "
              f"{get['p99']:.2f} | {get['errors']:.0f} |")
        print(f"| {count} | POST changed account (R3 write) | {post['rps']:,.0f} | {post['p50']:.2f} | "
              f"{post['p99']:.2f} | {post['errors']:.0f} |")
        print(f"| {count} | POST → CLAIMS.UPDATE received | sequential, {update['samples']:.0f} samples | "
              f"{update['p50']:.2f} | {update['p99']:.2f} | |")


if __name__ == "__main__":
    asyncio.run(main())
