"""Token rotation on SIGHUP, client certificates, the admin listener, and browser sessions."""

from __future__ import annotations

import asyncio
import signal
import ssl
import sys
from pathlib import Path

import aiohttp
import pytest
import trustme

from accountd.natsserver import free_port
from serving import Running, StartServer
from world import World

OLD, NEW = "old-token-0123", "new-token-4567"


async def _line_with(stream: asyncio.StreamReader, text: str, seen: list[str]) -> str:
    while True:
        line = (await asyncio.wait_for(stream.readline(), 30)).decode()
        assert line, "accountd exited:\n" + "".join(seen)
        seen.append(line)
        if text in line:
            return line


async def test_sighup_rotates_tokens_without_a_restart(tmp_path: Path, world: World) -> None:
    files = world.write(tmp_path / "files")
    tokens = tmp_path / "tokens"
    tokens.write_text(f"{OLD}\n")
    port = free_port()
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "accountd", "serve", "--listen", f"127.0.0.1:{port}", "--store", "memory:",
        "--operator", str(files["operator"]), "--admin-token-file", str(tokens), stderr=asyncio.subprocess.PIPE)
    assert proc.stderr is not None
    seen: list[str] = []
    url = f"http://127.0.0.1:{port}/-/stats"
    try:
        assert "1 bearer token(s)" in await _line_with(proc.stderr, "admin routes need", seen)
        async with aiohttp.ClientSession() as http:
            async with http.get(url, headers={"Authorization": f"Bearer {OLD}"}) as r:
                assert r.status == 200
            tokens.write_text(f"# rotating\n{OLD}\n{NEW}\n")  # both valid while clients move over
            proc.send_signal(signal.SIGHUP)
            assert "loaded 2 admin token(s)" in await _line_with(proc.stderr, "SIGHUP", seen)
            for token in (OLD, NEW):
                async with http.get(url, headers={"Authorization": f"Bearer {token}"}) as r:
                    assert r.status == 200
            tokens.write_text(f"{NEW}\n")
            proc.send_signal(signal.SIGHUP)
            assert "loaded 1 admin token(s)" in await _line_with(proc.stderr, "SIGHUP", seen)
            async with http.get(url, headers={"Authorization": f"Bearer {OLD}"}) as r:
                assert r.status == 401
            async with http.get(url, headers={"Authorization": f"Bearer {NEW}"}) as r:
                assert r.status == 200
            tokens.write_text("")  # a broken file keeps the tokens in use
            proc.send_signal(signal.SIGHUP)
            assert "stay in use" in await _line_with(proc.stderr, "SIGHUP", seen)
            async with http.get(url, headers={"Authorization": f"Bearer {NEW}"}) as r:
                assert r.status == 200
    finally:
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(proc.wait(), 15) == 0
    assert OLD not in "".join(seen) and NEW not in "".join(seen)  # never a token in the log


@pytest.fixture
def ca() -> trustme.CA:
    return trustme.CA()


async def test_a_verified_client_certificate_opens_admin_routes(start_server: StartServer, tmp_path: Path,
                                                                ca: trustme.CA) -> None:
    server_cert = ca.issue_cert("127.0.0.1")
    server_cert.private_key_pem.write_to_path(str(tmp_path / "key.pem"))
    server_cert.cert_chain_pems[0].write_to_path(str(tmp_path / "cert.pem"))
    ca.cert_pem.write_to_path(str(tmp_path / "ca.pem"))
    api: Running = await start_server(tls_cert=str(tmp_path / "cert.pem"), tls_key=str(tmp_path / "key.pem"),
                                      tls_client_ca=str(tmp_path / "ca.pem"))  # fmt: skip
    host, port = api.server.address
    base = f"https://{host}:{port}"

    anonymous = ssl.create_default_context()
    ca.configure_trust(anonymous)
    with_cert = ssl.create_default_context()
    ca.configure_trust(with_cert)
    ca.issue_cert("admin@example.com").configure_cert(with_cert)
    stranger = ssl.create_default_context()
    ca.configure_trust(stranger)
    trustme.CA().issue_cert("admin@example.com").configure_cert(stranger)

    async with aiohttp.ClientSession() as http:
        async with http.get(base + "/jwt/v1/operator", ssl=anonymous) as r:
            assert r.status == 200  # a nats-server without a certificate still gets the public routes
        async with http.get(base + "/-/config", ssl=anonymous) as r:
            assert r.status == 401
            assert "client certificate" in (await r.json())["error"]["message"]
        async with http.get(base + "/-/config", ssl=with_cert) as r:
            assert r.status == 200
        with pytest.raises(aiohttp.ClientError):  # a certificate the CA did not sign fails the handshake
            async with http.get(base + "/-/config", ssl=stranger) as r:
                await r.read()


