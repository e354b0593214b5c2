"""Admin routes need a token (or loopback when nothing is configured); public routes do not."""

from __future__ import annotations

import asyncio
import socket
import subprocess
from pathlib import Path

import aiohttp
import nats
import pytest

from accountd.config import ConfigError, Settings
from accountd.errors import Forbidden, Unauthorized
from accountd.natsserver import NatsServer, free_port
from accountd.server import Server
from accountd.web.access import Access, classify
from accountd.web.admin import AdminAuth, Credentials, Via
from harness import NatsFactory, operator_mode_config
from serving import Running, StartServer
from world import World

TOKEN = "s3cret-admin-token"
ADMIN_GETS = ["/-/config", "/-/stats", "/-/version", "/metrics", "/jwt/v1/accounts?list=true",
              "/jwt/v1/pack"]  # fmt: skip


def bearer(token: str = TOKEN) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def token_file(tmp_path: Path) -> Path:
    path = tmp_path / "admin-tokens"
    path.write_text(f"# admin tokens, one per line\n\n{TOKEN}\n")
    return path


@pytest.fixture
async def guarded(start_server: StartServer, token_file: Path) -> Running:
    return await start_server(admin_token_file=str(token_file))


def non_loopback_address() -> str | None:
    """An address of this machine that is not loopback (None when it has none)."""
    candidates = [socket.gethostbyname(socket.gethostname())]
    try:
        out = subprocess.run(["ip", "-4", "-o", "addr"], capture_output=True, text=True, check=False).stdout
    except OSError:
        out = ""
    candidates += [line.split()[3].split("/")[0] for line in out.splitlines() if len(line.split()) > 3]
    return next((a for a in candidates if not a.startswith("127.")), None)


async def test_admin_routes_answer_401_without_a_token_and_200_with_one(guarded: Running) -> None:
    a = guarded.world.account("A")
    assert (await guarded.post(a.pub, a.jwt)).status == 200
    for path in [*ADMIN_GETS, f"/jwt/v1/accounts/{a.pub}?notify=true"]:
        async with guarded.http.get(guarded.url + path) as r:
            assert r.status == 401, path
            assert r.headers["WWW-Authenticate"] == 'Bearer realm="accountd"'
            assert "Authorization: Bearer" in await r.text()
        async with guarded.http.get(guarded.url + path, headers=bearer()) as r:
            assert r.status == 200, path


async def test_a_wrong_or_malformed_token_is_401_with_its_reason(guarded: Running) -> None:
    for headers, reason in (({"Authorization": "Bearer nope"}, "not one of the admin tokens"),
                            ({"Authorization": "Basic dXNlcjpwdw=="}, "malformed Authorization header"),
                            ({"Authorization": "Bearer"}, "malformed Authorization header")):  # fmt: skip
        async with guarded.http.get(guarded.url + "/-/stats", headers=headers) as r:
            assert r.status == 401
            assert r.headers["WWW-Authenticate"] == 'Bearer realm="accountd"'
            assert reason in (await r.json())["error"]["message"]


async def test_public_routes_need_no_token_with_admin_auth_on(guarded: Running) -> None:
    w = guarded.world
    a = w.account("A")
    assert (await guarded.post(a.pub, a.jwt)).status == 200
    for path in ("/healthz", "/-/healthz", "/jwt/v1/help", "/jwt/v1/operator", "/jwt/v1/accounts/",
                 "/jwt/v1/accounts", f"/jwt/v1/accounts/{a.pub}", f"/jwt/v1/accounts/{a.pub}?text=true",
                 f"/jwt/v1/accounts/{a.pub}?decode=true", f"/jwt/v1/accounts/{a.pub}?check=true"):
        async with guarded.http.get(guarded.url + path) as r:
            assert r.status == 200, path
            assert "Cache-Control" not in r.headers or r.headers["Cache-Control"] != "no-store"
    async with guarded.http.head(guarded.account_url(a.pub)) as r:
        assert r.status == 200
    async with guarded.http.delete(guarded.account_url(a.pub), data=w.delete_token(a.pub)) as r:
        assert r.status == 200
    async with guarded.http.get(guarded.account_url(a.pub) + "?jti=x") as r:
        assert r.status == 400


