"""``accountd serve`` settings: flags over ``ACCOUNTD_*`` environment over the TOML file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from accountd.cli import serve as serve_module
from accountd.config import ConfigError, Settings, load_toml, parse_limits


def _resolve(args: list[str], env: dict[str, str] | None = None) -> Settings:
    """Run the serve command's option parsing only, capturing the Settings it would use."""
    captured: dict[str, Settings] = {}

    def fake_run(settings: Settings) -> int:
        captured["settings"] = settings
        return 0

    import accountd.server as server

    real = server.run
    server.run = fake_run  # type: ignore[assignment]
    try:
        result = CliRunner().invoke(serve_module.serve, args, env=env or {}, catch_exceptions=False)
    finally:
        server.run = real  # type: ignore[assignment]
    assert result.exit_code == 0, result.output
    return captured["settings"]


@pytest.fixture
def toml(tmp_path: Path) -> Path:
    path = tmp_path / "accountd.toml"
    path.write_text('listen = "127.0.0.1:7001"\nstore = "memory:"\noperator = "/op.jwt"\n'
                    'nats = "nats://a:4222,nats://b:4222"\nmax_limits = { conn = 10 }\nlog_level = "debug"\n')
    return path


def test_toml_file_supplies_settings(toml: Path) -> None:
    s = _resolve(["--config", str(toml)])
    assert s.listen == "127.0.0.1:7001"
    assert s.nats == ["nats://a:4222", "nats://b:4222"]
    assert s.max_limits == {"conn": 10}
    assert s.log_level == "debug"


def test_environment_overrides_toml(toml: Path) -> None:
    s = _resolve(["--config", str(toml)], {"ACCOUNTD_LISTEN": "127.0.0.1:7002"})
    assert s.listen == "127.0.0.1:7002"


def test_flag_overrides_environment(toml: Path) -> None:
    s = _resolve(["--config", str(toml), "--listen", "127.0.0.1:7003"], {"ACCOUNTD_LISTEN": "127.0.0.1:7002"})
    assert s.listen == "127.0.0.1:7003"


def test_defaults_apply_without_any_source(tmp_path: Path) -> None:
    s = _resolve(["--store", "memory:", "--operator", str(tmp_path / "op.jwt")])
    assert s.listen == "127.0.0.1:9090"
    assert s.allow_delete is True
    assert s.operator == str(tmp_path / "op.jwt")


def test_unknown_toml_key_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text('lisen = "x"\n')
    with pytest.raises(ConfigError, match="unknown settings lisen"):
        load_toml(path)


def test_malformed_max_limits_is_an_error() -> None:
    with pytest.raises(ConfigError):
        parse_limits("conn")
    assert parse_limits("conn=1, subs=-1") == {"conn": 1, "subs": -1}


def test_missing_store_is_a_usage_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(serve_module.serve, ["--operator", str(tmp_path / "op.jwt")], env={})
    assert result.exit_code == 2
    assert "no store configured" in result.output


def test_public_config_masks_credentials_in_urls() -> None:
    s = Settings(store="memory:", operator="/x", nats=["nats://u:secret@h:4222"], creds="/c.creds")
    doc: dict[str, Any] = s.public()
    assert "secret" not in str(doc)
    assert doc["creds"].endswith("(contents not shown)")


def test_bad_listen_is_rejected() -> None:
    with pytest.raises(ConfigError):
        Settings(store="memory:", operator="/x", listen="nope").check()
