"""accountd validate: the whole home (times, signers, imports, activations, users) and, with --url, the server."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from accountd.claims import decode_operator
from accountd.cli import main
from accountd.natsserver import NatsServer

from .helpers import Cli, ServeProcess, make_world


def problems(cli: Cli, *args: str, code: int = 1) -> list[tuple[str, str | None, str | None, str]]:
    doc: dict[str, Any] = cli.json("validate", *args, code=code)
    return [(p["level"], p["account"], p["user"], p["code"]) for p in doc["problems"]]


def test_a_fresh_home_has_no_problems(world: Cli) -> None:
    doc = world.json("validate")
    assert doc["ok"] and doc["problems"] == [] and doc["checked"] == {"operators": 1, "accounts": 2, "users": 2}
    assert world("validate").stdout.startswith("no problems: 1 operators, 2 accounts, 2 users")


def test_expired_and_soon_expiring_jwts(world: Cli) -> None:
    world("edit", "account", "--name", "A", "--expiry", "2020-01-01")
    world("add", "user", "--name", "brief", "--account", "SYS", "--expiry", "1d")
    found = problems(world)
    assert ("error", "A", None, "expired") in found
    assert ("warning", "SYS", "brief", "expires_soon") in found
    assert "expired" in world("validate", code=1).stdout


def test_warnings_alone_pass_unless_fail_on_warning(world: Cli) -> None:
    world("add", "user", "--name", "brief", "--account", "A", "--expiry", "1d")
    assert problems(world, code=0) == [("warning", "A", "brief", "expires_soon")]
    assert problems(world, "--expiring-within", "1h", code=0) == []
    assert problems(world, "--fail-on-warning", code=1) == [("warning", "A", "brief", "expires_soon")]


def test_jwts_signed_by_keys_the_signer_no_longer_lists(world: Cli) -> None:
    world("edit", "operator", "--sk", "generate")
    sk = decode_operator((world.opdir / "OP.jwt").read_text()).nats.signing_keys[0]
    world("edit", "operator", "--require-signing-keys", "--resign")
    world("edit", "operator", "--no-require-signing-keys", "--rm-sk", sk)
    account_sk = world.json("edit", "account", "--name", "A", "--sk", "generate")["changes"][0].split("=")[1]
    world("add", "user", "--name", "v", "--account", "A", "--signing-key", account_sk)
    world("edit", "account", "--name", "A", "--rm-sk", account_sk)
    found = problems(world)
    assert ("error", "SYS", None, "unknown_signing_key") in found
    assert ("error", "A", "v", "unknown_signing_key") in found


def test_imports_without_a_matching_export_and_revoked_activations(world: Cli, tmp_path: Path) -> None:
    world("add", "account", "--name", "SVC")
    world("add", "export", "-a", "SVC", "--subject", "api.>", "--service")
    world("add", "export", "-a", "SVC", "--subject", "secret.>", "--service", "--private")
    world("add", "import", "-a", "A", "--src-account", "SVC", "--remote-subject", "api.get", "--service")
    token = tmp_path / "act.jwt"
    world("generate", "activation", "-a", "SVC", "--subject", "secret.>", "--target-account", "A", "-o", str(token))
    world("add", "import", "-a", "A", "--token", str(token))
    assert world.json("validate")["ok"]
    world("delete", "export", "-a", "SVC", "--subject", "api.>", "--service")
    world("revocations", "add-activation", "-a", "SVC", "--subject", "secret.>", "--service", "--target-account", "A",
          "--at", "1d")
    doc = world.json("validate", code=1)
    found = {(p["account"], p["code"]): p["message"] for p in doc["problems"]}
    assert "does not export it" in found[("A", "not_exported")]
    assert "revoked this activation" in found[("A", "activation")]


def test_validate_one_account_and_unknown_names(world: Cli) -> None:
    world("edit", "account", "--name", "SYS", "--expiry", "2020-01-01")
    assert world.json("validate", "--account", "A")["ok"]
    assert "does not exist" in world("validate", "--account", "NOPE", code=1).stderr


def test_with_url_accounts_not_pushed_or_different_from_the_server(tmp_path: Path) -> None:
    cli = make_world(Cli(tmp_path / "home"))
    serve = ServeProcess(tmp_path / "serve", cli.opdir / "OP.jwt")
    try:
        cli("edit", "operator", "--account-server-url", serve.url)
        cli("push", "--account", "SYS")
        cli("push", "--account", "A")
        cli("edit", "account", "--name", "A", "--conn", "7")
        cli("add", "account", "--name", "NEW")
        doc = cli.json("validate", "--url", serve.url, code=1)
        assert doc["url"] == serve.url
        found = {(p["account"], p["code"]): p["message"] for p in doc["problems"]}
        assert set(found) == {("A", "differs"), ("NEW", "not_pushed")}
        assert "limits.conn: -1 -> 7" in found[("A", "differs")]
        cli("push", "--all")
        assert cli.json("validate", "--url", serve.url)["ok"]
    finally:
        serve.stop()


def test_the_delete_env_mapping_and_validate_commands_take_json_and_document_it() -> None:
    groups: dict[str, Any] = dict(main.commands)
    commands = [groups["delete"].commands[n] for n in ("account", "user", "operator", "mapping")]
    commands += [groups["add"].commands["mapping"], groups["env"], groups["validate"]]
    for cmd in commands:
        assert any(p.name == "as_json" for p in cmd.params), cmd.name
        assert "--json prints" in (cmd.epilog or ""), cmd.name


def test_with_a_nats_url_accounts_missing_on_the_servers(tmp_path: Path, nats_server_binary: str) -> None:
    cli = make_world(Cli(tmp_path / "home"))
    text = cli("generate", "config", "--resolver", "full", "--dir", str(tmp_path / "jwt")).stdout
    with NatsServer(workdir=tmp_path / "server", config=text, binary=nats_server_binary) as server:
        doc = cli.json("validate", "--url", server.url, code=1)
        assert [(p["account"], p["code"]) for p in doc["problems"]] == [("A", "not_pushed")]
        cli("push", "--account", "A", "--url", server.url)
        assert cli.json("validate", "--url", server.url)["ok"]
