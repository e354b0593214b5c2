"""nsc's keystore: seeds in ``keys/<X>/<YY>/<PUB>.nk``, creds in ``creds/<Op>/<Acct>/<User>.creds``.

Layout (SPEC §2.5, §8.3), relative to the keystore root (``<home>/keys``)::

    .gitignore                        ignores **/*.nk and **/*.creds
    keys/<pub[0]>/<pub[1:3]>/<PUB>.nk the 58-character seed, no newline, 0600 (dirs 0700)
    creds/<Operator>/<Account>/<User>.creds

Writing a different seed over an existing ``.nk`` is refused (nsc: "already exists and is
different"). Reads strip whitespace, check the CRC and that the seed belongs to the file name.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from accountd.claims.errors import ClaimsError
from accountd.claims.keys import KeyPair, Role, load_seed, public_role
from accountd.nsc.atomic import Transaction
from accountd.nsc.errors import KeyConflict, LayoutError, NotFound

__all__ = ["GITIGNORE", "KeyStore"]

GITIGNORE = "# ignore all nk files\n**/*.nk\n\n# ignore all creds files\n**/*.creds\n"


class KeyStore:
    """The keystore under ``root``. Writes go through a :class:`Transaction`."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.keys_dir = root / "keys"
        self.creds_dir = root / "creds"

    def __repr__(self) -> str:
        return f"KeyStore({str(self.root)!r})"

    def key_path(self, public_key: str) -> Path:
        return self.keys_dir / public_key[0] / public_key[1:3] / f"{public_key}.nk"

    def creds_path(self, operator: str, account: str, user: str) -> Path:
        return self.creds_dir / operator / account / f"{user}.creds"

    def has(self, public_key: str) -> bool:
        return self.key_path(public_key).is_file()

    def load(self, public_key: str, role: Role | None = None) -> KeyPair | None:
        """The key pair for ``public_key``, or None when its seed is not stored."""
        path = self.key_path(public_key)
        try:
            text = path.read_text()
        except FileNotFoundError:
            return None
        try:
            kp = load_seed(text.strip(), role)
        except ClaimsError as exc:
            raise LayoutError(f"{path}: {exc.message}", "restore the seed file from a backup or remove it") from None
        if kp.public_key != public_key:
            raise LayoutError(f"{path} holds the seed of another key ({kp.public_key})", "move or remove the file")
        return kp

    def require(self, public_key: str, what: str) -> KeyPair:
        kp = self.load(public_key)
        if kp is None:
            raise NotFound(
                f"the seed of {what} ({public_key}) is not in the keystore {self.keys_dir}",
                "import the seed (accountd generate nkey … --store is for new keys) or work on a home that has it",
            )
        return kp

    def public_keys(self) -> list[str]:
        """Every public key with a ``.nk`` file, sorted."""
        if not self.keys_dir.is_dir():
            return []
        return sorted(p.stem for p in self.keys_dir.glob("*/*/*.nk") if public_role(p.stem) is not None)

    def stage_key(self, tx: Transaction, kp: KeyPair) -> Path:
        """Stage ``kp``'s seed; a no-op when the same seed is already stored."""
        path = self.key_path(kp.public_key)
        seed = kp.seed.reveal()
        existing = tx.staged(path)
        if existing is None and path.exists():
            existing = path.read_bytes()
        if existing is not None:
            if existing.strip() != seed.encode():
                raise KeyConflict(
                    f"key {path} already exists and is different",
                    "a seed file is never overwritten: remove it yourself if it is really unused",
                )
            return path
        tx.write(path, seed)
        self.stage_gitignore(tx)
        return path

    def stage_creds(self, tx: Transaction, operator: str, account: str, user: str, text: str) -> Path:
        path = self.creds_path(operator, account, user)
        tx.write(path, text)
        self.stage_gitignore(tx)
        return path

    def stage_gitignore(self, tx: Transaction) -> None:
        path = self.root / ".gitignore"
        if not path.exists() and tx.staged(path) is None:
            tx.write(path, GITIGNORE)

    def iter_creds(self) -> Iterator[tuple[str, str, str, Path]]:
        """(operator, account, user, path) for every creds file."""
        if not self.creds_dir.is_dir():
            return
        for path in sorted(self.creds_dir.glob("*/*/*.creds")):
            yield path.parent.parent.name, path.parent.name, path.stem, path