async def test_admin_answers_are_not_cached_sniffed_or_framed(guarded: Running) -> None:
    async with guarded.http.get(guarded.url + "/-/stats", headers=bearer()) as r:
        assert r.headers["Cache-Control"] == "no-store"
        assert r.headers["X-Content-Type-Options"] == "nosniff"
        assert r.headers["X-Frame-Options"] == "DENY"
        assert "frame-ancestors 'none'" in r.headers["Content-Security-Policy"]


async def test_without_admin_auth_loopback_clients_are_served(api: Running) -> None:
    for path in ADMIN_GETS:
        async with api.http.get(api.url + path) as r:
            assert r.status == 200, path


async def test_without_admin_auth_a_non_loopback_client_gets_403(start_server: StartServer) -> None:
    address = non_loopback_address()
    if address is None:
        pytest.skip("this machine has no non-loopback address (the decision is checked directly below)")
    api = await start_server(listen=f"0.0.0.0:{free_port()}")
    port = api.server.address[1]
    async with api.http.get(f"http://{address}:{port}/-/config") as r:
        assert r.status == 403
        assert "loopback clients only" in (await r.json())["error"]["message"]
    async with api.http.get(f"http://{address}:{port}/jwt/v1/operator") as r:
        assert r.status == 200  # public routes answer everyone
    async with api.http.get(f"http://127.0.0.1:{port}/-/config") as r:
        assert r.status == 200


async def test_without_admin_auth_a_non_loopback_host_name_is_refused(api: Running) -> None:
    # A DNS-rebinding page reaches 127.0.0.1 under its own name.
    async with api.http.get(api.url + "/-/config", headers={"Host": "attacker.example:9090"}) as r:
        assert r.status == 403
        assert "loopback host only" in (await r.json())["error"]["message"]


def test_the_decision_without_configuration_is_loopback_only() -> None:
    auth = AdminAuth()
    assert auth.decide(Credentials(peer="127.0.0.1", host="127.0.0.1")) is Via.LOOPBACK
    assert auth.decide(Credentials(peer="::1", host="localhost")) is Via.LOOPBACK
    assert auth.decide(Credentials(peer="::ffff:127.0.0.2")) is Via.LOOPBACK
    for peer in ("192.0.2.7", "10.1.2.3", "::ffff:10.0.0.1", "fe80::1"):
        with pytest.raises(Forbidden, match="loopback clients only"):
            auth.decide(Credentials(peer=peer, host="127.0.0.1"))
    with pytest.raises(Forbidden, match="another origin"):
        auth.decide(Credentials(peer="127.0.0.1", foreign=True))


def test_the_decision_with_tokens_wants_one_even_on_loopback(token_file: Path) -> None:
    auth = AdminAuth(str(token_file))
    assert auth.load() == 1
    with pytest.raises(Unauthorized, match="Authorization: Bearer"):
        auth.decide(Credentials(peer="127.0.0.1"))
    assert auth.decide(Credentials(peer="192.0.2.7", bearer=TOKEN)) is Via.TOKEN
    assert auth.decide(Credentials(peer="192.0.2.7", bearer=TOKEN, foreign=True)) is Via.TOKEN


def test_the_route_table_classifies_each_request_once() -> None:
    assert classify("GET", "/jwt/v1/accounts/", {}) is Access.PUBLIC
    assert classify("GET", "/jwt/v1/accounts", {"list": "true"}) is Access.ADMIN
    assert classify("GET", "/jwt/v1/accounts", {"list": "false"}) is Access.PUBLIC
    assert classify("GET", "/jwt/v1/accounts/AB", {"decode": "true"}) is Access.PUBLIC
    assert classify("HEAD", "/jwt/v1/accounts/AB", {"notify": "1"}) is Access.ADMIN
    assert classify("POST", "/jwt/v1/accounts/AB", {"notify": "true"}) is Access.PUBLIC
    assert classify("DELETE", "/jwt/v1/accounts/AB", {}) is Access.PUBLIC
    assert classify("GET", "/-/healthz", {}) is Access.PUBLIC
    assert classify("POST", "/-/signin", {}) is Access.SIGNIN
    for path in ("/", "/-/status", "/-/monitor/events", "/-/version", "/metrics", "/jwt/v1/pack", "/unknown"):
        assert classify("GET", path, {}) is Access.ADMIN, path


