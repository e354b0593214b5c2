"""``/jwt/v1/accounts``: every status code of SPEC §6.3, §6.4 and §6.6, through a real socket."""

from __future__ import annotations

import json
import time

from accountd.claims import Role, create, decode_account, encode, new_account, new_user
from serving import Running
from world import World


async def test_probe_answers_200_with_empty_body_and_no_cache_headers(api: Running) -> None:
    for path in ("/jwt/v1/accounts", "/jwt/v1/accounts/"):
        async with api.http.get(api.url + path) as r:
            assert r.status == 200
            assert await r.read() == b""
            assert r.headers["Cache-Control"] == "no-cache, no-store, must-revalidate"
            assert r.headers["Pragma"] == "no-cache"
            assert r.headers["Expires"] == "0"


async def test_get_of_missing_account_is_404_never_500(api: Running) -> None:
    missing = create(Role.ACCOUNT).public_key
    async with api.http.get(api.account_url(missing)) as r:
        assert r.status == 404
        assert await r.text() == "no matching account JWT\n"


async def test_get_with_invalid_key_in_path_is_400(api: Running) -> None:
    good = create(Role.ACCOUNT).public_key
    corrupted = good[:10] + ("B" if good[10] != "B" else "C") + good[11:]
    for bad in ("not-a-key", create(Role.USER).public_key, corrupted, good[:-1], "..%2F..%2Fetc%2Fpasswd"):
        for query in ("", "?check=true"):  # a corrupted checksum is found out after the lookup missed
            async with api.http.get(api.account_url(bad) + query) as r:
                assert r.status == 400, bad
                assert await r.text() == "invalid account public key\n"


async def test_post_stores_and_get_returns_jwt_with_etag(api: Running) -> None:
    a = api.world.account("A")
    r = await api.post(a.pub, a.jwt, headers={"Content-Type": "application/jwt"})
    assert r.status == 200
    async with api.http.get(api.account_url(a.pub)) as r:
        assert r.status == 200
        assert await r.text() == a.jwt
        assert r.headers["Content-Type"] == "application/jwt"
        assert r.headers["ETag"] == f'"{a.claims.jti}"'
        assert r.headers["Cache-Control"] == "no-cache"


async def test_head_returns_headers_without_body(api: Running) -> None:
    a = api.world.account("A")
    await api.post(a.pub, a.jwt)
    async with api.http.head(api.account_url(a.pub)) as r:
        assert r.status == 200
        assert r.headers["ETag"] == f'"{a.claims.jti}"'
        assert await r.read() == b""


async def test_if_none_match_is_parsed_as_a_list(api: Running) -> None:
    a = api.world.account("A")
    await api.post(a.pub, a.jwt)
    etag = f'"{a.claims.jti}"'
    for header in (etag, f'"other", {etag}', f"W/{etag}", "*"):
        async with api.http.get(api.account_url(a.pub), headers={"If-None-Match": header}) as r:
            assert r.status == 304, header
            assert r.headers["ETag"] == etag
    async with api.http.get(api.account_url(a.pub), headers={"If-None-Match": f'"x{a.claims.jti}"'}) as r:
        assert r.status == 200  # a substring is not a match (the original matched substrings)


async def test_text_flag_returns_plain_text_with_etag(api: Running) -> None:
    a = api.world.account("A")
    await api.post(a.pub, a.jwt)
    async with api.http.get(api.account_url(a.pub) + "?text=true") as r:
        assert r.status == 200
        assert r.content_type == "text/plain"
        assert r.headers["ETag"] == f'"{a.claims.jti}"'
        assert await r.text() == a.jwt


async def test_decode_flag_returns_valid_json(api: Running) -> None:
    a = api.world.account("A")
    await api.post(a.pub, a.jwt)
    for flag in ("true", "1", "YES"):
        async with api.http.get(api.account_url(a.pub) + f"?decode={flag}") as r:
            doc = json.loads(await r.text())
            assert doc["header"] == {"typ": "JWT", "alg": "ed25519-nkey"}
            assert doc["claims"]["sub"] == a.pub
            assert doc["signature"] == a.jwt.split(".")[2]


async def test_check_flag_hides_expired_account_but_plain_get_serves_it(api: Running) -> None:
    a = api.world.account("A")
    claims = decode_account(a.jwt)
    claims.exp = int(time.time()) + 1
    token = encode(claims, api.world.operator, now=int(time.time()) - 10)
    await api.post(a.pub, token)
    api.server.service.clock = lambda: time.time() + 60  # the account is now expired
    async with api.http.get(api.account_url(a.pub) + "?check=true") as r:
        assert r.status == 404
    async with api.http.get(api.account_url(a.pub)) as r:
        assert r.status == 200


async def test_lookup_by_jti_is_a_400_with_its_reason(api: Running) -> None:
    a = api.world.account("A")
    async with api.http.get(api.account_url(a.pub) + "?jti=X") as r:
        assert r.status == 400
        assert await r.text() == "lookup by jti is not supported: GET the account by its public key\n"


