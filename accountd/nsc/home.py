"""The accountd home: an nsc data directory (``stores/`` + ``keys/``), locked while it changes.

Which directory: ``--home DIR``, else ``$ACCOUNTD_HOME``, else ``./keys`` relative to the current
working directory (the project-relative default of the local setup, ``make run``). Any nsc data
directory works as a home — ``~/.local/share/nats/nsc`` holds exactly ``stores/`` and ``keys/``.

::

    <home>/.lock                       advisory lock (fcntl.flock), see accountd.nsc.lock
    <home>/stores/<Operator>/…         accountd.nsc.store
    <home>/keys/…                      accountd.nsc.keystore
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from accountd.nsc.atomic import Transaction, ensure_dir
from accountd.nsc.context import current_context
from accountd.nsc.errors import LayoutError, NotFound
from accountd.nsc.keystore import KeyStore
from accountd.nsc.lock import HomeLock
from accountd.nsc.store import OperatorDir

__all__ = ["DEFAULT_HOME", "HOME_ENV", "LOCK_TIMEOUT_ENV", "Home"]

HOME_ENV = "ACCOUNTD_HOME"
LOCK_TIMEOUT_ENV = "ACCOUNTD_LOCK_TIMEOUT"
DEFAULT_HOME = Path("keys")
"""Relative to the current working directory."""

_CREATE_HINT = (
    "create one with `accountd add operator --name OP` (or `accountd dev`), "
    f"or point at an existing one with --home DIR / ${HOME_ENV}"
)


class Home:
    """An accountd (= nsc) data directory."""

    def __init__(self, root: Path, *, lock_timeout: float = 60.0) -> None:
        self.root = root.expanduser().absolute()
        self.stores = self.root / "stores"
        self.keystore = KeyStore(self.root / "keys")
        self.lock_timeout = lock_timeout

    def __repr__(self) -> str:
        return f"Home({str(self.root)!r})"

    @classmethod
    def locate(cls, option: Path | str | None = None) -> Home:
        """``option``, else ``$ACCOUNTD_HOME``, else ``./keys``; ``$ACCOUNTD_LOCK_TIMEOUT`` (seconds, default 60)."""
        chosen = option or os.environ.get(HOME_ENV) or DEFAULT_HOME
        try:
            timeout = float(os.environ.get(LOCK_TIMEOUT_ENV, "60"))
        except ValueError:
            raise LayoutError(f"${LOCK_TIMEOUT_ENV} must be a number of seconds", "unset it or fix it") from None
        return cls(Path(chosen), lock_timeout=timeout)

    @property
    def lock_path(self) -> Path:
        return self.root / ".lock"

    def exists(self) -> bool:
        return self.stores.is_dir()

    def require(self) -> Home:
        if not self.root.exists():
            raise NotFound(f"the accountd home {self.root} does not exist", _CREATE_HINT)
        if not self.root.is_dir():
            raise LayoutError(f"the accountd home {self.root} is not a directory", "pass --home DIR")
        if not self.exists():
            raise NotFound(f"{self.root} holds no operators (no stores/ directory)", _CREATE_HINT)
        return self

    # --- operators ----------------------------------------------------------------------------

    def operators(self) -> list[str]:
        if not self.stores.is_dir():
            return []
        return sorted(d.name for d in self.stores.iterdir() if (d / ".nsc").is_file())

    def operator_dir(self, name: str) -> OperatorDir:
        return OperatorDir(self.stores, name)

    def pick_operator(self, name: str | None = None) -> OperatorDir:
        """The operator called ``name``, or the only one there is, or nsc's current one."""
        self.require()
        known = self.operators()
        if name:
            opdir = self.operator_dir(name)
            if not opdir.exists():
                listed = ", ".join(known) or "none"
                raise NotFound(f"operator {name!r} does not exist in {self.stores}", f"known operators: {listed}")
            return opdir
        if len(known) == 1:
            return self.operator_dir(known[0])
        if not known:
            raise NotFound(f"{self.stores} holds no operators", _CREATE_HINT)
        current = current_context().operator_for(self.stores)  # nsc's current operator (`accountd env`)
        if current:
            return self.operator_dir(current)
        raise LayoutError(
            f"{self.stores} holds several operators: {', '.join(known)}",
            "pick one with --operator NAME (or $ACCOUNTD_OPERATOR_NAME), or make one current with "
            "`accountd env --operator NAME`",
        )

    # --- locking and writing ------------------------------------------------------------------

    def lock(self, *, shared: bool = False, on_wait: Callable[[], None] | None = None) -> HomeLock:
        return HomeLock(self.lock_path, shared=shared, timeout=self.lock_timeout, on_wait=on_wait)

    @contextmanager
    def reading(self, on_wait: Callable[[], None] | None = None) -> Iterator[Home]:
        """Hold the shared lock while reading (no lock when the home does not exist)."""
        if not self.root.is_dir():
            yield self
            return
        with self.lock(shared=True, on_wait=on_wait):
            yield self

    @contextmanager
    def writing(self, on_wait: Callable[[], None] | None = None, *, create: bool = False) -> Iterator[Transaction]:
        """Hold the exclusive lock; the staged transaction is committed when the block succeeds.

        ``create`` makes the home directory (0700) first; otherwise it must exist.
        """
        created: list[Path] = []
        if create:
            if self.root.exists() and not self.root.is_dir():
                raise LayoutError(f"the accountd home {self.root} is not a directory", "pass --home DIR")
            created = ensure_dir(self.root)
        else:
            self.require()
        try:
            with self.lock(on_wait=on_wait):
                tx = Transaction()
                yield tx
                tx.commit()
        except BaseException:
            if created:  # a failed first command leaves no empty home behind
                self.lock_path.unlink(missing_ok=True)
                for d in reversed(created):
                    with contextlib.suppress(OSError):
                        d.rmdir()
            raise
