"""Fail-over of notifications on the KV store: an instance acknowledges a write and is SIGKILLed.

Part of ``python -m bench.kv`` (``--failover-samples N``, 0 skips it). A surviving ``accountd
serve`` publishes to the cluster; for each sample a doomed instance on the same bucket, started
without ``--nats`` so that it fetches the change from the outbox but can never publish it, answers
a POST with 200 and is SIGKILLed at once. The delay is from the kill to the
``$SYS.ACCOUNT.<id>.CLAIMS.UPDATE`` a system-account subscriber receives — published by the survivor
once the outbox consumer redelivers the change (``ack_wait``, 1 s by default) and its notifier next
asks the store (every second, or at once when kicked).
"""

from __future__ import annotations

import asyncio
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import aiohttp
import nats
from nats.aio.msg import Msg

from accountd.natsserver import free_port


def _serve(
    port: int, store: str, operator: Path, nats_urls: list[str] | None, sys_creds: Path
) -> subprocess.Popen[bytes]:
    cmd = [sys.executable, "-m", "accountd", "serve", "--listen", f"127.0.0.1:{port}", "--store", store,
           "--operator", str(operator), "--log-level", "error", "--write-rate", "0"]
    if nats_urls:
        cmd += ["--nats", ",".join(nats_urls), "--creds", str(sys_creds)]
    return subprocess.Popen(cmd)


async def _healthy(http: aiohttp.ClientSession, url: str, proc: subprocess.Popen[bytes]) -> None:
    for _ in range(1200):
        if proc.poll() is not None:
            raise RuntimeError(f"accountd exited with {proc.returncode}")
        try:
            async with http.get(url + "/healthz") as r:
                if r.status == 200:
                    return
        except aiohttp.ClientError:
            pass
        await asyncio.sleep(0.05)
    raise TimeoutError(url)


async def failover(urls: list[str], kv_creds: Path, root: Path, accounts: list[tuple[str, str]]) -> dict[str, Any]:
    """One sample per ``(public key, JWT)`` in ``accounts``: kill → update received, in seconds."""
    store = f"nats-kv://failover?creds={kv_creds}&servers={','.join(urls)}"
    operator, sys_creds = root / "operator.jwt", root / "sys.creds"
    arrived: dict[str, float] = {}
    nc = await nats.connect(urls, user_credentials=str(sys_creds))

    async def on_update(msg: Msg) -> None:
        arrived.setdefault(msg.data.decode(), time.perf_counter())

    await nc.subscribe("$SYS.ACCOUNT.*.CLAIMS.UPDATE", cb=on_update)
    await nc.flush()
    port = free_port()
    survivor = _serve(port, store, operator, urls, sys_creds)
    delays: list[float] = []
    try:
        async with aiohttp.ClientSession() as http:
            await _healthy(http, f"http://127.0.0.1:{port}", survivor)
            for pub, jwt in accounts:
                doomed_port = free_port()
                doomed = _serve(doomed_port, store, operator, None, sys_creds)
                try:
                    url = f"http://127.0.0.1:{doomed_port}"
                    await _healthy(http, url, doomed)
                    async with http.post(f"{url}/jwt/v1/accounts/{pub}", data=jwt) as r:
                        assert r.status == 200, await r.text()
                    killed = time.perf_counter()
                    doomed.kill()
                finally:
                    doomed.kill()
                    doomed.wait()
                for _ in range(3000):
                    if jwt in arrived:
                        break
                    await asyncio.sleep(0.005)
                else:
                    raise TimeoutError(f"no update for {pub} within 15 s of the kill")
                delays.append(arrived[jwt] - killed)
    finally:
        survivor.send_signal(signal.SIGTERM)
        survivor.wait(30)
        await nc.close()
    return {"samples": len(delays), "min": min(delays), "median": statistics.median(delays), "max": max(delays)}


def report(r: dict[str, Any]) -> str:
    return (f"Fail-over: instance SIGKILLed holding an acknowledged change → CLAIMS.UPDATE from the survivor, "
            f"{r['samples']} samples: min {r['min']:.2f} s, median {r['median']:.2f} s, max {r['max']:.2f} s")
