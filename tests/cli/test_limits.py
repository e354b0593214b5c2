"""JetStream limits of add/edit account — global and tiered (nsc's --js-tier N), --js-disable — and a
tiered limit enforced by a real nats-server with JetStream on."""

from __future__ import annotations

import asyncio
from pathlib import Path

import nats
from nats.js.errors import APIError

from accountd.claims import decode_account
from accountd.natsserver import NatsServer

from .helpers import Cli, snapshot


def limits(cli: Cli, name: str = "A"):  # type: ignore[no-untyped-def]
    return decode_account((cli.opdir / "accounts" / name / f"{name}.jwt").read_text()).nats.limits


def test_add_account_takes_global_jetstream_limits(world: Cli) -> None:
    world("add", "account", "--name", "J", "--js-mem-storage", "1G", "--js-disk-storage", "-1", "--js-streams", "5",
          "--js-consumer", "50", "--js-max-ack-pending", "1000")
    lim = limits(world, "J")
    assert (lim.mem_storage, lim.disk_storage, lim.streams, lim.consumer, lim.max_ack_pending) == \
        (1 << 30, -1, 5, 50, 1000)
    assert lim.tiered_limits == {}


def test_js_tier_sets_tiered_limits_as_nsc_names_them(world: Cli) -> None:
    doc = world.json("edit", "account", "--name", "A", "--js-tier", "1", "--js-disk-storage", "-1",
                     "--js-mem-storage", "-1", "--js-streams", "1")
    assert "R1.streams=1" in doc["changes"]
    world("edit", "account", "--name", "A", "--js-tier", "R3", "--js-disk-storage", "1G")
    lim = limits(world)
    assert sorted(lim.tiered_limits) == ["R1", "R3"] and lim.tiered_limits["R1"].streams == 1
    assert lim.tiered_limits["R3"].disk_storage == 1 << 30 and not lim.jetstream_flat().enabled()
    tiers = world.json("describe", "account", "--name", "A")["nats"]["limits"]["tiered_limits"]
    assert tiers["R1"] == {"mem_storage": -1, "disk_storage": -1, "streams": 1}
    world("edit", "account", "--name", "A", "--rm-js-tier", "3")
    assert sorted(limits(world).tiered_limits) == ["R1"]


def test_global_and_tiered_limits_do_not_mix_and_nothing_is_written(world: Cli) -> None:
    world("edit", "account", "--name", "A", "--js-tier", "1", "--js-streams", "1")
    before = snapshot(world.home)
    assert "tiered limits (R1)" in world("edit", "account", "--name", "A", "--js-streams", "2", code=2).stderr
    assert snapshot(world.home) == before
    world("edit", "account", "--name", "A", "--js-disable")
    world("edit", "account", "--name", "A", "--js-disk-storage", "1G")
    assert "global JetStream limits" in world("edit", "account", "--name", "A", "--js-tier", "1",
                                              "--js-streams", "1", code=2).stderr
    world("edit", "account", "--name", "A", "--rm-js-tier", "0", "--js-tier", "1", "--js-streams", "1")
    lim = limits(world)
    assert lim.disk_storage == 0 and lim.tiered_limits["R1"].streams == 1


def test_js_disable_removes_every_jetstream_limit(world: Cli) -> None:
    world("edit", "account", "--name", "A", "--js-tier", "1", "--js-disk-storage", "-1")
    world("edit", "account", "--name", "A", "--js-disable")
    lim = limits(world)
    assert lim.tiered_limits == {} and not lim.jetstream_flat().enabled()
    assert world.json("describe", "account", "--name", "A")["nats"]["limits"].get("tiered_limits") is None


async def two_streams(url: str, creds: Path) -> str:
    nc = await nats.connect(url, user_credentials=str(creds))
    try:
        js = nc.jetstream()
        await js.add_stream(name="ONE", subjects=["one"], num_replicas=1)
        try:
            await js.add_stream(name="TWO", subjects=["two"], num_replicas=1)
        except APIError as exc:
            return str(exc.description)
        return "created"
    finally:
        await nc.close()


def test_a_tiered_stream_limit_is_enforced_by_nats_server(world: Cli, tmp_path: Path, nats_server_binary: str) -> None:
    world("edit", "account", "--name", "A", "--js-tier", "1", "--js-mem-storage", "64M", "--js-disk-storage", "64M",
          "--js-streams", "1")
    text = world("generate", "config", "--resolver", "memory").stdout
    text += f'jetstream {{ store_dir: "{tmp_path / "js"}", max_memory_store: 256MB, max_file_store: 256MB }}\n'
    creds = world.home / "keys" / "creds" / "OP" / "A" / "u.creds"
    with NatsServer(workdir=tmp_path / "server", config=text, binary=nats_server_binary) as server:
        assert "maximum number of streams reached" in asyncio.run(two_streams(server.url, creds))
