"""CORS: public routes echo the Origin (or only --cors-origin ones); admin routes never answer it."""

from __future__ import annotations

from serving import Running, StartServer

PREFLIGHT = {"Access-Control-Request-Method": "GET"}


def _cors(headers: object) -> list[str]:
    return [k for k in headers if k.lower().startswith("access-control-")]  # type: ignore[attr-defined]


async def test_public_routes_echo_any_origin_by_default(api: Running) -> None:
    a = api.world.account("A")
    await api.post(a.pub, a.jwt)
    origin = {"Origin": "https://anywhere.example"}
    async with api.http.get(api.account_url(a.pub), headers=origin) as r:
        assert r.status == 200
        assert r.headers["Access-Control-Allow-Origin"] == "https://anywhere.example"
        assert "Access-Control-Allow-Credentials" not in r.headers
    async with api.http.options(api.account_url(a.pub), headers={**origin, **PREFLIGHT}) as r:
        assert r.status == 204
        assert r.headers["Access-Control-Allow-Origin"] == "https://anywhere.example"


async def test_admin_routes_echo_nothing_and_refuse_preflights(api: Running) -> None:
    a = api.world.account("A")
    await api.post(a.pub, a.jwt)
    origin = {"Origin": "https://anywhere.example"}
    for path in ("/-/stats", "/metrics", "/jwt/v1/pack", "/jwt/v1/accounts?list=true",
                 f"/jwt/v1/accounts/{a.pub}?notify=true"):
        async with api.http.get(api.url + path, headers=origin) as r:
            assert r.status == 403, path  # a browser's cross-origin request, even from loopback
            assert not _cors(r.headers), path
        async with api.http.options(api.url + path, headers={**origin, **PREFLIGHT}) as r:
            assert r.status == 403, path
            assert not _cors(r.headers), path


async def test_cors_origin_narrows_public_cors_to_the_listed_origins(start_server: StartServer) -> None:
    api = await start_server(cors_origin=["https://ok.example", "https://also.example/"])
    for origin, echoed in (("https://ok.example", True), ("https://also.example", True),
                           ("https://evil.example", False)):  # fmt: skip
        async with api.http.get(api.url + "/jwt/v1/operator", headers={"Origin": origin}) as r:
            assert r.status == 200
            assert (r.headers.get("Access-Control-Allow-Origin") == origin) is echoed
            assert echoed or not _cors(r.headers)
        async with api.http.options(api.url + "/jwt/v1/operator", headers={"Origin": origin, **PREFLIGHT}) as r:
            assert r.status == (204 if echoed else 403)
