"""Abuse limits on real sockets: the write bucket, header and body timeouts, the connection cap."""

from __future__ import annotations

import asyncio

import aiohttp

from serving import StartServer


async def _open(address: tuple[str, int]) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    return await asyncio.open_connection(*address)


async def _healthz(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bytes:
    writer.write(b"GET /healthz HTTP/1.1\r\nHost: accountd\r\n\r\n")
    return await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)


async def test_a_write_flood_from_one_address_gets_429_while_another_is_served(start_server: StartServer) -> None:
    api = await start_server(write_rate=1, write_burst=3)
    w = api.world
    accounts = [w.account(f"A{i}") for i in range(5)]
    statuses = [(await api.post(a.pub, a.jwt)).status for a in accounts[:3]]
    assert statuses == [200, 200, 200]
    async with api.http.post(api.account_url(accounts[3].pub), data=accounts[3].jwt) as r:
        assert r.status == 429
        assert r.headers["Retry-After"].isdigit() and int(r.headers["Retry-After"]) >= 1
        assert "too many writes from 127.0.0.1" in await r.text()
    async with api.http.delete(api.account_url(accounts[0].pub), data=w.delete_token(accounts[0].pub)) as r:
        assert r.status == 429
    async with api.http.get(api.account_url(accounts[3].pub)) as r:
        assert r.status == 404  # the refused write left the store untouched
    async with api.http.get(api.account_url(accounts[0].pub)) as r:
        assert r.status == 200
    other = aiohttp.TCPConnector(local_addr=("127.0.0.2", 0))
    async with (aiohttp.ClientSession(connector=other) as second,
                second.post(api.account_url(accounts[4].pub), data=accounts[4].jwt) as r):
        assert r.status == 200  # another client address has a bucket of its own
    async with api.http.get(api.url + "/-/stats") as r:
        assert (await r.json())["http"]["writes_refused"] == 2


async def test_a_client_that_sends_headers_slowly_is_disconnected(start_server: StartServer) -> None:
    api = await start_server(header_timeout=0.3)
    reader, writer = await _open(api.server.address)
    writer.write(b"GET /healthz HT")  # half a request line, and then nothing
    assert await asyncio.wait_for(reader.read(), 10) == b""  # closed by accountd, no answer
    writer.close()
    silent_reader, silent = await _open(api.server.address)  # one that sends nothing at all
    assert await asyncio.wait_for(silent_reader.read(), 10) == b""
    silent.close()
    reader, writer = await _open(api.server.address)  # a prompt client is served, and kept alive
    assert (await _healthz(reader, writer)).startswith(b"HTTP/1.1 200")
    assert (await _healthz(reader, writer)).startswith(b"HTTP/1.1 200")
    writer.close()
    async with api.http.get(api.url + "/-/stats") as r:
        assert (await r.json())["http"]["header_timeouts"] >= 2


async def test_a_body_that_does_not_arrive_in_time_is_408(start_server: StartServer) -> None:
    api = await start_server(body_timeout=0.3)
    a = api.world.account("A")
    reader, writer = await _open(api.server.address)
    writer.write(f"POST /jwt/v1/accounts/{a.pub} HTTP/1.1\r\nHost: accountd\r\nContent-Length: {len(a.jwt)}\r\n"
                 f"\r\n{a.jwt[:20]}".encode())  # fmt: skip
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
    assert head.startswith(b"HTTP/1.1 408")
    assert b"not received within 0.3 s" in await asyncio.wait_for(reader.read(), 10)  # and closed
    writer.close()
    async with api.http.get(api.account_url(a.pub)) as r:
        assert r.status == 404


async def test_connections_over_the_cap_are_refused_and_open_ones_keep_working(start_server: StartServer) -> None:
    api = await start_server(max_connections=2)
    held = [await _open(api.server.address) for _ in range(2)]
    for reader, writer in held:  # both admitted: each has had an answer
        assert (await _healthz(reader, writer)).startswith(b"HTTP/1.1 200")
    reader, writer = await _open(api.server.address)
    refused = await asyncio.wait_for(reader.read(), 10)  # answered and closed at once
    assert refused.startswith(b"HTTP/1.1 503") and b"too many open connections (at most 2)" in refused
    writer.close()
    for reader, writer in held:
        assert (await _healthz(reader, writer)).startswith(b"HTTP/1.1 200")
    held[0][1].close()
    await held[0][1].wait_closed()
    assert await asyncio.wait_for(held[0][0].read(), 10) == b""
    # Once one closes, a new client gets in (accountd notices the close when the loop runs it).
    for _ in range(100):
        reader, writer = await _open(api.server.address)
        head = await _healthz(reader, writer)
        writer.close()
        if head.startswith(b"HTTP/1.1 200"):
            break
    else:
        raise AssertionError("no connection admitted after one closed")
    held[1][1].close()
