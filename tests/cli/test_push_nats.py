"""push/pull over NATS ($SYS.REQ.CLAIMS.*) against a real nats-server with the full resolver."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import nats
import pytest

from accountd.claims import decode_account
from accountd.natsserver import NatsServer

from .helpers import Cli, make_world


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory, nats_server_binary: str) -> Iterator[tuple[Cli, NatsServer]]:
    root = tmp_path_factory.mktemp("natspush")
    cli = make_world(Cli(root / "home"))
    text = cli("generate", "config", "--resolver", "full", "--allow-delete", "--dir", str(root / "jwt")).stdout
    server = NatsServer(workdir=root / "server", config=text, binary=nats_server_binary).start()
    cli("edit", "operator", "--service-url", server.url)
    try:
        yield cli, server
    finally:
        server.stop()


def pub(cli: Cli, name: str) -> str:
    return decode_account((cli.opdir / "accounts" / name / f"{name}.jwt").read_text()).sub


def jwt_dir(cli: Cli) -> Path:
    return cli.home.parent / "jwt"


def test_push_over_nats_is_accepted_and_the_reply_parsed(setup: tuple[Cli, NatsServer]) -> None:
    cli, server = setup
    doc = cli.json("push", "--all", "--transport", "nats")
    assert doc["ok"] and doc["transport"] == "nats" and doc["url"] == server.url
    for row in doc["results"]:
        assert row["state"] == "pushed"
        assert [s["message"] for s in row["servers"]] == ["jwt updated"]
    assert (jwt_dir(cli) / f"{pub(cli, 'A')}.jwt").is_file()


def test_a_user_of_the_pushed_account_connects(setup: tuple[Cli, NatsServer]) -> None:
    cli, server = setup
    cli("push", "--account", "A", "--transport", "nats")

    async def connect() -> bool:
        nc = await nats.connect(server.url, user_credentials=str(cli.home / "keys" / "creds" / "OP" / "A" / "u.creds"))
        ok = nc.is_connected
        await nc.close()
        return ok

    assert asyncio.run(connect())


def test_push_diff_and_pull_over_nats(setup: tuple[Cli, NatsServer]) -> None:
    cli, _ = setup
    cli("push", "--all", "--transport", "nats")
    states = {r["account"]: r["state"] for r in cli.json("push", "--all", "--transport", "nats", "--diff")["results"]}
    assert states == {"A": "same", "SYS": "same"}
    assert {r["state"] for r in cli.json("pull", "--all", "--transport", "nats")["results"]} == {"unchanged"}
    assert cli.json("pull", "-a", "A", "--transport", "nats")["results"][0]["state"] == "unchanged"


def test_push_prune_deletes_on_the_server(setup: tuple[Cli, NatsServer]) -> None:
    cli, _ = setup
    cli("add", "account", "--name", "Z")
    z = pub(cli, "Z")
    cli("push", "--all", "--transport", "nats")
    for path in sorted((cli.opdir / "accounts" / "Z").rglob("*"), reverse=True):
        path.unlink() if path.is_file() else path.rmdir()
    (cli.opdir / "accounts" / "Z").rmdir()
    plan = cli.json("push", "--prune", "--diff", "--transport", "nats")["results"]
    assert [(r["public_key"], r["state"]) for r in plan] == [(z, "delete")]
    doc = cli.json("push", "--prune", "--transport", "nats")
    assert [(r["public_key"], r["ok"]) for r in doc["results"]] == [(z, True)]
    assert "deleted 1 accounts" in doc["results"][0]["message"]
    assert (jwt_dir(cli) / f"{z}.jwt.deleted").is_file()
    assert cli.json("push", "--prune", "--diff", "--transport", "nats")["results"] == []


@pytest.mark.timeout(60)
def test_push_returns_when_the_expected_server_answered_not_at_the_timeout(setup: tuple[Cli, NatsServer]) -> None:
    cli, _ = setup
    doc = cli.json("push", "--all", "--transport", "nats", "--timeout", "600")
    assert doc["ok"]


def test_push_expecting_more_servers_than_answer_fails(setup: tuple[Cli, NatsServer]) -> None:
    cli, _ = setup
    doc = cli.json("push", "--account", "A", "--transport", "nats", "--expect", "2", "--timeout", "0.3", code=1)
    assert not doc["ok"] and "only 1 of 2 servers answered" in doc["results"][0]["message"]


def test_push_over_nats_to_a_server_without_claim_responders_says_so(
    setup: tuple[Cli, NatsServer], tmp_path: Path, nats_server_binary: str
) -> None:
    cli, _ = setup
    text = cli("generate", "config", "--resolver", "memory").stdout
    with NatsServer(workdir=tmp_path, config=text, binary=nats_server_binary) as memory:
        result = cli("push", "--account", "A", "--url", memory.url, code=1)
    assert "no server answers $SYS.REQ.CLAIMS.UPDATE" in result.stderr
