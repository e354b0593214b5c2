"""Copy an existing nsc tree into a home (``accountd import nsc DIR``).

``DIR`` may be an nsc data directory (holding ``stores/`` and ``keys/``, e.g.
``~/.local/share/nats/nsc``), a ``stores`` directory (holding operator directories), or one
operator directory (holding ``.nsc``). The keystore is ``--keystore`` or ``DIR/keys``; seeds are
found anywhere below it (so the pre-2.0 ``~/.nkeys`` layout works too) and creds are mapped to
``creds/<Op>/<Acct>/<User>.creds`` from either layout.

Every file is checked before anything is written: JWTs must decode, seeds must pass their CRC.
Files that fail are skipped and reported. A file that exists in the home with other content is a
conflict: the whole import is refused unless ``overwrite`` (which never applies to seeds).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from accountd.claims.codec import decode_account, decode_operator, decode_user
from accountd.claims.creds import parse_creds
from accountd.claims.errors import ClaimsError
from accountd.claims.keys import load_seed
from accountd.claims.validate import extract_jwt
from accountd.nsc.atomic import Transaction
from accountd.nsc.errors import AlreadyExists, LayoutError
from accountd.nsc.home import Home

__all__ = ["ImportResult", "find_operator_dirs", "import_tree"]

Progress = Callable[[int, int], None]


@dataclass
class ImportResult:
    operators: list[str] = field(default_factory=list)
    accounts: int = 0
    users: int = 0
    keys: int = 0
    creds: int = 0
    unchanged: int = 0
    skipped: list[dict[str, str]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "operators": self.operators,
            "accounts": self.accounts,
            "users": self.users,
            "keys": self.keys,
            "creds": self.creds,
            "unchanged": self.unchanged,
            "skipped": self.skipped,
        }


def find_operator_dirs(src: Path) -> tuple[list[Path], Path | None]:
    """The operator directories in ``src`` and the keystore that goes with a data directory."""
    if not src.is_dir():
        raise LayoutError(f"{src} is not a directory", "pass an nsc data directory (with stores/ and keys/)")
    if (src / ".nsc").is_file():
        return [src], None
    stores = src / "stores" if (src / "stores").is_dir() else src
    ops = sorted(d for d in stores.iterdir() if (d / ".nsc").is_file())
    if not ops:
        raise LayoutError(
            f"{src} is not an nsc directory: no stores/ with operator directories (.nsc files) in it",
            "pass the nsc data directory (e.g. ~/.local/share/nats/nsc), its stores/ or an operator directory",
        )
    keystore = src / "keys" if (src / "keys").is_dir() and stores != src else None
    return ops, keystore


def _creds_target(ks_root: Path, path: Path) -> tuple[str, str, str] | None:
    parts = path.relative_to(ks_root).parts
    if len(parts) == 4 and parts[0] == "creds":  # creds/<op>/<acct>/<user>.creds
        return parts[1], parts[2], Path(parts[3]).stem
    if len(parts) == 5 and parts[1] == "accounts" and parts[3] == "users":  # legacy <op>/accounts/<a>/users/<u>
        return parts[0], parts[2], Path(parts[4]).stem
    return None


class _Importer:
    def __init__(self, home: Home, tx: Transaction, overwrite: bool) -> None:
        self.home, self.tx, self.overwrite = home, tx, overwrite
        self.result = ImportResult()
        self.conflicts: list[Path] = []

    def skip(self, path: Path, reason: str) -> None:
        self.result.skipped.append({"path": str(path), "reason": reason})

    def put(self, target: Path, data: bytes, *, replaceable: bool = True) -> bool:
        if target.exists():
            if target.read_bytes().strip() == data.strip():
                self.result.unchanged += 1
                return False
            if not (replaceable and self.overwrite):
                self.conflicts.append(target)
                return False
        self.tx.write(target, data)
        return True

    def operator(self, src: Path) -> None:
        name = src.name
        try:
            decode_operator(extract_jwt((src / f"{name}.jwt").read_bytes()))
        except (OSError, ClaimsError) as exc:
            self.skip(src, f"no valid operator JWT {name}.jwt: {getattr(exc, 'message', exc)}")
            return
        self.result.operators.append(name)
        target = self.home.stores / name
        self.put(target / ".nsc", (src / ".nsc").read_bytes())
        for path in sorted(src.rglob("*.jwt")):
            rel = path.relative_to(src)
            parts = rel.parts
            try:
                token = extract_jwt(path.read_bytes())
                if len(parts) == 1:
                    decode_operator(token)
                elif len(parts) == 3 and parts[0] == "accounts":
                    decode_account(token)
                    self.result.accounts += 1
                elif len(parts) == 4 and parts[0] == "accounts" and parts[2] == "users":
                    decode_user(token)
                    self.result.users += 1
                else:
                    self.skip(path, "not where nsc keeps JWTs")
                    continue
            except (OSError, ClaimsError) as exc:
                self.skip(path, getattr(exc, "message", str(exc)))
                continue
            self.put(target / rel, path.read_bytes())

    def keystore(self, root: Path, progress: Progress | None) -> None:
        files = sorted(root.rglob("*.nk"))
        creds = sorted(root.rglob("*.creds"))
        total = len(files) + len(creds)
        for i, path in enumerate(files, 1):
            try:
                kp = load_seed(path.read_text().strip())
            except (OSError, ClaimsError, UnicodeDecodeError) as exc:
                self.skip(path, getattr(exc, "message", str(exc)))
                continue
            if path.stem != kp.public_key:
                self.skip(path, f"holds the seed of {kp.public_key}, not of {path.stem}")
                continue
            target = self.home.keystore.key_path(kp.public_key)
            if self.put(target, kp.seed.reveal().encode(), replaceable=False):
                self.result.keys += 1
            if progress:
                progress(i, total)
        for i, path in enumerate(creds, len(files) + 1):
            where = _creds_target(root, path)
            if where is None:
                self.skip(path, "not where nsc keeps creds")
                continue
            try:
                parse_creds(path)
            except (OSError, ClaimsError, UnicodeDecodeError) as exc:
                self.skip(path, getattr(exc, "message", str(exc)))
                continue
            if self.put(self.home.keystore.creds_path(*where), path.read_bytes()):
                self.result.creds += 1
            if progress:
                progress(i, total)
        self.home.keystore.stage_gitignore(self.tx)


def import_tree(
    home: Home,
    tx: Transaction,
    src: Path,
    *,
    keystore: Path | None = None,
    overwrite: bool = False,
    progress: Progress | None = None,
) -> ImportResult:
    """Stage a copy of the nsc tree at ``src`` into ``home``; raises on conflicts."""
    ops, found_keystore = find_operator_dirs(src)
    importer = _Importer(home, tx, overwrite)
    for op in ops:
        importer.operator(op)
    ks = keystore or found_keystore
    if ks is not None:
        if not ks.is_dir():
            raise LayoutError(f"keystore {ks} is not a directory", "pass --keystore DIR (nsc's keys directory)")
        importer.keystore(ks, progress)
    if importer.conflicts:
        shown = ", ".join(str(p) for p in importer.conflicts[:5])
        more = f" and {len(importer.conflicts) - 5} more" if len(importer.conflicts) > 5 else ""
        raise AlreadyExists(
            f"{len(importer.conflicts)} file(s) already exist in {home.root} with other content: {shown}{more}",
            "pass --overwrite to replace JWTs and creds (seeds are never replaced), or import into another --home",
        )
    return importer.result
