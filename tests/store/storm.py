"""A write storm in a child process, killed with SIGKILL mid-write: the acknowledgements it printed.

The child opens a store from an ``open_store`` spec, and eight workers put (and every fifth time
delete) accounts of their own and a shared hot account, printing each acknowledged write; every
write says its worker in its origin. :func:`check_history` then checks the store's history.
"""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

from contract import key

from accountd.store import DEFAULT_HISTORY, Store
from accountd.types import AccountKey

STORM = """
import asyncio, sys
sys.path.insert(0, sys.argv[2])
from contract import key
from accountd.store import open_store

async def main(spec):
    store = open_store(spec)
    await store.open()
    hot = key("hot")
    seq = 0

    async def worker(w):
        nonlocal seq
        for i in range(1_000_000):
            account = key(f"{w}-{i}")
            origin = {"via": "storm", "worker": str(w)}
            await store.put(account, f"hdr.{account}.{i}", origin=origin)
            print("put", account, f"hdr.{account}.{i}", flush=True)
            if i % 5 == 0:
                await store.delete(account, f"tok.{account}", origin=origin)
                print("del", account, f"tok.{account}", flush=True)
            seq += 1
            n = seq
            await store.put(hot, f"hdr.{hot}.{n}", origin=origin)
            print("hot", hot, n, flush=True)

    await asyncio.gather(*(worker(w) for w in range(8)))

asyncio.run(main(sys.argv[1]))
"""


def storm(spec: str, *, lines: int) -> list[list[str]]:
    """Run the storm on ``spec`` until it acknowledged ``lines`` writes, SIGKILL it, return every
    whole line it printed, split: ``[kind, account, value]``."""
    command = [sys.executable, "-c", STORM, spec, str(Path(__file__).parent)]
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE) as child:
        assert child.stdout is not None and child.stderr is not None
        output = b""
        while output.count(b"\n") < lines:  # let the storm run, then kill it mid-write
            line = child.stdout.readline()
            assert line, child.stderr.read().decode()
            output += line
        child.send_signal(signal.SIGKILL)
        output += child.stdout.read()  # through readline's buffer: no line is lost or cut
    return [line.split() for line in output.decode().splitlines(keepends=True) if line.endswith("\n")]


async def check_history(store: Store, acks: list[list[str]]) -> None:
    """Every acknowledged write of the storm is a version in the history of its account, with its
    origin; the hot account keeps the last :data:`DEFAULT_HISTORY` of its versions, the newest one
    its current record."""
    for kind, account, value in acks:
        if kind == "hot":
            continue
        versions = {(v.jwt, v.deleted): v for v in await store.history(AccountKey(account))}
        version = versions.get((value, kind == "del"))
        assert version is not None, (kind, account, value)
        assert version.origin["via"] == "storm" and version.stored_at > 0
    hot = await store.history(key("hot"))
    newest = int(hot[0].jwt.rsplit(".", 1)[1])
    assert hot[0].jwt == (await store.get(key("hot"))).jwt
    kept = {int(v.jwt.rsplit(".", 1)[1]) for v in hot}
    acked = {int(n) for kind, _, n in acks if kind == "hot"}
    assert len(hot) == min(DEFAULT_HISTORY, newest)  # hot writes are committed in the order of their n
    assert {n for n in acked if n > newest - DEFAULT_HISTORY} <= kept
