"""accountd generate nkey|creds|config — configs are checked and run by a real nats-server."""

from __future__ import annotations

import asyncio
import subprocess
from collections.abc import Iterator
from pathlib import Path

import nats
import pytest

from accountd.claims import load_seed
from accountd.natsclient import flushed
from accountd.natsserver import NatsServer

from .helpers import Cli, make_world


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Cli:
    cli = make_world(Cli(tmp_path_factory.mktemp("gen") / "home"))
    cli("add", "user", "--name", "w", "--account", "A")
    return cli


def config(cli: Cli, *args: str) -> str:
    return str(cli("generate", "config", *args).stdout)


def check(text: str, workdir: Path, binary: str) -> subprocess.CompletedProcess[str]:
    return NatsServer(workdir=workdir, config=text, binary=binary).check_config()


@pytest.mark.parametrize("args", [
    ("--resolver", "memory"),
    ("--resolver", "full"),
    ("--resolver", "full", "--allow-delete", "--preload-all"),
    ("--resolver", "cache"),
    ("--resolver", "url"),
])
def test_generated_configs_pass_nats_server_t(home: Cli, tmp_path: Path, nats_server_binary: str,
                                              args: tuple[str, ...]) -> None:
    text = config(home, *args, "--dir", str(tmp_path / "jwt"))
    result = check(text, tmp_path, nats_server_binary)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.fixture(scope="module")
def memory_server(home: Cli, tmp_path_factory: pytest.TempPathFactory, nats_server_binary: str) -> Iterator[NatsServer]:
    server = NatsServer(workdir=tmp_path_factory.mktemp("mem"), config=config(home, "--resolver", "memory"),
                        binary=nats_server_binary)
    with server:
        yield server


async def pubsub(url: str, sender: Path, receiver: Path) -> bytes:
    a = await nats.connect(url, user_credentials=str(receiver))
    b = await nats.connect(url, user_credentials=str(sender))
    try:
        sub = await a.subscribe("greet")
        # nats-py puts a flush's PING *before* pending commands, so its PONG can come back before the
        # server saw the SUB (observed: a publish from another connection got lost). The second
        # PING goes out after the SUB, so its PONG proves the subscription exists.
        await flushed(a)
        await flushed(a)
        await b.publish("greet", b"hello")
        return (await sub.next_msg(timeout=5)).data
    finally:
        await a.close()
        await b.close()


def test_memory_config_server_accepts_cli_made_creds_and_pubsub_works(home: Cli, memory_server: NatsServer) -> None:
    creds = home.home / "keys" / "creds" / "OP" / "A"
    assert asyncio.run(pubsub(memory_server.url, creds / "u.creds", creds / "w.creds")) == b"hello"


def test_full_config_server_accepts_cli_made_creds(home: Cli, tmp_path: Path, nats_server_binary: str) -> None:
    text = config(home, "--resolver", "full", "--preload-all", "--dir", str(tmp_path / "jwt"))
    creds = home.home / "keys" / "creds" / "OP" / "A"
    with NatsServer(workdir=tmp_path, config=text, binary=nats_server_binary) as server:
        assert asyncio.run(pubsub(server.url, creds / "u.creds", creds / "w.creds")) == b"hello"


def test_url_config_uses_the_account_server_url_and_refuses_mem_in_it(home: Cli) -> None:
    assert "resolver: URL(http://127.0.0.1:9/jwt/v1/accounts/)" in config(home, "--resolver", "url")
    result = home("generate", "config", "--resolver", "url", "--url", "http://memcache.local/jwt/v1", code=1)
    assert "MEMORY" in result.stderr


def test_config_to_a_file_and_as_json(home: Cli, tmp_path: Path) -> None:
    out = tmp_path / "n.conf"
    doc = home.json("generate", "config", "--resolver", "memory", "-o", str(out))
    assert doc["path"] == str(out) and doc["config"] is None and "resolver: MEMORY" in out.read_text()


def test_generate_nkey_prints_seed_then_public_key_and_can_store_it(home: Cli) -> None:
    seed, pub = home("generate", "nkey", "--account", home=False).stdout.split()
    assert load_seed(seed).public_key == pub and pub.startswith("A")
    doc = home.json("generate", "nkey", "--user", "--store")
    assert Path(doc["path"]).read_text() == doc["seed"]
    assert "give one of" in home("generate", "nkey", home=False, code=2).stderr


def test_generate_creds_matches_the_stored_creds(home: Cli, tmp_path: Path) -> None:
    text = home("generate", "creds", "--account", "A", "--name", "u").stdout
    assert text == (home.home / "keys" / "creds" / "OP" / "A" / "u.creds").read_text()
    home("generate", "creds", "--account", "A", "--name", "u", "-o", str(tmp_path / "u.creds"))
    assert (tmp_path / "u.creds").read_text() == text
    assert (tmp_path / "u.creds").stat().st_mode & 0o777 == 0o600
