"""Concurrent writes to one account, and HTTPS."""

from __future__ import annotations

import asyncio
import ssl
import subprocess
import time
from pathlib import Path

import aiohttp

from accountd.claims import decode_account
from serving import Running, StartServer


async def test_concurrent_posts_of_one_account_leave_the_newest(start_server: StartServer, tmp_path: Path) -> None:
    api = await start_server(store=f"dir:{tmp_path / 'store'}")
    now = int(time.time())
    base = api.world.account("A", iat=now - 100)
    versions = [api.world.reissue(base, iat=now - 100 + i, conn=i + 1) for i in range(40)]
    shuffled = versions[::3] + versions[1::3] + versions[2::3]
    statuses = await asyncio.gather(*(api.post(v.pub, v.jwt) for v in shuffled))
    assert {r.status for r in statuses} <= {200, 409}
    async with api.http.get(api.account_url(base.pub)) as r:
        stored = decode_account(await r.text())
    assert stored.iat == now - 100 + 39
    assert stored.nats.limits.conn == 40


async def test_serves_https_with_tls_cert_and_key(start_server: StartServer, tmp_path: Path) -> None:
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj",
                    "/CN=127.0.0.1", "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    api: Running = await start_server(tls_cert=str(cert), tls_key=str(key))
    ctx = ssl.create_default_context(cafile=str(cert))
    ctx.check_hostname = False
    host, port = api.server.address
    async with aiohttp.ClientSession() as http, http.get(f"https://{host}:{port}/healthz", ssl=ctx) as r:
        assert r.status == 200
