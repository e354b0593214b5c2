"""Every HTTP route under arbitrary requests: never a 5xx, and a refused request changes nothing.

A real ``accountd serve`` (memory store, managed mode on, so that signing is exercised too) runs in
a thread of its own; Hypothesis drives it over a real socket with the standard library's client.
"""

from __future__ import annotations

import asyncio
import http.client
import tempfile
import threading
from collections.abc import Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote, urlencode

import pytest
from hypothesis import given
from hypothesis import strategies as st

from accountd.claims import Role, create
from accountd.config import Settings
from accountd.natsserver import free_port
from accountd.server import Server
from accountd.store import Record
from world import World

from .strategies import jwt_like, mutated

T = TypeVar("T")
WORLD = World()
KNOWN = [WORLD.account(f"T{i}") for i in range(3)]
FRESH = [WORLD.account(f"N{i}") for i in range(3)]  # valid, not stored yet: a POST of one may succeed
SELF_SIGNED = create(Role.ACCOUNT)


class Threaded:
    """An accountd Server on its own event loop in a daemon thread."""

    def __init__(self, settings: Settings) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.server = Server(settings)
        self.call(self.server.start())

    def call(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout=30)

    def close(self) -> None:
        self.call(self.server.close())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


TOKEN = "fuzz-admin-token"


@pytest.fixture(scope="module", params=["loopback", "token"])
def served(request: pytest.FixtureRequest) -> Iterator[Threaded]:
    """Admin routes open to loopback (nothing configured), or behind a bearer token."""
    with tempfile.TemporaryDirectory() as tmp:
        files = WORLD.write(Path(tmp))
        extra: dict[str, Any] = {}
        if request.param == "token":
            (Path(tmp) / "tokens").write_text(TOKEN + "\n")
            extra["admin_token_file"] = str(Path(tmp) / "tokens")
        settings = Settings(listen=f"127.0.0.1:{free_port()}", operator=str(files["operator"]), store="memory:",
                            signing_key=str(files["signing_key"]), write_rate=0, **extra)
        t = Threaded(settings)
        for acct in KNOWN:
            t.call(t.server.service.put(acct.jwt, acct.pub))
        yield t
        t.close()


async def _snapshot(server: Server) -> list[tuple[str, str, bool]]:
    out: list[tuple[str, str, bool]] = []
    for pub in await server.store.list():
        record: Record = await server.store.get(pub)
        out.append((record.account, record.jwt, record.deleted))
    return out


def _key_text() -> st.SearchStrategy[str]:
    return st.one_of(
        st.sampled_from([a.pub for a in KNOWN + FRESH] + [SELF_SIGNED.public_key, WORLD.operator.public_key]),
        st.sampled_from([a.pub for a in KNOWN]).flatmap(mutated),
        st.text(max_size=60),
    )


PATHS = st.one_of(
    _key_text().map(lambda k: "/jwt/v1/accounts/" + quote(k, safe="")),
    st.tuples(_key_text(), st.sampled_from(["history", "diff"])).map(
        lambda kw: f"/-/accounts/{quote(kw[0], safe='')}/{kw[1]}"),
    st.sampled_from(["/jwt/v1/accounts", "/jwt/v1/accounts/", "/jwt/v1/operator", "/jwt/v1/help", "/jwt/v1/pack",
                     "/healthz", "/-/healthz", "/-/version", "/-/config", "/-/stats", "/metrics", "/-/status",
                     "/", "/jwt/v1", "/jwt/v2/accounts/x", "/-/", "/-/monitor/events", "/-/signin", "/-/signout",
                     "/-/accounts", "/-/audit"]),
    st.text(max_size=40).map(lambda t: "/" + quote(t)),
)
QUERY_KEYS = st.sampled_from(["check", "text", "decode", "notify", "list", "limit", "after", "max", "jti", "x",
                              "q", "from", "to", "since", "account"])
QUERY_VALUES = st.one_of(st.sampled_from(["true", "false", "1", "0", "", "-1", "999999999999"]), st.text(max_size=20))
HEADER_TEXT = st.one_of(
    st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=40),
    st.sampled_from([f"Bearer {TOKEN}", "Bearer", "Bearer x", f"bearer {TOKEN}", "Basic eA==", "accountd=x"]),
)
BODIES = st.one_of(
    st.none(),
    st.binary(max_size=300),
    st.sampled_from([a.jwt for a in KNOWN + FRESH]).map(str.encode),
    st.sampled_from([a.jwt for a in KNOWN + FRESH]).flatmap(mutated).map(str.encode),
    jwt_like(claims={"iss": SELF_SIGNED.public_key, "sub": SELF_SIGNED.public_key}).map(str.encode),
    st.just(WORLD.delete_token(create(Role.ACCOUNT).public_key).encode()),
)


@given(
    method=st.sampled_from(["GET", "HEAD", "POST", "DELETE", "PUT", "OPTIONS", "PATCH"]),
    path=PATHS,
    query=st.dictionaries(QUERY_KEYS, QUERY_VALUES, max_size=3),
    headers=st.dictionaries(st.sampled_from(["If-None-Match", "Accept", "Content-Type", "Origin", "Range",
                                             "Access-Control-Request-Method", "Authorization", "Cookie"]),
                            HEADER_TEXT, max_size=3),
    body=BODIES,
)
def test_no_route_answers_5xx_and_refusals_change_nothing(
    served: Threaded, method: str, path: str, query: dict[str, str], headers: dict[str, str], body: bytes | None
) -> None:
    before = served.call(_snapshot(served.server))
    host, port = served.server.address
    conn = http.client.HTTPConnection(host, port, timeout=30)
    try:
        conn.request(method, path + ("?" + urlencode(query) if query else ""), body=body, headers=headers)
        response = conn.getresponse()
        response.read()
    finally:
        conn.close()
    assert response.status < 500, (method, path, query, response.status)
    if response.status >= 400:
        assert served.call(_snapshot(served.server)) == before
