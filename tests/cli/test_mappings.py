"""accountd add mapping / delete mapping: weighted subject mappings, checked by a real nats-server."""

from __future__ import annotations

import asyncio
from pathlib import Path

import nats

from accountd.claims import decode_account
from accountd.natsclient import flushed
from accountd.natsserver import NatsServer

from .helpers import Cli, snapshot


def mappings(cli: Cli) -> dict[str, list[tuple[str, int]]]:
    claims = decode_account((cli.opdir / "accounts" / "A" / "A.jwt").read_text())
    return {k: [(t.subject, t.weight) for t in v] for k, v in claims.nats.mappings.items()}


def test_add_mapping_adds_entries_and_changes_a_weight(world: Cli) -> None:
    doc = world.json("add", "mapping", "--from", "orders", "--to", "orders.v1", "--weight", "50", "-a", "A")
    assert doc["mappings"] == [{"subject": "orders.v1", "weight": 50, "cluster": ""}]
    world("add", "mapping", "-a", "A", "-f", "orders", "-t", "orders.v2", "--weight", "50")
    world("add", "mapping", "-a", "A", "-f", "orders", "-t", "orders.v1", "--weight", "20")
    world("add", "mapping", "-a", "A", "-f", "plain", "-t", "other")
    assert mappings(world) == {"orders": [("orders.v1", 20), ("orders.v2", 50)], "plain": [("other", 0)]}
    assert world.json("describe", "account", "--name", "A")["nats"]["mappings"]["plain"] == [{"subject": "other"}]
    assert "orders.v1 (20%), orders.v2 (50%)" in world("describe", "account", "--name", "A").stdout


def test_weights_over_100_percent_are_refused_and_nothing_is_written(world: Cli) -> None:
    world("add", "mapping", "-a", "A", "--from", "orders", "--to", "orders.v1", "--weight", "60")
    before = snapshot(world.home)
    doc = world.json("add", "mapping", "-a", "A", "--from", "orders", "--to", "orders.v2", "--weight", "50", code=1)
    message = doc["error"]["message"]
    assert doc["error"]["code"] == "invalid"
    assert message == "the weights of the mapping from 'orders' would add up to 110% (orders.v1 60%, orders.v2 50%): " \
        "over 100%"
    assert snapshot(world.home) == before
    # 100 % by default: with the 60 % entry that is over 100 as well
    assert "add up to 160%" in world("add", "mapping", "-a", "A", "-f", "orders", "-t", "orders.v3", code=1).stderr
    assert snapshot(world.home) == before


def test_delete_mapping_removes_one_entry_or_all(world: Cli) -> None:
    world("add", "mapping", "-a", "A", "-f", "orders", "-t", "orders.v1", "--weight", "50")
    world("add", "mapping", "-a", "A", "-f", "orders", "-t", "orders.v2", "--weight", "50")
    doc = world.json("delete", "mapping", "-a", "A", "-f", "orders", "-t", "orders.v1")
    assert doc["mappings"] == [{"subject": "orders.v2", "weight": 50, "cluster": ""}]
    assert mappings(world) == {"orders": [("orders.v2", 50)]}
    assert "has no entry 'nope'" in world("delete", "mapping", "-a", "A", "-f", "orders", "-t", "nope", code=1).stderr
    world("delete", "mapping", "-a", "A", "--from", "orders")
    assert mappings(world) == {}
    assert "no mapping from 'orders'" in world("delete", "mapping", "-a", "A", "--from", "orders", code=1).stderr


async def routed(url: str, creds: Path) -> tuple[str, bytes]:
    nc = await nats.connect(url, user_credentials=str(creds))
    try:
        sub = await nc.subscribe("orders.v2")
        await flushed(nc)
        await flushed(nc)
        await nc.publish("orders", b"o-1")
        msg = await sub.next_msg(timeout=5)
        return msg.subject, msg.data
    finally:
        await nc.close()


def test_a_100_percent_mapping_routes_to_the_target_on_nats_server(world: Cli, tmp_path: Path,
                                                                   nats_server_binary: str) -> None:
    world("add", "mapping", "--from", "orders", "--to", "orders.v2", "--weight", "100", "--account", "A")
    text = world("generate", "config", "--resolver", "memory").stdout
    creds = world.home / "keys" / "creds" / "OP" / "A" / "u.creds"
    with NatsServer(workdir=tmp_path / "server", config=text, binary=nats_server_binary) as server:
        assert asyncio.run(routed(server.url, creds)) == ("orders.v2", b"o-1")
