"""Data for ``bench.scale``: cached stores of signed account JWTs, working copies, new versions.

Layout under the work directory (``bench/.scale-data/`` by default, gitignored)::

    dir-<N>/operator.jwt       the operator JWT every account is signed by
    dir-<N>/operator.nk        its seed (signs the new versions POSTed by the benchmark)
    dir-<N>/store/<PUB>.jwt    N account JWTs, nats-server's flat layout, 0600
    dir-<N>/accounts.txt       the N public keys, one a line
    dir-<N>/complete           written last: the cache is usable
    dir-<N>/posts-<M>.txt      M new versions ("<pub> <jwt>" lines) of random accounts
    dir-<N>/sqlite/accounts.db the store imported by ``accountd import dir`` (when it exists)

Generation and signing run in a process pool over every core; a cache is reused until deleted.
The pristine store is never served: each run serves a hard-linked copy (``cp -al``), which is
safe because accountd replaces files by rename and never writes one in place.
"""

from __future__ import annotations

import base64
import multiprocessing
import os
import random
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import nacl.signing
import nkeys

from accountd.claims import (
    KeyPair,
    Role,
    create,
    decode_account,
    encode,
    load_seed,
    new_account,
    new_operator,
)

CHUNK = 2_000
"""Accounts (or new versions) per task handed to a pool worker."""


@dataclass(frozen=True)
class Dataset:
    """One cached store of ``n`` accounts under ``root``."""

    root: Path
    n: int

    @property
    def store(self) -> Path:
        return self.root / "store"

    @property
    def operator_jwt(self) -> Path:
        return self.root / "operator.jwt"

    @property
    def operator_seed(self) -> Path:
        return self.root / "operator.nk"

    @property
    def ready(self) -> bool:
        return (self.root / "complete").exists()

    def accounts(self) -> list[str]:
        return (self.root / "accounts.txt").read_text().split()


def dataset(work: Path, n: int) -> Dataset:
    return Dataset(work / f"dir-{n}", n)


def _account_key() -> str:
    """A new account public key (its seed is not needed: the operator signs): libsodium's key
    generation and the official nkeys package's CRC-16, 5x faster than making a whole key pair."""
    body = bytes([Role.ACCOUNT.value]) + bytes(nacl.signing.SigningKey.generate().verify_key)
    return base64.b32encode(body + nkeys.crc16(bytearray(body)).to_bytes(2, "little")).decode().rstrip("=")


def _account_jwt(operator: KeyPair, i: int) -> tuple[str, str]:
    """A typical nsc account with limits, JetStream and one signing key, signed by the operator."""
    pub = _account_key()
    claims = new_account(pub, f"ACC{i:07d}")
    acc = claims.nats
    acc.limits.conn = 1000
    acc.limits.leaf = 10
    acc.limits.subs = 10_000
    acc.limits.data = 1 << 30
    acc.limits.payload = 1 << 20
    acc.limits.imports = 10
    acc.limits.exports = 10
    acc.limits.mem_storage = 256 << 20
    acc.limits.disk_storage = 1 << 30
    acc.limits.streams = 10
    acc.limits.consumer = 100
    acc.signing_keys = [_account_key()]
    acc.tags = ["env:bench"]
    return pub, encode(claims, operator)


