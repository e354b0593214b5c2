"""A 3-node nats-server cluster on loopback with JetStream, in operator mode, for the KV tests.

Every node runs a full resolver with the system account and a JetStream-enabled account ``KV``
preloaded: accountd's KV store connects as a user of ``KV`` (the system account cannot use
JetStream), its notifier as a user of ``SYS``.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass
from pathlib import Path

import nats
from nats.js.api import StreamConfig

from accountd.natsserver import NatsServer, free_port
from harness import operator_mode_config
from world import Account, World

__all__ = ["Cluster", "start_cluster"]


@dataclass
class Cluster:
    servers: list[NatsServer]
    world: World
    kv_account: Account
    operator: Path
    sys_creds: Path
    kv_creds: Path

    @property
    def urls(self) -> list[str]:
        return [s.url for s in self.servers]

    def kv_spec(self, bucket: str, **options: object) -> str:
        """A ``--store`` value for ``bucket`` on this cluster, as a user of the KV account."""
        query = {"servers": ",".join(self.urls), "creds": str(self.kv_creds), **options}
        return f"nats-kv://{bucket}?" + "&".join(f"{k}={v}" for k, v in query.items())

    async def stream_leader(self, stream: str) -> NatsServer:
        nc = await nats.connect(self.urls, user_credentials=str(self.kv_creds))
        try:
            info = await nc.jetstream().stream_info(stream)
        finally:
            await nc.close()
        assert info.cluster is not None
        return next(s for s in self.servers if s.name == info.cluster.leader)

    def stop(self) -> None:
        for server in self.servers:
            server.stop()


def start_cluster(workdir: Path, binary: str, size: int = 3) -> Cluster:
    world = World()
    kv = world.account("KV", mem_storage=-1, disk_storage=-1, streams=-1, consumer=-1)
    files = world.write(workdir / "world")
    kv_creds = workdir / "world" / "kv.creds"
    world.user_creds(kv, "kv", kv_creds)
    routes = [free_port() for _ in range(size)]
    servers = []
    for i in range(size):
        name = f"n{i + 1}"
        node = workdir / name
        extra = (
            f'jetstream {{ store_dir: "{node / "js"}", max_memory_store: 256MB, max_file_store: 2GB }}\n'
            f"cluster {{ name: kv, listen: 127.0.0.1:{routes[i]}, "
            f"routes: [{', '.join(f'nats-route://127.0.0.1:{p}' for p in routes)}] }}\n"
        )
        config = operator_mode_config(files["operator"], world.sys.pub, f'{{ type: full, dir: "{node / "jwt"}" }}',
                                      {world.sys.pub: world.sys.jwt, kv.pub: kv.jwt}, extra)
        servers.append(NatsServer(workdir=node, config=config, name=name, binary=binary))
    cluster = Cluster(servers, world, kv, files["operator"], files["sys_creds"], kv_creds)
    try:
        for server in servers:
            server.start()
        asyncio.run(wait_for_jetstream(cluster, size))
    except BaseException:
        cluster.stop()
        raise
    return cluster


async def wait_for_jetstream(cluster: Cluster, replicas: int, timeout: float = 60.0) -> None:
    """Until the cluster can place a stream with ``replicas`` replicas (the meta leader is elected)."""
    deadline = time.monotonic() + timeout
    nc = await nats.connect(cluster.urls, user_credentials=str(cluster.kv_creds))
    try:
        js = nc.jetstream(timeout=2)
        while True:
            try:
                await js.add_stream(StreamConfig(name="PROBE", subjects=["probe"], num_replicas=replicas))
                await js.delete_stream("PROBE")
                return
            except Exception:
                if time.monotonic() > deadline:
                    raise
                with contextlib.suppress(Exception):
                    await js.delete_stream("PROBE")
                await asyncio.sleep(0.1)
    finally:
        await nc.close()
