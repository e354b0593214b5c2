"""User options of add/edit user — bearer tokens, source networks, connection types, time windows with a
locale, responses, limits — in the JWT and as a real nats-server enforces them."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import nats
import pytest

from accountd.claims import decode_user, parse_creds
from accountd.natsserver import NatsServer

from .helpers import Cli, make_world


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory, nats_server_binary: str) -> Iterator[tuple[Cli, NatsServer]]:
    root = tmp_path_factory.mktemp("useropts")
    cli = make_world(Cli(root / "home"))
    text = cli("generate", "config", "--resolver", "memory").stdout
    with NatsServer(workdir=root / "server", config=text, binary=nats_server_binary) as server:
        yield cli, server


def user(cli: Cli, name: str):  # type: ignore[no-untyped-def]
    return decode_user((cli.opdir / "accounts" / "A" / "users" / f"{name}.jwt").read_text())


def creds(cli: Cli, name: str) -> Path:
    return cli.home / "keys" / "creds" / "OP" / "A" / f"{name}.creds"


async def attempt(url: str, **options: object) -> str:
    """'ok', or the server's reason for refusing the connection."""
    errors: list[str] = []

    async def on_error(exc: Exception) -> None:
        errors.append(str(exc))

    try:
        nc = await nats.connect(url, allow_reconnect=False, max_reconnect_attempts=0, connect_timeout=5,
                                error_cb=on_error, **options)
    except Exception as exc:
        return " ".join([*errors, str(exc)]).lower()
    await nc.close()
    return "ok"


def connect_creds(server: NatsServer, path: Path) -> str:
    return asyncio.run(attempt(server.url, user_credentials=str(path)))


def connect_jwt_alone(server: NatsServer, path: Path) -> str:
    """Send the user JWT with an empty nonce signature: what a bearer token allows."""
    token = parse_creds(path).jwt
    return asyncio.run(attempt(server.url, user_jwt_cb=lambda: token.encode(), signature_cb=lambda _nonce: b""))


def test_a_bearer_user_connects_with_its_jwt_alone(setup: tuple[Cli, NatsServer]) -> None:
    cli, server = setup
    cli("add", "user", "--name", "bearer", "--account", "A", "--bearer")
    assert user(cli, "bearer").nats.bearer_token
    assert connect_jwt_alone(server, creds(cli, "bearer")) == "ok"
    assert "authorization violation" in connect_jwt_alone(server, creds(cli, "u"))  # must sign the nonce
    cli("edit", "user", "--name", "bearer", "--account", "A", "--no-bearer")
    assert "authorization violation" in connect_jwt_alone(server, creds(cli, "bearer"))
    assert connect_creds(server, creds(cli, "bearer")) == "ok"


def test_a_user_limited_to_one_source_network_is_refused_from_another(setup: tuple[Cli, NatsServer]) -> None:
    cli, server = setup
    cli("add", "user", "--name", "tenners", "--account", "A", "--source-network", "10.0.0.0/8")
    assert user(cli, "tenners").nats.src == ["10.0.0.0/8"]
    assert "authorization violation" in connect_creds(server, creds(cli, "tenners"))
    cli("edit", "user", "--name", "tenners", "--account", "A", "--rm-source-network", "10.0.0.0/8",
        "--source-network", "127.0.0.0/8")
    assert user(cli, "tenners").nats.src == ["127.0.0.0/8"]
    assert connect_creds(server, creds(cli, "tenners")) == "ok"


def test_allowed_connection_types_refuse_other_kinds(setup: tuple[Cli, NatsServer]) -> None:
    cli, server = setup
    cli("add", "user", "--name", "websocket-only", "--account", "A", "--conn-type", "websocket")
    assert user(cli, "websocket-only").nats.allowed_connection_types == ["WEBSOCKET"]
    assert "authorization violation" in connect_creds(server, creds(cli, "websocket-only"))
    cli("edit", "user", "--name", "websocket-only", "--account", "A", "--conn-type", "STANDARD")
    assert connect_creds(server, creds(cli, "websocket-only")) == "ok"


def test_a_time_window_in_a_locale_is_enforced(setup: tuple[Cli, NatsServer]) -> None:
    cli, server = setup
    now = datetime.now(UTC)
    later = [(now + timedelta(hours=h)).strftime("%H:%M:%S") for h in (2, 3)]
    cli("add", "user", "--name", "later", "--account", "A", "--time", f"{later[0]}-{later[1]}", "--locale", "UTC")
    claims = user(cli, "later").nats
    assert claims.times_location == "UTC" and [(t.start, t.end) for t in claims.times] == [tuple(later)]
    assert "authorization violation" in connect_creds(server, creds(cli, "later"))
    cli("edit", "user", "--name", "later", "--account", "A", "--rm-time", later[0], "--time", "00:00:00-23:59:59")
    assert connect_creds(server, creds(cli, "later")) == "ok"


def test_responses_and_limits_are_written_as_go_writes_them(setup: tuple[Cli, NatsServer]) -> None:
    cli, server = setup
    cli("add", "user", "--name", "svc", "--account", "A", "--allow-sub", "svc.>", "--allow-pub-response", "3",
        "--response-ttl", "2s", "--subs", "10", "--data", "1M", "--payload", "512")
    n = user(cli, "svc").nats
    assert n.resp is not None and (n.resp.max, n.resp.ttl) == (3, 2_000_000_000)
    assert (n.subs, n.data, n.payload) == (10, 1 << 20, 512)
    doc = cli.json("describe", "user", "--name", "svc", "--account", "A")["nats"]
    assert doc["resp"] == {"max": 3, "ttl": 2_000_000_000} and doc["subs"] == 10
    assert connect_creds(server, creds(cli, "svc")) == "ok"
    cli("edit", "user", "--name", "svc", "--account", "A", "--rm-response-perms")
    assert user(cli, "svc").nats.resp is None
