"""push/pull over HTTP against a real `accountd serve` subprocess."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from accountd.claims import decode_account, encode, load_seed

from .helpers import Cli, ServeProcess, make_world


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Cli, ServeProcess]]:
    root = tmp_path_factory.mktemp("http")
    cli = make_world(Cli(root / "home"))
    serve = ServeProcess(root / "serve", cli.opdir / "OP.jwt")
    cli("edit", "operator", "--account-server-url", serve.url)
    try:
        yield cli, serve
    finally:
        serve.stop()


def local(cli: Cli, name: str) -> str:
    return (cli.opdir / "accounts" / name / f"{name}.jwt").read_text()


def test_push_stores_the_account(setup: tuple[Cli, ServeProcess]) -> None:
    cli, serve = setup
    doc = cli.json("push", "--account", "A")
    assert doc["ok"] and doc["transport"] == "http" and doc["results"][0]["state"] == "pushed"
    assert serve.get(decode_account(local(cli, "A")).sub) == (200, local(cli, "A"))


def test_push_all_pushes_every_account(setup: tuple[Cli, ServeProcess]) -> None:
    cli, serve = setup
    doc = cli.json("push", "--all")
    assert sorted(r["account"] for r in doc["results"] if r["ok"]) == ["A", "SYS"]
    assert serve.get(decode_account(local(cli, "SYS")).sub)[0] == 200


def test_pull_brings_back_an_account_changed_on_the_server(setup: tuple[Cli, ServeProcess]) -> None:
    cli, serve = setup
    cli("push", "--account", "A")
    claims = decode_account(local(cli, "A"))
    claims.nats.limits.conn = 3
    op_pub = claims.iss
    op_kp = load_seed((cli.home / "keys" / "keys" / op_pub[0] / op_pub[1:3] / f"{op_pub}.nk").read_text())
    changed = encode(claims, op_kp, now=max(int(time.time()), claims.iat + 1))
    assert serve.post(claims.sub, changed) == 200
    doc = cli.json("pull", "--account", "A")
    assert doc["results"][0]["state"] == "updated"
    assert local(cli, "A") == changed
    assert cli.json("describe", "account", "--name", "A")["nats"]["limits"]["conn"] == 3


def test_pull_keeps_a_newer_local_jwt(setup: tuple[Cli, ServeProcess]) -> None:
    cli, _ = setup
    cli("push", "--account", "A")
    cli("edit", "account", "--name", "A", "--conn", "4")
    mine = local(cli, "A")
    assert cli.json("pull", "--account", "A")["results"][0]["state"] == "kept-newer"
    assert local(cli, "A") == mine
    assert cli.json("pull", "--account", "A", "--overwrite-newer")["results"][0]["state"] == "updated"


def test_push_diff_shows_the_change_and_pushes_nothing(setup: tuple[Cli, ServeProcess]) -> None:
    cli, serve = setup
    cli("push", "--account", "A")
    on_server = serve.get(decode_account(local(cli, "A")).sub)[1]
    cli("edit", "account", "--name", "A", "--conn", "9")
    doc = cli.json("push", "--account", "A", "--diff")
    row = doc["results"][0]
    assert doc["dry_run"] and row["state"] == "changed"
    assert any(c.startswith("limits.conn: ") and c.endswith(" -> 9") for c in row["changes"])
    assert serve.get(decode_account(local(cli, "A")).sub)[1] == on_server
    assert "conn" in cli("push", "--account", "A", "--diff").stdout


def test_push_prune_deletes_what_the_home_no_longer_has(setup: tuple[Cli, ServeProcess]) -> None:
    cli, serve = setup
    cli("add", "account", "--name", "Z")
    z = decode_account(local(cli, "Z")).sub
    cli("push", "--all")
    for path in sorted((cli.opdir / "accounts" / "Z").rglob("*"), reverse=True):
        path.unlink() if path.is_file() else path.rmdir()
    (cli.opdir / "accounts" / "Z").rmdir()
    plan = cli.json("push", "--prune", "--diff")["results"]
    assert [(r["public_key"], r["state"]) for r in plan] == [(z, "delete")]
    doc = cli.json("push", "--prune")
    assert [(r["public_key"], r["action"], r["ok"]) for r in doc["results"]] == [(z, "delete", True)]
    assert serve.get(z)[0] == 404
    assert serve.get(decode_account(local(cli, "SYS")).sub)[0] == 200
