"""Moving accounts between a store and a directory of ``<PUB>.jwt`` files, a million in minutes.

``import_directory`` reads a directory in nats-server's layout (flat or sharded; what the Go
nats-account-server and nats-server's full resolver write), decodes and verifies every JWT in
worker processes (both cores), and stores the valid ones with the meta the service serves them
by, newest ``iat`` winning over what the store holds, without marking them for publication (the
servers have them already). ``export_directory`` writes every live account of a store as files,
made durable with one ``syncfs`` at the end. Both walk in chunks: memory stays flat.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from accountd.claims import DecodeError, Trust, decode_account
from accountd.service.cache import entry_of, meta_of
from accountd.service.origin import IMPORT
from accountd.store import Record, Store, StoreError
from accountd.store._files import JwtFiles, make_dirs, syncfs
from accountd.types import JWT, AccountKey

__all__ = ["Transfer", "export_directory", "import_directory"]

CHUNK = 2000
"""Files per task of a worker process; puts per group commit."""
MAX_SKIPPED = 20
"""Skipped files listed by name (all are counted)."""

Progress = Callable[[int, int], None]


@dataclass
class Transfer:
    """What an import or export did."""

    source: str
    target: str
    files: int = 0
    stored: int = 0
    unchanged: int = 0
    stale: int = 0
    skipped: int = 0
    skipped_files: list[dict[str, str]] = field(default_factory=list)

    def skip(self, path: str, reason: str) -> None:
        self.skipped += 1
        if len(self.skipped_files) < MAX_SKIPPED:
            self.skipped_files.append({"path": path, "reason": reason})

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _where(store: Store) -> str:
    return str(getattr(store, "path", "") or store.name)


def _paths(root: Path) -> Iterator[Path]:
    return JwtFiles(root, shard=False).entries()


def _decode_chunk(args: tuple[list[str], tuple[str, ...]]) -> list[tuple[str, str, str, dict[str, int | str] | None]]:
    """In a worker process: ``(path, account, jwt or reason, meta or None)`` per file."""
    paths, operators = args
    trust = Trust.from_jwts(*operators) if operators else None
    out: list[tuple[str, str, str, dict[str, int | str] | None]] = []
    for path in paths:
        account = os.path.basename(path)[: -len(".jwt")]
        try:
            with open(path, "rb") as f:
                text = f.read().decode().strip()
            claims = decode_account(text)
        except (OSError, UnicodeDecodeError) as exc:
            out.append((path, account, f"cannot read: {exc}", None))
            continue
        except DecodeError as exc:
            out.append((path, account, f"not a valid account JWT: {exc.message}", None))
            continue
        if claims.sub != account:
            out.append((path, account, f"holds the JWT of {claims.sub}", None))
        elif trust is not None and not trust.is_operator_key(claims.iss):
            out.append((path, account, f"signed by {claims.iss}, not by the operator or one of its signing keys", None))
        else:
            out.append((path, account, text, meta_of(claims)))
    return out


async def import_directory(store: Store, source: Path, *, operators: tuple[str, ...] = (),
                           progress: Progress | None = None, workers: int | None = None) -> Transfer:
    """Store every valid account JWT under ``source`` (see the module docstring)."""
    result = Transfer(str(source), _where(store))
    total = sum(1 for _ in _paths(source))
    loop = asyncio.get_running_loop()
    paths = _paths(source)
    workers = workers or min(4, os.cpu_count() or 1)
    # spawn, not fork: this process has threads (the store's), which a forked child would inherit mid-lock.
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        inflight: list[asyncio.Future[Any]] = []
        more = True
        while more or inflight:
            while more and len(inflight) < workers + 1:
                chunk = [str(p) for _, p in zip(range(CHUNK), paths, strict=False)]
                if not chunk:
                    more = False
                    break
                inflight.append(loop.run_in_executor(pool, _decode_chunk, (chunk, operators)))
            if not inflight:
                break
            decoded = await inflight.pop(0)
            await asyncio.gather(*(_store_one(store, result, *item) for item in decoded))
            result.files += len(decoded)
            if progress is not None:
                progress(result.files, total)
    return result


async def _store_one(store: Store, result: Transfer, path: str, account: str, text: str,
                     meta: dict[str, int | str] | None) -> None:
    if meta is None:
        result.skip(path, text)
        return
    key = AccountKey(account)
    current = await store.lookup(key)
    if current is not None and not current.deleted:
        if current.jwt == text:
            result.unchanged += 1
            return
        try:
            held = entry_of(current)
        except DecodeError:
            held = None
        if held is not None and held.is_newer_than(int(meta["iat"]), str(meta["jti"])):
            result.stale += 1
            return
    await store.put(key, JWT(text), meta=meta, publish=False, origin=IMPORT)
    result.stored += 1


async def export_directory(store: Store, target: Path, *, shard: bool = False,
                           progress: Progress | None = None) -> Transfer:
    """Write every live account of ``store`` as ``target/<PUB>.jwt`` (``shard``: under its last two
    characters). ``target`` must be empty or missing."""
    result = Transfer(_where(store), str(target))
    if target.exists() and any(target.iterdir()):
        raise StoreError(f"{target} is not empty: export into a new or empty directory")
    make_dirs(target)
    files = JwtFiles(target, shard=shard)
    total = await store.count()
    after: AccountKey | None = None
    while True:
        keys = await store.list(after=after, limit=CHUNK)
        if not keys:
            break
        records: list[Record] = []
        for key in keys:
            record = await store.lookup(key)
            if record is not None and not record.deleted:
                records.append(record)
        await asyncio.to_thread(_write_all, files, records)
        result.files += len(records)
        result.stored += len(records)
        if progress is not None:
            progress(result.files, total)
        after = keys[-1]
    await asyncio.to_thread(syncfs, target)
    return result


def _write_all(files: JwtFiles, records: list[Record]) -> None:
    for record in records:
        files.write(record.account, record.jwt)