async def test_admin_listen_serves_the_admin_class_apart(start_server: StartServer, tmp_path: Path) -> None:
    tokens = tmp_path / "tokens"
    tokens.write_text(f"{NEW}\n")
    api = await start_server(admin_listen=f"127.0.0.1:{free_port()}", admin_token_file=str(tokens))
    assert api.server.admin_address is not None
    admin = "http://{}:{}".format(*api.server.admin_address)
    a = api.world.account("A")
    assert (await api.post(a.pub, a.jwt)).status == 200
    auth = {"Authorization": f"Bearer {NEW}"}
    for path in ("/-/stats", "/-/config", "/metrics", "/jwt/v1/pack", "/jwt/v1/accounts?list=true"):
        async with api.http.get(api.url + path, headers=auth) as r:
            assert r.status == 404, path
        async with api.http.get(admin + path, headers=auth) as r:
            assert r.status == 200, path
        async with api.http.get(admin + path) as r:
            assert r.status == 401, path
    for path in ("/healthz", "/jwt/v1/operator", f"/jwt/v1/accounts/{a.pub}"):
        async with api.http.get(api.url + path) as r:
            assert r.status == 200, path
        async with api.http.get(admin + path, headers=auth) as r:
            assert r.status == 404, path


async def test_sign_in_sets_a_strict_http_only_cookie_that_authorises_gets_only(
    start_server: StartServer, tmp_path: Path
) -> None:
    tokens = tmp_path / "tokens"
    tokens.write_text(f"{NEW}\n")
    api = await start_server(admin_token_file=str(tokens))
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as browser:
        async with browser.get(api.url + "/-/stats", headers={"Accept": "text/html"}) as r:
            assert r.status == 401  # a browser gets the sign-in form
            assert 'action="/-/signin"' in await r.text() and "type=\"password\"" in await r.text()
        async with browser.post(api.url + "/-/signin", data={"token": "wrong", "next": "/-/stats"},
                                headers={"Accept": "application/json"}, allow_redirects=False) as r:
            assert r.status == 401
        async with browser.post(api.url + "/-/signin", data={"token": NEW, "next": "//evil.example/"},
                                allow_redirects=False) as r:
            assert r.status == 303
            assert r.headers["Location"] == "/-/stats"  # never a way off-site
            cookie = r.headers["Set-Cookie"]
            for attribute in ("HttpOnly", "SameSite=Strict", "Path=/"):
                assert attribute in cookie
            assert "Secure" not in cookie  # plain HTTP here
            assert NEW not in cookie and NEW not in r.headers["Location"]
        async with browser.get(api.url + "/-/stats") as r:
            assert r.status == 200
        async with browser.post(api.url + "/-/stats") as r:
            assert r.status == 401
            assert "GET and HEAD only" in (await r.json())["error"]["message"]
        async with browser.get(api.url + "/-/stats", headers={"Sec-Fetch-Site": "same-site"}) as r:
            assert r.status == 403
        async with browser.post(api.url + "/-/signout", allow_redirects=False) as r:
            assert r.status == 303
        async with browser.get(api.url + "/-/stats") as r:
            assert r.status == 401


async def test_sign_in_from_another_origin_is_refused(start_server: StartServer, tmp_path: Path) -> None:
    tokens = tmp_path / "tokens"
    tokens.write_text(f"{NEW}\n")
    api = await start_server(admin_token_file=str(tokens))
    async with api.http.post(api.url + "/-/signin", data={"token": NEW},
                             headers={"Origin": "https://evil.example"}, allow_redirects=False) as r:
        assert r.status == 403
        assert "Set-Cookie" not in r.headers