@pytest.mark.parametrize("content", ["", "# only a comment\n\n"])
async def test_an_empty_token_file_stops_the_start(tmp_path: Path, world: World, content: str) -> None:
    files = world.write(tmp_path / "w")
    path = tmp_path / "tokens"
    path.write_text(content)
    with pytest.raises(ConfigError, match="holds no token"):
        Server(Settings(store="memory:", operator=str(files["operator"]), admin_token_file=str(path)))
    with pytest.raises(ConfigError, match="cannot read admin token file"):
        Server(Settings(store="memory:", operator=str(files["operator"]), admin_token_file=str(tmp_path / "none")))


async def test_a_url_resolver_nats_server_and_nsc_requests_work_with_admin_auth_on(
    tmp_path: Path, nats_factory: NatsFactory, guarded: Running
) -> None:
    w = guarded.world
    files = w.write(tmp_path / "files")
    a = w.account("A")
    host, port = guarded.server.address
    for acct in (w.sys, a):  # nsc push, byte for byte as Go's client sends it
        status, _ = await raw(guarded, (
            f"POST /jwt/v1/accounts/{acct.pub} HTTP/1.1\r\nHost: {host}:{port}\r\nUser-Agent: Go-http-client/1.1\r\n"
            f"Content-Length: {len(acct.jwt)}\r\nContent-Type: application/jwt\r\nAccept-Encoding: gzip\r\n\r\n"
            f"{acct.jwt}").encode())  # fmt: skip
        assert status == "HTTP/1.1 200 OK"
    for path in ("/jwt/v1/operator", f"/jwt/v1/accounts/{a.pub}", "/jwt/v1/accounts/"):  # nsc pull, the probe
        status, _ = await raw(guarded, (f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\n"
                                        "User-Agent: Go-http-client/1.1\r\nAccept-Encoding: gzip\r\n\r\n").encode())
        assert status == "HTTP/1.1 200 OK", path
    config = operator_mode_config(files["operator"], w.sys.pub, f"URL({guarded.url}/jwt/v1/accounts/)")
    server: NatsServer = await asyncio.to_thread(nats_factory, config)
    creds = tmp_path / "a.creds"
    w.user_creds(a, "u", creds)
    nc = await nats.connect(server.url, user_credentials=str(creds), allow_reconnect=False, connect_timeout=5)
    try:
        sub = await nc.subscribe("sec.ping")
        await nc.publish("sec.ping", b"hi")
        assert (await sub.next_msg(timeout=5)).data == b"hi"
    finally:
        await nc.close()


async def raw(api: Running, request: bytes) -> tuple[str, bytes]:
    host, port = api.server.address
    reader, writer = await asyncio.open_connection(host, port)
    writer.write(request)
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    headers = {k.lower(): v for k, _, v in (line.partition(": ") for line in lines[1:] if line)}
    body = await reader.readexactly(int(headers.get("content-length", "0")))
    writer.close()
    return lines[0], body


async def test_a_session_ends_when_its_token_leaves_the_file(guarded: Running, token_file: Path) -> None:
    jar = aiohttp.CookieJar(unsafe=True)
    async with aiohttp.ClientSession(cookie_jar=jar) as browser:
        async with browser.post(guarded.url + "/-/signin", data={"token": TOKEN, "next": "/-/stats"},
                                allow_redirects=False) as r:
            assert r.status == 303
        async with browser.get(guarded.url + "/-/stats") as r:
            assert r.status == 200
        token_file.write_text("another-token\n")
        guarded.server.reload_tokens()
        async with browser.get(guarded.url + "/-/stats") as r:
            assert r.status == 401
            assert "sign in again" in (await r.json())["error"]["message"]
