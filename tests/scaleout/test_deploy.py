"""deploy/: bootstrap.sh makes what the configs include, every nats-server config passes ``nats-server -t``.

Docker is not run here; the compose file, the Dockerfile, haproxy and the systemd unit are checked
for the names and paths they share with the rest of deploy/.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from accountd.claims import decode_account, decode_operator, decode_user, extract_jwt, parse_creds
from accountd.config import Settings, load_toml
from accountd.store import KVStore, open_store

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
NATS_CONFIGS = sorted(p.relative_to(DEPLOY).as_posix() for p in DEPLOY.rglob("*.conf"))


@pytest.fixture(scope="module")
def bootstrapped(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A copy of deploy/ with secrets/ made by bootstrap.sh (keys and the JWT directory in the copy too)."""
    root = tmp_path_factory.mktemp("deploy") / "deploy"
    shutil.copytree(DEPLOY, root, ignore=shutil.ignore_patterns("keys", "secrets"))
    _bootstrap(root)
    yield root


def _bootstrap(root: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "ACCOUNTD": str(Path(sys.executable).parent / "accountd"),
           "ACCOUNTD_HOME": str(root / "keys"), "JWT_DIR": str(root / "jwt")}
    env.pop("ACCOUNTD_OPERATOR_NAME", None)
    result = subprocess.run(["sh", str(root / "bootstrap.sh")], env=env, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    return result


def test_there_are_nats_server_configs_for_both_resolvers() -> None:
    assert {"nats/full-resolver.conf", "nats/url-resolver.conf", "nats/cluster.conf"} <= set(NATS_CONFIGS)


@pytest.mark.parametrize("config", NATS_CONFIGS)
def test_every_nats_server_config_is_valid(bootstrapped: Path, nats_server_binary: str, config: str) -> None:
    env = {**os.environ, "NATS_SERVER_NAME": "nats-1"}
    result = subprocess.run([nats_server_binary, "-t", "-c", str(bootstrapped / config)], env=env,
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stdout + result.stderr


def test_bootstrap_writes_the_secrets_with_private_modes(bootstrapped: Path) -> None:
    secrets = bootstrapped / "secrets"
    assert sorted(p.name for p in secrets.iterdir()) == [
        "kv.creds", "operator.jwt", "resolver-full.conf", "resolver-url.conf", "sys.creds"]
    assert secrets.stat().st_mode & 0o777 == 0o700
    for name in ("kv.creds", "sys.creds"):
        assert (secrets / name).stat().st_mode & 0o077 == 0, name


def test_the_full_resolver_preloads_the_system_account_and_a_jetstream_account(bootstrapped: Path) -> None:
    operator = decode_operator(extract_jwt((bootstrapped / "secrets" / "operator.jwt").read_text()))
    text = (bootstrapped / "secrets" / "resolver-full.conf").read_text()
    preload = dict(re.findall(r"^\s*(A[A-Z2-7]{55}): (eyJ[\w.-]+)\s*$", text, re.M))
    accounts = {key: decode_account(jwt) for key, jwt in preload.items()}
    assert operator.nats.system_account in accounts
    jetstream = [a for a in accounts.values() if a.nats.limits.jetstream_flat().enabled()]
    assert [a.name for a in jetstream] == ["ACCOUNTD"]
    assert str(bootstrapped / "jwt") in text


def test_the_creds_belong_to_the_system_account_and_the_jetstream_account(bootstrapped: Path) -> None:
    secrets = bootstrapped / "secrets"
    text = (secrets / "resolver-full.conf").read_text()
    names = {key: decode_account(jwt).name for key, jwt in re.findall(r"^\s*(A[A-Z2-7]{55}): (eyJ\S+)", text, re.M)}
    issuers = {name: decode_user(parse_creds(secrets / name).jwt).iss for name in ("sys.creds", "kv.creds")}
    assert {name: names[issuer] for name, issuer in issuers.items()} == {"sys.creds": "SYS", "kv.creds": "ACCOUNTD"}


def test_bootstrap_runs_again_without_changing_the_operator(bootstrapped: Path) -> None:
    before = (bootstrapped / "secrets" / "operator.jwt").read_text()
    _bootstrap(bootstrapped)
    assert decode_operator(extract_jwt((bootstrapped / "secrets" / "operator.jwt").read_text())).sub == \
        decode_operator(extract_jwt(before)).sub


def test_the_accountd_settings_file_opens_the_kv_store_as_the_jetstream_user() -> None:
    settings = Settings(**load_toml(DEPLOY / "accountd" / "accountd.toml"))
    settings.check()
    store = open_store(settings.store, nats=settings.nats, creds=settings.creds)
    assert isinstance(store, KVStore)
    assert (store.bucket, store.creds, store.servers) == (
        "accounts", "/etc/accountd/secrets/kv.creds", ["nats://nats-1:4222", "nats://nats-2:4222",
                                                       "nats://nats-3:4222"])
    assert settings.creds == "/etc/accountd/secrets/sys.creds"


def test_compose_mounts_only_files_that_exist_or_bootstrap_makes() -> None:
    compose = (DEPLOY / "compose.yaml").read_text()
    mounted = set(re.findall(r"(\./[\w./-]*):/", compose))
    assert mounted == {"./accountd/accountd.toml", "./secrets", "./nats", "./haproxy.cfg"}
    assert all((DEPLOY / path).exists() for path in mounted - {"./secrets"})
    assert "/etc/nats/conf/full-resolver.conf" in compose  # ./nats is mounted at /etc/nats/conf


def test_the_load_balancer_knows_every_accountd_service() -> None:
    services = set(re.findall(r"^  (accountd-\d+):", (DEPLOY / "compose.yaml").read_text(), re.M))
    servers = set(re.findall(r"^\s+server (accountd-\d+) \1:9090 check", (DEPLOY / "haproxy.cfg").read_text(), re.M))
    assert services == servers == {"accountd-1", "accountd-2"}


def test_the_dockerfile_and_the_unit_run_serve_with_the_settings_file() -> None:
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    for copied in re.findall(r"^COPY (.+) \S+$", dockerfile, re.M):
        assert all((DEPLOY.parent / name).exists() for name in copied.split()), copied
    assert 'CMD ["--config", "/etc/accountd/accountd.toml"]' in dockerfile
    unit = (DEPLOY / "accountd" / "accountd.service").read_text()
    assert re.search(r"^ExecStart=\S+/accountd serve --config /etc/accountd/accountd.toml$", unit, re.M)

