"""``accountd servers`` and ``accountd events`` against a real nats-server."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from accountd.cli import main
from accountd.cli.monitor import event_line
from accountd.natsserver import NatsServer
from harness import VectorSet

from .support import open_client, vector_keys


def run(*args: str, env: dict[str, str] | None = None) -> Any:
    return CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)


def test_servers_lists_the_server(op_server: NatsServer, basic: VectorSet) -> None:
    result = run("servers", "--nats", op_server.url, "--creds", str(basic.file("sys.creds")))
    assert result.exit_code == 0, result.output
    header, _rule, row = result.stdout.splitlines()
    assert header.split()[:4] == ["NAME", "CLUSTER", "VERSION", "CONNS"]
    assert row.split()[0] == "n1" and "2.15" in row


def test_servers_json_reads_url_and_creds_from_the_environment(op_server: NatsServer, basic: VectorSet) -> None:
    env = {"ACCOUNTD_NATS": op_server.url, "ACCOUNTD_CREDS": str(basic.file("sys.creds"))}
    result = run("servers", "--json", env=env)
    assert result.exit_code == 0, result.output
    (server,) = json.loads(result.stdout)["servers"]
    assert server["name"] == "n1" and server["status"] == "up" and server["connections"] >= 1


def test_servers_with_non_system_creds_fails_with_a_hint(op_server: NatsServer, basic: VectorSet) -> None:
    result = run("servers", "--json", "--nats", op_server.url, "--creds", str(basic.file("U.creds")))
    assert result.exit_code == 1
    doc = json.loads(result.stdout)
    assert doc["error"]["code"] == "no_servers"
    assert "system account" in doc["error"]["hint"]


def test_servers_without_a_server_fails_cleanly(basic: VectorSet) -> None:
    result = run("servers", "--nats", "nats://127.0.0.1:1", "--creds", str(basic.file("sys.creds")))
    assert result.exit_code == 1
    assert "cannot connect to NATS at nats://127.0.0.1:1" in result.stderr


def test_events_prints_the_ping_replies_as_stats(op_server: NatsServer, basic: VectorSet) -> None:
    result = run("events", "--wait", "0.5", "--type", "stats", "--json", "--nats", op_server.url,
                 "--creds", str(basic.file("sys.creds")))  # fmt: skip
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)["events"]
    assert rows and {r["kind"] for r in rows} == {"stats"} and rows[0]["server"] == "n1"


def test_event_lines_are_readable() -> None:
    row = {
        "kind": "disconnect", "time": "2026-11-24T15:57:19.035243Z", "server": "n1", "server_id": "N1",
        "account": "AAA", "account_name": "A", "user": "UUU", "user_name": "U", "reason": "Client Closed",
        "client": {"name": "worker", "host": "10.0.0.7"},
    }  # fmt: skip
    assert event_line(row) == (
        '15:57:19.035  disconnect  A (AAA)  user U (UUU)  client "worker" 10.0.0.7  on n1  reason: Client Closed'
    )


async def test_events_follow_json_prints_one_object_per_line(
    op_server: NatsServer, basic: VectorSet, tmp_path: Path
) -> None:
    _, a_pub = vector_keys(basic)
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "accountd", "events", "--follow", "--json", "--account", a_pub,
        "--type", "connect", "--type", "disconnect", "--type", "stats",
        "--nats", op_server.url, "--creds", str(basic.file("sys.creds")),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )  # fmt: skip
    assert proc.stdout is not None
    try:
        # The subscriptions are in place once it says so on stderr.
        assert proc.stderr is not None
        assert b"following" in await asyncio.wait_for(proc.stderr.readline(), 30)
        client = await open_client(op_server.url, basic.file("U.creds"), "followed")
        await client.close()
        rows: list[dict[str, Any]] = []
        while not any(r["kind"] == "disconnect" for r in rows):
            line = await asyncio.wait_for(proc.stdout.readline(), 30)
            assert line, "events --follow exited early"
            rows.append(json.loads(line))
    finally:
        proc.send_signal(signal.SIGINT)
        code = await asyncio.wait_for(proc.wait(), 30)
    assert code == 0
    # --account filters stats out (they belong to no account); both client events are there.
    assert [(r["kind"], r["client"]["name"], r["account"]) for r in rows] == [
        ("connect", "followed", a_pub), ("disconnect", "followed", a_pub),
    ]  # fmt: skip


def test_the_commands_document_their_options() -> None:
    for command in ("events", "servers"):
        text = run(command, "--help").stdout
        for option in ("--nats", "--creds", "--json", "ACCOUNTD_NATS", "ACCOUNTD_CREDS"):
            assert option in text, (command, option)
    assert "one JSON object per line" in " ".join(run("events", "--help").stdout.split())


@pytest.mark.parametrize("bad", ["--type=bogus", "--wait=soon"])
def test_events_rejects_bad_options(bad: str) -> None:
    assert CliRunner().invoke(main, ["events", bad]).exit_code == 2
