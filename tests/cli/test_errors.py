"""Bad input: a clear message, the right exit code, and nothing half-written."""

from __future__ import annotations

import json
from pathlib import Path

from accountd.natsserver import free_port

from .helpers import Cli, snapshot


def test_unknown_names_say_what_exists(world: Cli) -> None:
    result = world("describe", "account", "--name", "NOPE", code=1)
    assert "account 'NOPE' does not exist" in result.stderr and "known accounts: A, SYS" in result.stderr
    assert "user 'nobody' does not exist" in world("edit", "user", "-a", "A", "-n", "nobody", "--bearer",
                                                   code=1).stderr
    assert "operator 'X' does not exist" in world("list", "accounts", "--operator", "X", code=1).stderr
    doc = world.json("describe", "user", "-a", "A", "-n", "nobody", code=1)
    assert doc["error"]["code"] == "not_found"


def test_duplicate_names_are_refused_and_change_nothing(world: Cli) -> None:
    before = snapshot(world.home)
    assert "already exists" in world("add", "account", "--name", "A", code=1).stderr
    assert "already exists" in world("add", "user", "--name", "u", "--account", "A", code=1).stderr
    assert "already exists" in world("add", "operator", "--name", "OP", code=1).stderr
    assert snapshot(world.home) == before


def test_several_accounts_need_a_choice(world: Cli) -> None:
    assert "pick one with --account" in world("add", "user", "--name", "v", code=1).stderr


def test_malformed_keys_are_named_precisely(world: Cli) -> None:
    before = snapshot(world.home)
    bad_seed = "SA" + "A" * 56
    assert "checksum" in world("edit", "account", "-n", "A", "--sk", bad_seed, code=1).stderr
    result = world("revocations", "add-user", "-a", "A", "--user-public-key", "UNOTAKEY", code=2)
    assert "not a user public key" in result.stderr
    assert "not 'generate'" in world("edit", "account", "-n", "A", "--sk", "what", code=2).stderr
    assert snapshot(world.home) == before


def test_a_corrupt_seed_file_is_reported_and_nothing_is_written(world: Cli) -> None:
    a = json.loads(world("describe", "account", "-n", "A", "--json").stdout)["sub"]
    nk = world.home / "keys" / "keys" / a[0] / a[1:3] / f"{a}.nk"
    seed = nk.read_text()
    nk.write_text(seed[:20] + ("A" if seed[20] != "A" else "B") + seed[21:])  # not the last: it has pad bits
    before = snapshot(world.home)
    result = world("add", "user", "--name", "v", "--account", "A", code=1)
    assert str(nk) in result.stderr and "checksum" in result.stderr
    assert snapshot(world.home) == before


def test_a_failed_write_leaves_no_partial_files(world: Cli) -> None:
    creds = world.home / "keys" / "creds" / "OP" / "A"
    for f in creds.iterdir():
        f.unlink()
    creds.rmdir()
    creds.write_text("a file where the creds directory belongs")
    before = snapshot(world.home)
    result = world("add", "user", "--name", "v", "--account", "A", code=1)
    assert "Not a directory" in result.stderr
    assert snapshot(world.home) == before
    assert not list(world.home.rglob("*.tmp")) and not list(world.home.rglob("*.bak"))


def test_a_missing_home_says_how_to_make_one(tmp_path: Path) -> None:
    cli = Cli(tmp_path / "nowhere")
    result = cli("list", "accounts", code=1)
    assert "does not exist" in result.stderr and "accountd add operator" in result.stderr
    assert "holds no operators" in Cli(tmp_path)("list", "accounts", code=1).stderr
    assert not (tmp_path / "nowhere").exists()


def test_a_failed_first_command_leaves_no_empty_home(tmp_path: Path) -> None:
    cli = Cli(tmp_path / "new")
    cli("add", "operator", "--name", "bad/name", code=1)
    assert not (tmp_path / "new").exists()


def test_an_unreachable_server_is_a_clear_failure(world: Cli) -> None:
    port = free_port()
    result = world("push", "--all", "--url", f"http://127.0.0.1:{port}/jwt/v1", code=1)
    assert "cannot reach the account server" in result.stderr and "accountd serve" in result.stderr
    result = world("push", "--all", "--url", f"nats://127.0.0.1:{port}", code=1)
    assert f"cannot connect to nats://127.0.0.1:{port}" in result.stderr
    result = world("pull", "--account", "A", "--url", f"http://127.0.0.1:{port}/jwt/v1", code=1)
    assert "cannot reach" in result.stderr


def test_push_without_a_target_explains_how_to_set_one(world: Cli) -> None:
    world("edit", "operator", "--rm-account-server-url")
    result = world("push", "--all", code=1)
    assert "no account_server_url" in result.stderr and "--url" in result.stderr
    assert "give exactly one of --account NAME or --all" in world("push", "--url", "http://x/jwt/v1", code=2).stderr


def test_bad_values_are_usage_errors(world: Cli) -> None:
    assert "is not a number" in world("edit", "account", "-n", "A", "--conn", "lots", code=2).stderr
    assert "is not a time" in world("edit", "account", "-n", "A", "--expiry", "someday", code=2).stderr
    assert "needs one of the schemes" in world("edit", "operator", "-u", "ftp://x", code=2).stderr
    assert "HH:MM:SS" in world("edit", "user", "-a", "A", "-n", "u", "--time", "9-5", code=2).stderr
