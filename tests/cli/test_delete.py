"""accountd delete account|user|operator: local removal in nsc's layout, then push --prune."""

from __future__ import annotations

import asyncio
from pathlib import Path

import nats
import pytest
from click.testing import CliRunner

from accountd.claims import decode_account, decode_user, is_revoked
from accountd.cli import main
from accountd.natsserver import NatsServer

from .helpers import Cli, ServeProcess, make_world, snapshot


def pub(cli: Cli, name: str) -> str:
    return decode_account((cli.opdir / "accounts" / name / f"{name}.jwt").read_text()).sub


def seed_path(cli: Cli, key: str) -> Path:
    return cli.home / "keys" / "keys" / key[0] / key[1:3] / f"{key}.nk"


def test_delete_account_removes_it_and_its_users_but_keeps_seeds_and_creds(world: Cli) -> None:
    a = pub(world, "A")
    u = decode_user((world.opdir / "accounts" / "A" / "users" / "u.jwt").read_text()).sub
    doc = world.json("delete", "account", "--name", "A", "--yes")
    assert [(d["kind"], d["name"], d["public_key"]) for d in doc["deleted"]] == [("account", "A", a), ("user", "u", u)]
    assert not (world.opdir / "accounts" / "A").exists()
    assert world.json("list", "accounts")["accounts"][0]["name"] == "SYS"
    assert seed_path(world, a).is_file() and seed_path(world, u).is_file()
    assert (world.home / "keys" / "creds" / "OP" / "A" / "u.creds").is_file()


def test_delete_account_with_rm_nkey_and_rm_creds_removes_the_keys_too(world: Cli) -> None:
    sk = world.json("edit", "account", "--name", "A", "--sk", "generate")["changes"][0].split("=")[1]
    a = pub(world, "A")
    doc = world.json("delete", "account", "-n", "A", "-D", "-C", "--yes")
    assert set(doc["deleted"][0]["keys"]) == {a, sk}
    assert not seed_path(world, a).exists() and not seed_path(world, sk).exists()
    assert not (world.home / "keys" / "creds" / "OP" / "A").exists()
    assert len(doc["deleted"][1]["keys"]) == 1 and not seed_path(world, doc["deleted"][1]["keys"][0]).exists()


def test_delete_asks_and_a_no_changes_nothing(world: Cli) -> None:
    before = snapshot(world.home)
    result = CliRunner().invoke(main, ["delete", "account", "--name", "A", "--home", str(world.home)], input="n\n")
    assert result.exit_code == 1 and "delete cancelled" in result.stderr and "account A (" in result.stderr
    assert snapshot(world.home) == before
    assert "--json needs --yes" in world("delete", "account", "--name", "A", "--json", code=2).stdout


def test_delete_of_the_system_account_needs_force(world: Cli) -> None:
    before = snapshot(world.home)
    assert "system account" in world("delete", "account", "--name", "SYS", "--yes", code=1).stderr
    assert snapshot(world.home) == before


def test_delete_user_with_revoke_revokes_it_in_the_account(world: Cli) -> None:
    world("add", "user", "--name", "v", "--account", "A")
    u = decode_user((world.opdir / "accounts" / "A" / "users" / "u.jwt").read_text())
    doc = world.json("delete", "user", "--name", "u", "-a", "A", "--revoke", "--rm-creds", "--yes")
    assert doc["deleted"][0]["revoked"] and not (world.opdir / "accounts" / "A" / "users" / "u.jwt").exists()
    assert not (world.home / "keys" / "creds" / "OP" / "A" / "u.creds").exists()
    assert is_revoked(decode_account((world.opdir / "accounts" / "A" / "A.jwt").read_text()), u.sub, u.iat)
    assert [x["name"] for x in world.json("list", "users", "--account", "A")["users"]] == ["v"]


def test_delete_user_that_does_not_exist_fails_and_writes_nothing(world: Cli) -> None:
    before = snapshot(world.home)
    assert "does not exist" in world("delete", "user", "--name", "u,nobody", "-a", "A", "--yes", code=1).stderr
    assert snapshot(world.home) == before


def test_delete_operator_removes_its_store_and_with_rm_nkey_every_seed(world: Cli) -> None:
    world("add", "operator", "--name", "OTHER")
    doc = world.json("delete", "operator", "--name", "OP", "--rm-nkey", "--rm-creds", "--yes")
    assert [d["kind"] for d in doc["deleted"]] == ["operator", "account", "user", "account", "user"]
    assert not world.opdir.exists() and not (world.home / "keys" / "creds" / "OP").exists()
    other = world.json("describe", "operator")["sub"]
    assert [p.stem for p in (world.home / "keys" / "keys").rglob("*.nk")] == [other]


@pytest.fixture
def served(tmp_path: Path) -> tuple[Cli, ServeProcess]:
    cli = make_world(Cli(tmp_path / "home"))
    serve = ServeProcess(tmp_path / "serve", cli.opdir / "OP.jwt")
    cli("edit", "operator", "--account-server-url", serve.url)
    return cli, serve


def test_delete_account_then_push_prune_removes_it_from_accountd(served: tuple[Cli, ServeProcess]) -> None:
    cli, serve = served
    try:
        cli("push", "--all")
        a = pub(cli, "A")
        assert serve.get(a)[0] == 200
        cli("delete", "account", "--name", "A", "--yes")
        doc = cli.json("push", "--prune")
        assert [(r["public_key"], r["action"], r["ok"]) for r in doc["results"]] == [(a, "delete", True)]
        assert serve.get(a)[0] == 404
        assert serve.get(pub(cli, "SYS"))[0] == 200
    finally:
        serve.stop()


async def connects(url: str, creds: Path) -> bool:
    try:
        nc = await nats.connect(url, user_credentials=str(creds), allow_reconnect=False, max_reconnect_attempts=0,
                                connect_timeout=5)
    except Exception:
        return False
    await nc.close()
    return True


def test_delete_account_then_push_prune_removes_it_from_a_full_resolver(tmp_path: Path,
                                                                     nats_server_binary: str) -> None:
    cli = make_world(Cli(tmp_path / "home"))
    text = cli("generate", "config", "--resolver", "full", "--allow-delete", "--dir", str(tmp_path / "jwt")).stdout
    with NatsServer(workdir=tmp_path / "server", config=text, binary=nats_server_binary) as server:
        cli("edit", "operator", "--service-url", server.url)
        cli("push", "--all", "--transport", "nats")
        creds = cli.home / "keys" / "creds" / "OP" / "A" / "u.creds"
        assert asyncio.run(connects(server.url, creds))
        a = pub(cli, "A")
        cli("delete", "account", "--name", "A", "--yes")
        doc = cli.json("push", "--prune", "--transport", "nats")
        assert [(r["public_key"], r["ok"]) for r in doc["results"]] == [(a, True)]
        assert (tmp_path / "jwt" / f"{a}.jwt.deleted").is_file()
        assert not asyncio.run(connects(server.url, creds))
