"""Benchmark ``accountd serve``: GET and durable POST throughput, POST → CLAIMS.UPDATE latency.

Runs a real nats-server and ``accountd serve`` (directory store, fsync'd writes) with 200
accounts, drives them with ``wrk`` when it is installed (a Python load generator otherwise) and
prints a Markdown table for BENCHMARKS.md.

    python -m bench.serve [--accounts 200] [--duration 10] [--connections 32]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
import nats

from accountd.natsserver import NatsServer, free_port
from bench._world import BenchWorld


def _wrk(url: str, script: str, duration: int, connections: int, workdir: Path) -> dict[str, float]:
    path = workdir / "script.lua"
    path.write_text(script)
    out = subprocess.run(
        ["wrk", "-t1", f"-c{connections}", f"-d{duration}s", "--latency", "-s", str(path), url],
        capture_output=True, text=True, check=True,
    ).stdout
    def ms(label: str) -> float:
        m = re.search(rf"^\s*{label}%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
        if not m:
            return float("nan")
        value, unit = float(m.group(1)), m.group(2)
        return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {"rps": rps, "p50": ms("50"), "p99": ms("99"), "errors": float(errors.group(1)) if errors else 0.0}


def _lua_get(paths: list[str]) -> str:
    items = ",".join(f'"{p}"' for p in paths)
    return f"""local paths = {{{items}}}
local i = 0
request = function()
  i = i + 1
  return wrk.format("GET", paths[(i % #paths) + 1])
end
"""


def _lua_post(bodies: list[tuple[str, str]]) -> str:
    items = ",".join(f'{{"/jwt/v1/accounts/{pub}","{jwt}"}}' for pub, jwt in bodies)
    return f"""local items = {{{items}}}
local i = 0
request = function()
  i = i + 1
  local it = items[(i % #items) + 1]
  return wrk.format("POST", it[1], {{["Content-Type"] = "application/jwt"}}, it[2])
end
"""


async def _python_load(url: str, requests: list[tuple[str, str, str | None]], duration: int,
                       connections: int) -> dict[str, float]:
    latencies: list[float] = []
    errors = 0
    deadline = time.perf_counter() + duration
    counter = 0

    async def worker(http: aiohttp.ClientSession) -> None:
        nonlocal errors, counter
        while time.perf_counter() < deadline:
            counter += 1
            method, path, body = requests[counter % len(requests)]
            t0 = time.perf_counter()
            async with http.request(method, url + path, data=body) as r:
                await r.read()
                if r.status != 200:
                    errors += 1
            latencies.append((time.perf_counter() - t0) * 1000)

    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=connections)) as http:
        start = time.perf_counter()
        await asyncio.gather(*(worker(http) for _ in range(connections)))
        elapsed = time.perf_counter() - start
    latencies.sort()
    return {"rps": len(latencies) / elapsed, "p50": latencies[len(latencies) // 2],
            "p99": latencies[int(len(latencies) * 0.99)], "errors": float(errors)}


async def _update_latency(url: str, nats_url: str, creds: Path, setup: BenchWorld, samples: int) -> dict[str, float]:
    nc = await nats.connect(nats_url, user_credentials=str(creds))
    arrived: dict[str, float] = {}
    waiters: dict[str, asyncio.Event] = {}

    async def on_update(msg: nats.aio.msg.Msg) -> None:
        jwt = msg.data.decode()
        arrived[jwt] = time.perf_counter()
        if jwt in waiters:
            waiters[jwt].set()

    await nc.subscribe("$SYS.ACCOUNT.*.CLAIMS.UPDATE", cb=on_update)
    await nc.flush()
    latencies = []
    versions = setup.versions(samples + len(setup.accounts))[len(setup.accounts):]
    async with aiohttp.ClientSession() as http:
        for pub, jwt in versions[:samples]:
            waiters[jwt] = asyncio.Event()
            t0 = time.perf_counter()
            async with http.post(f"{url}/jwt/v1/accounts/{pub}", data=jwt) as r:
                assert r.status == 200, await r.text()
            await asyncio.wait_for(waiters[jwt].wait(), 5)
            latencies.append((arrived[jwt] - t0) * 1000)
    await nc.close()
    latencies.sort()
    return {"p50": statistics.median(latencies), "p99": latencies[int(len(latencies) * 0.99) - 1],
            "samples": float(len(latencies))}


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=200)
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--samples", type=int, default=500)
    args = parser.parse_args()

    root = Path(tempfile.mkdtemp(prefix="accountd-bench-"))
    setup = BenchWorld(root, args.accounts)
    ns = NatsServer(workdir=root / "nats", config=(
        f'operator: "{root / "operator.jwt"}"\nsystem_account: {setup.sys.public_key}\n'
        f"resolver: MEMORY\nresolver_preload: {{ {setup.sys.public_key}: {setup.sys_jwt} }}\n"))
    ns.start()
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    proc = subprocess.Popen([sys.executable, "-m", "accountd", "serve", "--listen", f"127.0.0.1:{port}",
                             "--store", str(root / "store"), "--operator", str(root / "operator.jwt"),
                             "--nats", ns.url, "--creds", str(root / "sys.creds"), "--log-level", "warning",
                             "--write-rate", "0"])
    try:
        async with aiohttp.ClientSession() as http:
            for _ in range(200):
                try:
                    async with http.get(url + "/healthz") as r:
                        if r.status == 200:
                            break
                except aiohttp.ClientError:
                    await asyncio.sleep(0.05)
            for key, _, jwt in setup.accounts:
                async with http.post(f"{url}/jwt/v1/accounts/{key.public_key}", data=jwt) as r:
                    assert r.status == 200
        paths = [f"/jwt/v1/accounts/{key.public_key}" for key, _, _ in setup.accounts]
        use_wrk = shutil.which("wrk") is not None
        tool = "wrk -t1 (1 thread)" if use_wrk else "Python aiohttp load generator"
        if use_wrk:
            get = _wrk(url, _lua_get(paths), args.duration, args.connections, root)
        else:
            get = await _python_load(url, [("GET", p, None) for p in paths], args.duration, args.connections)
        post_versions = setup.versions(max(20000, args.duration * 6000))
        if use_wrk:
            post = _wrk(url, _lua_post(post_versions), args.duration, args.connections, root)
        else:
            post = await _python_load(url, [("POST", f"/jwt/v1/accounts/{p}", j) for p, j in post_versions],
                                      args.duration, args.connections)
        update = await _update_latency(url, ns.url, root / "sys.creds", setup, args.samples)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
        ns.stop()
        shutil.rmtree(root, ignore_errors=True)

    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    print(f"Machine: {os.cpu_count()} cores, {cpu}; Python {platform.python_version()}; load: {tool}, "
          f"{args.connections} connections, {args.duration}s per run, {args.accounts} accounts, directory store.\n")
    print("| benchmark | requests/s | p50 ms | p99 ms | non-200 |")
    print("|---|---:|---:|---:|---:|")
    print(f"| GET /jwt/v1/accounts/<pub> | {get['rps']:,.0f} | {get['p50']:.2f} | {get['p99']:.2f} | "
          f"{get['errors']:.0f} |")
    print(f"| POST changed account (durable) | {post['rps']:,.0f} | {post['p50']:.2f} | {post['p99']:.2f} | "
          f"{post['errors']:.0f} |")
    print(f"| POST → CLAIMS.UPDATE received | sequential, {update['samples']:.0f} samples | "
          f"{update['p50']:.2f} | {update['p99']:.2f} | |")


if __name__ == "__main__":
    asyncio.run(main())
