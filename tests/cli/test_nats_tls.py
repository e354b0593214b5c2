"""push/pull, ``servers`` and ``events`` over TLS to a nats-server with ``verify: true`` (certificates
made by the test), and the one-line errors when a certificate is missing or unusable."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from accountd.natsserver import NatsServer
from tlsfiles import TLSFiles, make_tls, tls_url

from .helpers import Cli, make_world


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory,
          nats_server_binary: str) -> Iterator[tuple[Cli, NatsServer, TLSFiles]]:
    root = tmp_path_factory.mktemp("natstls")
    tls = make_tls(root / "tls")
    cli = make_world(Cli(root / "home"))
    text = cli("generate", "config", "--resolver", "full", "--allow-delete", "--dir", str(root / "jwt")).stdout
    server = NatsServer(workdir=root / "server", config=text + tls.server_block(), binary=nats_server_binary).start()
    try:
        yield cli, server, tls
    finally:
        server.stop()


def sys_creds(cli: Cli) -> str:
    return str(cli.home / "keys" / "creds" / "OP" / "SYS" / "sys.creds")


def test_push_and_pull_over_nats_with_tls(setup: tuple[Cli, NatsServer, TLSFiles]) -> None:
    cli, server, tls = setup
    doc = cli.json("push", "--all", "--url", tls_url(server), *tls.cli_args())
    assert doc["ok"] and doc["transport"] == "nats"
    assert {s["message"] for row in doc["results"] for s in row["servers"]} == {"jwt updated"}
    doc = cli.json("pull", "--all", "--url", tls_url(server), *tls.cli_args())
    assert {r["state"] for r in doc["results"]} == {"unchanged"}


def test_push_without_a_client_certificate_fails_in_one_line(setup: tuple[Cli, NatsServer, TLSFiles]) -> None:
    cli, server, tls = setup
    result = cli("push", "--all", "--url", tls_url(server), "--nats-tls-ca", str(tls.ca), code=1)
    assert "client certificate" in result.stderr and "Traceback" not in result.stderr
    assert result.stderr.count(f"cannot connect to {tls_url(server)}") == 1


def test_servers_and_events_over_tls_from_the_environment(setup: tuple[Cli, NatsServer, TLSFiles]) -> None:
    cli, server, tls = setup
    env = {"ACCOUNTD_NATS_TLS_CA": str(tls.ca), "ACCOUNTD_NATS_TLS_CERT": str(tls.client_cert),
           "ACCOUNTD_NATS_TLS_KEY": str(tls.client_key)}
    result = cli("servers", "--json", "--nats", tls_url(server), "--creds", sys_creds(cli), home=False, env=env)
    (row,) = json.loads(result.stdout)["servers"]
    assert row["status"] == "up"
    result = cli("events", "--wait", "0.5", "--type", "stats", "--json", "--nats", tls_url(server),
                 "--creds", sys_creds(cli), home=False, env=env)  # fmt: skip
    assert json.loads(result.stdout)["events"]  # the PING sent at start is answered over TLS


def test_servers_with_an_untrusted_server_certificate_says_so(setup: tuple[Cli, NatsServer, TLSFiles]) -> None:
    cli, server, tls = setup
    result = cli("servers", "--json", "--nats", tls_url(server), "--creds", sys_creds(cli),
                 "--nats-tls-ca", str(tls.other_ca), "--nats-tls-cert", str(tls.client_cert),
                 "--nats-tls-key", str(tls.client_key), home=False, code=1)  # fmt: skip
    doc = json.loads(result.stdout)
    assert doc["error"]["code"] == "nats_unavailable"
    assert "certificate is not trusted" in doc["error"]["message"] and "--nats-tls" in doc["error"]["hint"]


def test_an_unusable_tls_file_is_a_usage_error(setup: tuple[Cli, NatsServer, TLSFiles], tmp_path: Path) -> None:
    cli, server, tls = setup
    (tmp_path / "junk.pem").write_text("junk\n")
    result = cli("servers", "--nats", tls_url(server), "--nats-tls-ca", str(tmp_path / "junk.pem"), home=False,
                 code=2)
    assert "--nats-tls-ca" in result.stderr
    result = cli("events", "--nats", tls_url(server), "--nats-tls-cert", str(tls.client_cert), home=False, code=2)
    assert "go together" in result.stderr
