"""nsc's current context: the operator and account that commands use when none is named.

nsc keeps it in ``nsc.json`` in its config directory (``nats-io/nsc: cmd/defaults.go``,
``cmd/contextconfig.go``, ``home/home.go``): ``$NSC_HOME`` when set, else
``$XDG_CONFIG_HOME/nats/nsc`` (``~/.config/nats/nsc``; the old ``~/.nsc`` while only it has an
``nsc.json``). The file is Go's compact ``json.Marshal`` of::

    {"store_root":"<data dir>/stores","operator":"OP","account":"A","github_updates":"nats-io/nsc","last_update":N}

accountd reads and writes the same file, so ``nsc env -o``/``accountd env --operator`` choose for
both. The context applies to a home only when its ``store_root`` is that home's ``stores/``, and only
names that exist there count (nsc's ``SetDefaults`` drops the others). Keys accountd does not know
are kept as they are.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from accountd.nsc.atomic import write_atomic
from accountd.nsc.errors import LayoutError

__all__ = ["CONFIG_FILE", "Context", "config_dir", "current_context", "load_context"]

CONFIG_FILE = "nsc.json"
NSC_HOME_ENV = "NSC_HOME"


def config_dir() -> Path:
    """nsc's config directory, chosen as nsc chooses it."""
    if os.environ.get(NSC_HOME_ENV):
        return Path(os.environ[NSC_HOME_ENV]).expanduser()
    base = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    new, old = base / "nats" / "nsc", Path.home() / ".nsc"
    if not (new / CONFIG_FILE).is_file() and (old / CONFIG_FILE).is_file():
        return old
    return new


@dataclass
class Context:
    """The content of ``nsc.json`` (every key kept) and where it lives."""

    path: Path
    data: dict[str, Any] = field(default_factory=dict)

    @property
    def store_root(self) -> str:
        return str(self.data.get("store_root") or "")

    @property
    def operator(self) -> str:
        return str(self.data.get("operator") or "")

    @property
    def account(self) -> str:
        return str(self.data.get("account") or "")

    def applies_to(self, stores: Path) -> bool:
        """True when the context's store root is ``stores`` (a home's ``stores/`` directory)."""
        if not self.store_root:
            return False
        try:
            return Path(self.store_root).expanduser().resolve() == stores.resolve()
        except OSError:
            return False

    def operator_for(self, stores: Path) -> str:
        """The current operator of ``stores`` if it exists there, else ``""``."""
        if self.applies_to(stores) and self.operator and (stores / self.operator / ".nsc").is_file():
            return self.operator
        return ""

    def account_for(self, stores: Path, operator: str) -> str:
        """The current account if it belongs to ``operator`` of ``stores`` and exists, else ``""``."""
        if self.operator_for(stores) != operator or not self.account:
            return ""
        account = stores / operator / "accounts" / self.account / f"{self.account}.jwt"
        return self.account if account.is_file() else ""

    def save(self, stores: Path, operator: str, account: str) -> None:
        """Point the context at ``stores`` with ``operator`` and ``account`` and write the file as nsc does."""
        data = {"store_root": str(stores.absolute()), "operator": operator, "account": account}
        rest = {k: v for k, v in self.data.items() if k not in data}
        rest.setdefault("github_updates", "nats-io/nsc")  # what nsc's first run writes
        rest.setdefault("last_update", int(time.time()))
        self.data = {**data, **rest}
        text = json.dumps(self.data, separators=(",", ":"), ensure_ascii=False)
        text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")  # Go's HTML escaping
        write_atomic(self.path, text.encode())


def load_context() -> Context:
    """``nsc.json`` from nsc's config directory; an empty context when there is none."""
    path = config_dir() / CONFIG_FILE
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        return Context(path)
    except (ValueError, UnicodeDecodeError):
        raise LayoutError(f"{path} is not JSON", "fix it, or remove it to forget nsc's current context") from None
    if not isinstance(data, dict):
        raise LayoutError(f"{path} is not a JSON object", "fix it, or remove it to forget nsc's current context")
    return Context(path, data)


def current_context() -> Context:
    """Like :func:`load_context`, but a damaged ``nsc.json`` counts as no context (commands still run)."""
    try:
        return load_context()
    except (LayoutError, OSError):
        return Context(config_dir() / CONFIG_FILE)