async def test_post_garbage_is_bad_jwt(api: Running) -> None:
    pub = create(Role.ACCOUNT).public_key
    for body in (b"garbage", b"", b"a.b.c", b"\xff\xfe", b"eyJ0eXAiOiJKV1QiLCJhbGciOiJlZDI1NTE5LW5rZXkifQ.e30"):
        r = await api.post(pub, body)
        assert r.status == 400, body
    async with api.http.post(api.account_url(pub), data=b"garbage") as r:
        assert await r.text() == "bad JWT in request\n"


async def test_post_truncated_jwt_is_bad_jwt_and_stores_nothing(api: Running) -> None:
    a = api.world.account("A")
    r = await api.post(a.pub, a.jwt[:-10])
    assert r.status == 400
    async with api.http.get(api.account_url(a.pub)) as r:
        assert r.status == 404


async def test_post_to_another_key_is_pub_keys_dont_match(api: Running) -> None:
    a, b = api.world.account("A"), api.world.account("B")
    async with api.http.post(api.account_url(b.pub), data=a.jwt) as r:
        assert r.status == 400
        assert await r.text() == "pub keys don't match\n"


async def test_post_of_user_jwt_is_wrong_claim_type(api: Running) -> None:
    a = api.world.account("A")
    user = create(Role.USER)
    token = encode(new_user(user.public_key, "u"), a.key)
    async with api.http.post(api.account_url(a.pub), data=token, headers={"Accept": "application/json"}) as r:
        assert r.status == 400
        doc = await r.json()
        assert doc == {"error": {"status": 400, "code": "wrong_type", "message": "bad JWT in request"}}


async def test_post_self_signed_without_signing_service(api: Running) -> None:
    key = create(Role.ACCOUNT)
    token = encode(new_account(key.public_key, "self"), key)
    async with api.http.post(api.account_url(key.public_key), data=token) as r:
        assert r.status == 400
        assert await r.text() == "Signing service not enabled\n"


async def test_post_signed_by_another_operator_is_untrusted(api: Running) -> None:
    stranger = World()
    a = stranger.account("A")
    async with api.http.post(api.account_url(a.pub), data=a.jwt) as r:
        assert r.status == 400
        assert await r.text() == "untrusted issuer in request\n"


async def test_post_identity_signed_to_strict_operator_is_untrusted(start_server) -> None:  # type: ignore[no-untyped-def]
    strict = World(strict=True)
    api = await start_server(strict)
    a = strict.account("A", signer=strict.operator)
    async with api.http.post(api.account_url(a.pub), data=a.jwt) as r:
        assert r.status == 400
        assert await r.text() == "untrusted issuer in request\n"
    ok = strict.account("B")
    assert (await api.post(ok.pub, ok.jwt)).status == 200


async def test_post_expired_account_lists_validation_issues(api: Running) -> None:
    a = api.world.account("A")
    claims = decode_account(a.jwt)
    claims.exp = int(time.time()) - 100
    token = encode(claims, api.world.operator)
    async with api.http.post(api.account_url(a.pub), data=token) as r:
        assert r.status == 400
        text = await r.text()
    assert text.startswith("The server was unable to update your account JWT. One more more validation issues")
    assert "\n\t - claim is expired" in text
    assert text.endswith("\n\n")


async def test_post_older_iat_is_409_and_keeps_stored_jwt(api: Running) -> None:
    now = int(time.time())
    a = api.world.account("A", iat=now)
    older = api.world.reissue(a, iat=now - 100, conn=1)
    assert (await api.post(a.pub, a.jwt)).status == 200
    async with api.http.post(api.account_url(a.pub), data=older.jwt) as r:
        assert r.status == 409
        assert await r.text() == f"stale JWT: iat {now - 100} is older than stored iat {now}\n"
    async with api.http.get(api.account_url(a.pub)) as r:
        assert await r.text() == a.jwt
    assert api.server.service.counters["stale"] == 1


async def test_post_identical_jwt_is_200_without_write(api: Running) -> None:
    a = api.world.account("A")
    await api.post(a.pub, a.jwt)
    writes = api.server.service.counters["puts"]
    assert (await api.post(a.pub, a.jwt + "\n")).status == 200
    assert api.server.service.counters["puts"] == writes
    assert api.server.service.counters["unchanged"] == 1


async def test_post_equal_iat_other_jti_is_accepted(api: Running) -> None:
    now = int(time.time())
    a = api.world.account("A", iat=now)
    other = api.world.reissue(a, iat=now, conn=7)
    await api.post(a.pub, a.jwt)
    assert (await api.post(a.pub, other.jwt)).status == 200
    async with api.http.get(api.account_url(a.pub)) as r:
        assert await r.text() == other.jwt


async def test_post_body_over_1mib_is_413(api: Running) -> None:
    pub = create(Role.ACCOUNT).public_key
    async with api.http.post(api.account_url(pub), data=b"x" * ((1 << 20) + 1)) as r:
        assert r.status == 413
        assert await r.text() == "request body exceeds 1048576 bytes\n"