def _write_chunk(task: tuple[str, str, int, int]) -> list[str]:
    store, op_seed, start, count = task
    operator = load_seed(op_seed, Role.OPERATOR)
    pubs = []
    for i in range(start, start + count):
        pub, jwt = _account_jwt(operator, i)
        fd = os.open(os.path.join(store, f"{pub}.jwt"), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(jwt)
        pubs.append(pub)
    return pubs


def _chunks(total: int) -> Iterator[tuple[int, int]]:
    for start in range(0, total, CHUNK):
        yield start, min(CHUNK, total - start)


def generate(ds: Dataset, workers: int, say: Callable[[str], object] = print) -> float:
    """Build ``ds`` unless cached; returns the seconds spent (0 when cached)."""
    if ds.ready:
        return 0.0
    tmp = ds.root.with_name(ds.root.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    (tmp / "store").mkdir(parents=True)
    operator = create(Role.OPERATOR)
    (tmp / "operator.nk").write_text(operator.seed.reveal() + "\n")
    os.chmod(tmp / "operator.nk", 0o600)
    (tmp / "operator.jwt").write_text(encode(new_operator(operator.public_key, "SCALE"), operator) + "\n")
    say(f"generating {ds.n:,} signed account JWTs in {tmp} ({workers} processes)")
    t0 = time.perf_counter()
    tasks = [(str(tmp / "store"), operator.seed.reveal(), s, c) for s, c in _chunks(ds.n)]
    done = 0
    with multiprocessing.Pool(workers) as pool, open(tmp / "accounts.txt", "w") as out:
        for pubs in pool.imap_unordered(_write_chunk, tasks):
            out.write("".join(p + "\n" for p in pubs))
            done += len(pubs)
            if done % 100_000 < CHUNK and ds.n >= 100_000:
                say(f"  {done:,} / {ds.n:,} ({done / (time.perf_counter() - t0):,.0f}/s)")
    shutil.rmtree(ds.root, ignore_errors=True)
    tmp.rename(ds.root)
    (ds.root / "complete").write_text(f"{ds.n}\n")
    return time.perf_counter() - t0


def _version_chunk(task: tuple[str, str, list[str], int, int]) -> list[str]:
    store, op_seed, pubs, first, iat = task
    operator = load_seed(op_seed, Role.OPERATOR)
    lines = []
    for v, pub in enumerate(pubs, first):
        claims = decode_account(Path(store, f"{pub}.jwt").read_text().strip())
        claims.nats.limits.subs = 20_000 + v  # each version differs from every other one
        lines.append(f"{pub} {encode(claims, operator, now=iat)}\n")
    return lines


def post_versions(ds: Dataset, count: int, workers: int, say: Callable[[str], object] = print) -> Path:
    """``count`` new versions of random stored accounts, re-signed by the operator (cached).

    All carry one iat, newer than any stored one: versions of the same account are then all
    accepted in whatever order concurrent POSTs land (equal iat is accepted), and each differs
    from the others, so no POST is an "unchanged" no-op.
    """
    path = ds.root / f"posts-{count}.txt"
    if path.exists():
        return path
    say(f"signing {count:,} new versions of random accounts of the {ds.n:,}-account store")
    rng = random.Random(count)
    pubs = rng.choices(ds.accounts(), k=count)
    iat = int(time.time())
    seed = ds.operator_seed.read_text().strip()
    tasks = [(str(ds.store), seed, pubs[s : s + c], s, iat) for s, c in _chunks(count)]
    tmp = path.with_suffix(".partial")
    with multiprocessing.Pool(workers) as pool, open(tmp, "w") as out:
        for lines in pool.imap(_version_chunk, tasks):
            out.writelines(lines)
    tmp.rename(path)
    return path


def get_paths(ds: Dataset, count: int) -> Path:
    """Paths of ``count`` random stored accounts (all of them when fewer), for wrk's GETs."""
    pubs = ds.accounts()
    path = ds.root / f"get-paths-{min(count, len(pubs))}.txt"
    if not path.exists():
        chosen = random.Random(count).sample(pubs, min(count, len(pubs)))
        path.write_text("".join(f"/jwt/v1/accounts/{p}\n" for p in chosen))
    return path


def link_copy(src: Path, dst: Path) -> None:
    """A hard-linked copy of ``src`` at ``dst`` (fresh: an existing ``dst`` is removed first)."""
    remove(dst)
    dst.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(["cp", "-al", str(src), str(dst)], check=True)


def remove(path: Path) -> None:
    if path.exists():
        subprocess.run(["rm", "-rf", str(path)], check=True)
