"""accountd env: nsc's current operator and account, kept in nsc's own nsc.json, as the commands' default."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from .helpers import Cli, make_world, snapshot


@pytest.fixture(autouse=True)
def nsc_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """nsc's config directory for the test ($XDG_CONFIG_HOME/nats/nsc, as nsc finds it)."""
    monkeypatch.delenv("NSC_HOME", raising=False)
    monkeypatch.delenv("ACCOUNTD_OPERATOR_NAME", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    return tmp_path / "xdg" / "nats" / "nsc"


def test_env_sets_the_current_account_in_nsc_json_as_nsc_writes_it(world: Cli, nsc_config: Path) -> None:
    doc = world.json("env", "--account", "A")
    assert doc["operator"] == "OP" and doc["account"] == "A" and doc["applies"]
    assert doc["config_file"] == str(nsc_config / "nsc.json")
    raw = (nsc_config / "nsc.json").read_text()
    data = json.loads(raw)
    assert list(data) == ["store_root", "operator", "account", "github_updates", "last_update"]
    assert data["store_root"] == str(world.home / "stores") and data["github_updates"] == "nats-io/nsc"
    assert raw == json.dumps(data, separators=(",", ":"))  # Go's compact json.Marshal


def test_commands_default_to_the_current_account(world: Cli) -> None:
    assert "several accounts" in world("add", "user", "--name", "v", code=1).stderr
    world("env", "--account", "A")
    world("add", "user", "--name", "v")
    assert (world.opdir / "accounts" / "A" / "users" / "v.jwt").is_file()
    assert world.json("describe", "account")["name"] == "A"
    assert world.json("describe", "account", "--name", "SYS")["name"] == "SYS"  # an option still wins


def test_the_current_operator_picks_among_several(world: Cli) -> None:
    world("add", "operator", "--name", "OTHER")
    assert "several operators" in world("list", "accounts", code=1).stderr
    doc = world.json("env", "--operator", "OTHER")
    assert doc["operator"] == "OTHER" and doc["account"] is None and doc["defaults"] == {
        "operator": "OTHER", "account": None}
    assert world.json("list", "accounts")["operator"] == "OTHER"
    world("env", "-o", "OP", "-a", "SYS")
    assert world.json("describe", "account")["name"] == "SYS"


def test_a_context_kept_by_nsc_is_read_and_its_other_keys_kept(world: Cli, nsc_config: Path) -> None:
    nsc_config.mkdir(parents=True)
    (nsc_config / "nsc.json").write_text(json.dumps({
        "store_root": str(world.home / "stores"), "operator": "OP", "account": "A",
        "github_updates": "nats-io/nsc", "last_update": 1700000000, "something_newer": True}))
    assert world.json("env")["account"] == "A"
    assert world.json("describe", "account")["name"] == "A"
    world("env", "--account", "SYS")
    data = json.loads((nsc_config / "nsc.json").read_text())
    assert data["account"] == "SYS" and data["last_update"] == 1700000000 and data["something_newer"] is True


def test_a_context_of_another_home_or_a_missing_account_does_not_apply(world: Cli, tmp_path: Path,
                                                                       nsc_config: Path) -> None:
    other = make_world(Cli(tmp_path / "other"))
    other("env", "--account", "A")
    doc = world.json("env")
    assert not doc["applies"] and doc["operator"] is None and doc["store_root"] == str(other.home / "stores")
    assert "several accounts" in world("add", "user", "--name", "v", code=1).stderr
    other("delete", "account", "--name", "A", "--yes")
    assert other.json("env")["account"] is None


def test_setting_an_unknown_account_fails_and_writes_nothing(world: Cli, nsc_config: Path) -> None:
    before = snapshot(world.home)
    assert "not an account of operator 'OP'" in world("env", "--account", "NOPE", code=1).stderr
    assert not (nsc_config / "nsc.json").exists() and snapshot(world.home) == before


def test_env_shows_a_table(world: Cli) -> None:
    out = world("env").stdout
    assert "Current account" in out and "Default operator" in out and "OP" in out