async def test_chunked_body_over_1mib_is_413(api: Running) -> None:
    pub = create(Role.ACCOUNT).public_key

    async def chunks():  # type: ignore[no-untyped-def]
        for _ in range(20):
            yield b"x" * 65536

    async with api.http.post(api.account_url(pub), data=chunks()) as r:
        assert r.status == 413


async def test_post_without_key_is_405(api: Running) -> None:
    async with api.http.post(api.url + "/jwt/v1/accounts", data=b"x") as r:
        assert r.status == 405
        assert "GET" in r.headers["Allow"]


async def test_unknown_path_is_404_page_not_found(api: Running) -> None:
    async with api.http.get(api.url + "/jwt/v1/nothing") as r:
        assert r.status == 404
        assert await r.text() == "404 page not found\n"


async def test_cors_echoes_origin(api: Running) -> None:
    async with api.http.get(api.url + "/jwt/v1/accounts/", headers={"Origin": "https://ui.example"}) as r:
        assert r.headers["Access-Control-Allow-Origin"] == "https://ui.example"
    async with api.http.options(api.account_url(create(Role.ACCOUNT).public_key), headers={
        "Origin": "https://ui.example", "Access-Control-Request-Method": "POST"}) as r:
        assert r.status == 204
        assert "POST" in r.headers["Access-Control-Allow-Methods"]


async def test_list_pages_through_accounts_sorted_by_key(api: Running) -> None:
    accounts = [api.world.account(f"A{i}") for i in range(5)]
    for a in accounts:
        await api.post(a.pub, a.jwt)
    keys = sorted(a.pub for a in accounts)
    seen: list[str] = []
    url = api.url + "/jwt/v1/accounts?list=true&limit=2"
    next_key = None
    while True:
        async with api.http.get(url + (f"&after={next_key}" if next_key else "")) as r:
            doc = await r.json()
        seen += [e["account"] for e in doc["accounts"]]
        assert all(set(e) == {"account", "name", "iss", "iat", "exp", "jti"} for e in doc["accounts"])
        next_key = doc["next"]
        if next_key is None:
            break
    assert seen == keys


async def test_list_with_bad_limit_is_400(api: Running) -> None:
    for q in ("limit=0", "limit=1001", "limit=x", "after=nope"):
        async with api.http.get(api.url + "/jwt/v1/accounts?list=true&" + q) as r:
            assert r.status == 400, q


async def test_operator_endpoint_serves_operator_jwt(api: Running) -> None:
    async with api.http.get(api.url + "/jwt/v1/operator") as r:
        assert r.status == 200
        assert r.content_type == "application/jwt"
        assert await r.text() == api.world.operator_jwt


async def test_help_lists_the_endpoints(api: Running) -> None:
    async with api.http.get(api.url + "/jwt/v1/help") as r:
        text = await r.text()
    assert r.status == 200
    for path in ("/jwt/v1/accounts/<pub>", "/jwt/v1/pack", "/jwt/v1/operator", "/healthz"):
        assert path in text


async def test_json_errors_with_accept_header(api: Running) -> None:
    async with api.http.get(api.account_url("bad"), headers={"Accept": "application/json"}) as r:
        assert r.status == 400
        assert await r.json() == {"error": {"status": 400, "code": "invalid_key",
                                            "message": "invalid account public key"}}


async def test_healthz_is_200_when_store_is_usable(api: Running) -> None:
    async with api.http.get(api.url + "/healthz") as r:
        assert r.status == 200
    async with api.http.get(api.url + "/-/healthz") as r:
        assert await r.json() == {"status": "ok"}


async def test_introspection_reports_version_config_and_stats(api: Running) -> None:
    async with api.http.get(api.url + "/-/version") as r:
        assert "version" in await r.json()
    async with api.http.get(api.url + "/-/config") as r:
        config = await r.json()
        assert config["store"] == "memory:"
    a = api.world.account("A")
    await api.post(a.pub, a.jwt)
    async with api.http.get(api.url + "/-/stats") as r:
        stats = await r.json()
    assert stats["store"]["accounts"] == 1
    assert stats["outbox"]["outbox_depth"] >= 0
    assert stats["service"]["puts"] == 1


async def test_config_masks_secrets(start_server) -> None:  # type: ignore[no-untyped-def]
    api = await start_server(nats=["nats://user:hunter2@127.0.0.1:1"])
    async with api.http.get(api.url + "/-/config") as r:
        text = await r.text()
    assert "hunter2" not in text
    assert "***@127.0.0.1" in text


async def test_client_error_does_not_stop_the_server(api: Running) -> None:
    for _ in range(3):
        await api.post(create(Role.ACCOUNT).public_key, b"\x00" * 100)
    a = api.world.account("A")
    assert (await api.post(a.pub, a.jwt)).status == 200


async def test_connection_reset_mid_body_keeps_server_alive(api: Running) -> None:
    import asyncio

    host, port = api.server.address
    _, writer = await asyncio.open_connection(host, port)
    pub = create(Role.ACCOUNT).public_key
    writer.write(f"POST /jwt/v1/accounts/{pub} HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\nabc".encode())
    await writer.drain()
    writer.close()
    async with api.http.get(api.url + "/healthz") as r:
        assert r.status == 200

