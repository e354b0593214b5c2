"""The exact HTTP requests stock nsc and nats-server send (SPEC §5.2, §8.1) get what they expect."""

from __future__ import annotations

import asyncio
from pathlib import Path

from accountd.claims import Role, create, decode_account, encode, new_account
from serving import Running, StartServer
from world import World

GO_HEADERS = {"User-Agent": "Go-http-client/1.1", "Accept-Encoding": "gzip"}


async def _raw(api: Running, request: bytes) -> tuple[str, dict[str, str], bytes]:
    """Send bytes exactly as a Go client would and read the whole response."""
    host, port = api.server.address
    reader, writer = await asyncio.open_connection(host, port)
    writer.write(request)
    await writer.drain()
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    headers = {k.lower(): v for k, _, v in (line.partition(": ") for line in lines[1:] if line)}
    body = await reader.readexactly(int(headers.get("content-length", "0")))
    writer.close()
    return lines[0], headers, body


async def test_nsc_push_request_gets_200_with_empty_body(api: Running) -> None:
    a = api.world.account("A")
    host, port = api.server.address
    request = (
        f"POST /jwt/v1/accounts/{a.pub} HTTP/1.1\r\nHost: {host}:{port}\r\nUser-Agent: Go-http-client/1.1\r\n"
        f"Content-Length: {len(a.jwt)}\r\nContent-Type: application/jwt\r\nAccept-Encoding: gzip\r\n\r\n{a.jwt}"
    ).encode()
    status, _, body = await _raw(api, request)
    assert status == "HTTP/1.1 200 OK"
    assert body == b""  # nsc prints any non-empty body as "> …" lines


async def test_nats_server_url_resolver_fetch_gets_raw_jwt(api: Running) -> None:
    a = api.world.account("A")
    await api.post(a.pub, a.jwt)
    host, port = api.server.address
    request = (f"GET /jwt/v1/accounts/{a.pub} HTTP/1.1\r\nHost: {host}:{port}\r\n"
               "User-Agent: Go-http-client/1.1\r\nAccept-Encoding: gzip\r\n\r\n").encode()
    status, headers, body = await _raw(api, request)
    assert status == "HTTP/1.1 200 OK"
    assert body.decode() == a.jwt
    assert "content-encoding" not in headers


async def test_nats_server_probe_gets_200(api: Running) -> None:
    host, port = api.server.address
    request = (f"GET /jwt/v1/accounts/ HTTP/1.1\r\nHost: {host}:{port}\r\n"
               "User-Agent: Go-http-client/1.1\r\nAccept-Encoding: gzip\r\n\r\n").encode()
    status, _, _ = await _raw(api, request)
    assert status == "HTTP/1.1 200 OK"


async def test_nsc_pull_all_finds_operator_under_v1_after_v2_404(api: Running) -> None:
    async with api.http.get(api.url + "/jwt/v2/operator", headers=GO_HEADERS) as r:
        assert r.status == 404
    async with api.http.get(api.url + "/jwt/v1/operator", headers=GO_HEADERS) as r:
        assert r.status == 200
        assert await r.text() == api.world.operator_jwt


async def test_nsc_pull_gets_pushed_account(api: Running) -> None:
    a = api.world.account("A")
    async with api.http.post(api.account_url(a.pub), data=a.jwt,
                             headers={**GO_HEADERS, "Content-Type": "application/jwt"}) as r:
        assert r.status == 200
    async with api.http.get(api.account_url(a.pub), headers=GO_HEADERS) as r:
        assert r.status == 200
        assert decode_account(await r.text()).sub == a.pub


async def test_nsc_managed_flow_post_then_get_returns_operator_signed(start_server: StartServer,
                                                                       tmp_path: Path) -> None:
    world = World()
    files = world.write(tmp_path / "managed")
    api = await start_server(world, signing_key=str(files["signing_key"]), allow_new_accounts=True)
    key = create(Role.ACCOUNT)
    self_signed = encode(new_account(key.public_key, "team"), key)
    async with api.http.post(api.account_url(key.public_key), data=self_signed,
                             headers={**GO_HEADERS, "Content-Type": "application/jwt"}) as r:
        assert r.status == 200
        assert await r.read() == b""
    async with api.http.get(api.account_url(key.public_key), headers=GO_HEADERS) as r:
        assert r.status == 200
        claims = decode_account(await r.text())
    assert claims.iss == world.signing_key.public_key
    assert claims.name == "team"


async def test_nsc_push_error_is_plain_text_nsc_can_print(api: Running) -> None:
    foreign = World().account("A")
    async with api.http.post(api.account_url(foreign.pub), data=foreign.jwt, headers=GO_HEADERS) as r:
        assert r.status == 400
        assert r.content_type == "text/plain"
        assert await r.text() == "untrusted issuer in request\n"
