"""``accountd import nsc DIR`` — copy an existing nsc tree (stores, seeds, creds) into the home."""

from __future__ import annotations

from pathlib import Path

import click

from accountd.cli.common import JsonGroup, nsc_command, open_home, progress, waiting
from accountd.cli.output import emit
from accountd.cli.root import main
from accountd.nsc.importer import import_tree

__all__ = ["import_group"]


@main.group("import", cls=JsonGroup)
def import_group() -> None:
    """Bring existing material into the home."""


@import_group.command("nsc", epilog='\b\n--json prints: {"home", "source", "operators": [NAME], "accounts": N, '
                                    '"users": N, "keys": N, "creds": N, "unchanged": N, '
                                    '"skipped": [{"path", "reason"}]}')
@click.argument("source", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--keystore", type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="nsc's keystore (default: SOURCE/keys when SOURCE is a data directory; $NKEYS_PATH in nsc).")
@click.option("--overwrite", is_flag=True, help="Replace JWTs and creds that differ (seeds are never replaced).")
@nsc_command
def import_nsc(source: Path, keystore: Path | None, overwrite: bool, as_json: bool, home: Path | None) -> None:
    """Copy an nsc data directory, its stores/ or one operator directory into the home.

    SOURCE is typically ~/.local/share/nats/nsc (holding stores/ and keys/). Every JWT, seed and
    creds file is checked first; invalid ones are skipped and listed, and nothing is written when
    a file in the home would be replaced without --overwrite.
    """
    h = open_home(home)
    with progress("import") as step, h.writing(waiting, create=True) as tx:
        result = import_tree(h, tx, source.absolute(), keystore=keystore.absolute() if keystore else None,
                             overwrite=overwrite, progress=step)
    doc = {"home": str(h.root), "source": str(source.absolute()), **result.to_json()}
    lines = [f"imported into {h.root}: operators {', '.join(result.operators) or '-'}; {result.accounts} accounts, "
             f"{result.users} users, {result.keys} seeds, {result.creds} creds ({result.unchanged} unchanged)"]
    lines += [f"skipped {s['path']}: {s['reason']}" for s in result.skipped]
    emit(doc, as_json, lambda _: "\n".join(lines))
