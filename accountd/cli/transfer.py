"""``accountd import dir SRC`` and ``accountd export dir DEST``: a store to and from ``<PUB>.jwt`` files."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import click

from accountd.claims import ClaimsError, extract_jwt
from accountd.cli.common import JsonGroup, progress
from accountd.cli.importing import import_group
from accountd.cli.output import CommandFailed, emit
from accountd.cli.root import main
from accountd.service.transfer import Transfer, export_directory, import_directory
from accountd.store import Store, StoreError, open_store

__all__ = ["export_group"]

Step = Callable[[int, int], None]
Work = Callable[[Store, Step], Awaitable[Transfer]]

_STORE_HELP = "The store: a directory, dir:PATH[?shard=true], sqlite:PATH or nats-kv://BUCKET (as serve's --store)."
_EPILOG = ('\b\n--json prints: {"source", "target", "files", "stored", "unchanged", "stale", "skipped", '
           '"skipped_files": [{"path", "reason"}], "seconds"}')


@main.group("export", cls=JsonGroup)
def export_group() -> None:
    """Write what a store holds in another layout."""


def _open(spec: str) -> Store:
    try:
        return open_store(spec)
    except ValueError as exc:
        raise CommandFailed(str(exc), "see accountd serve --help for the forms of --store", code="usage") from None


def _run(spec: str, label: str, work: Work, as_json: bool) -> None:
    async def run() -> Transfer:
        store = _open(spec)
        await store.open()
        try:
            with progress(label) as step:
                return await work(store, step)
        finally:
            await store.close()

    started = time.monotonic()
    try:
        result = asyncio.run(run())
    except StoreError as exc:
        raise CommandFailed(str(exc), "is accountd serve running on this store? stop it first", code="store") from None
    doc = {**result.to_json(), "seconds": round(time.monotonic() - started, 1)}
    lines = [f"{label}: {result.files:,} files, {result.stored:,} stored, {result.unchanged:,} unchanged, "
             f"{result.stale:,} older than the stored ones, {result.skipped:,} skipped ({doc['seconds']} s)"]
    lines += [f"skipped {s['path']}: {s['reason']}" for s in result.skipped_files]
    if result.skipped > len(result.skipped_files):
        lines.append(f"… and {result.skipped - len(result.skipped_files):,} more skipped")
    emit(doc, as_json, lambda _: "\n".join(lines))


@import_group.command("dir", epilog=_EPILOG)
@click.argument("source", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--store", "spec", required=True, help=_STORE_HELP)
@click.option("--operator", "operator", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Operator JWT: skip account JWTs it (or its signing keys) did not sign.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def import_dir(source: Path, spec: str, operator: Path | None, as_json: bool) -> None:
    """Store the account JWTs of a directory of <PUB>.jwt files (flat or sharded, as the Go
    nats-account-server and nats-server's full resolver keep them).

    Every JWT is decoded and its signature checked (in worker processes); invalid ones are
    skipped and listed. An account the store holds with a newer iat is kept. Imported accounts
    are not published to NATS: the servers have them already. Stop accountd serve on the target
    store first.
    """
    operators: tuple[str, ...] = ()
    if operator is not None:
        try:
            operators = (extract_jwt(operator.read_text()),)
        except ClaimsError as exc:
            raise CommandFailed(f"{operator}: {exc.message}", "pass the operator's JWT file", code="usage") from None

    async def work(store: Store, step: Step) -> Transfer:
        return await import_directory(store, source.absolute(), operators=operators, progress=step)

    _run(spec, "import", work, as_json)


@export_group.command("dir", epilog=_EPILOG)
@click.argument("target", type=click.Path(file_okay=False, path_type=Path))
@click.option("--store", "spec", required=True, help=_STORE_HELP)
@click.option("--shard", is_flag=True, help="Write <last 2 chars>/<PUB>.jwt (nats-server's sharded layout).")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def export_dir(target: Path, spec: str, shard: bool, as_json: bool) -> None:
    """Write every live account of a store as TARGET/<PUB>.jwt, for the Go nats-account-server or
    nats-server's full resolver. TARGET must be new or empty; the files are fsync'd at the end."""

    async def work(store: Store, step: Step) -> Transfer:
        return await export_directory(store, target.absolute(), shard=shard, progress=step)

    _run(spec, "export", work, as_json)
