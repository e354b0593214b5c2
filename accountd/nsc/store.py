"""One operator's directory in nsc's layout (nsc calls it a "store").

Layout (SPEC §8.3), relative to ``<home>/stores``::

    <Operator>/.nsc                                {"managed":false,"name":"<Operator>","kind":"operator","version":"1"}
    <Operator>/<Operator>.jwt                      the operator JWT (no trailing newline, as nsc writes it)
    <Operator>/accounts/<Account>/<Account>.jwt
    <Operator>/accounts/<Account>/users/<User>.jwt

An entity exists when its ``<name>/<name>.jwt`` exists (nsc lists nothing else). Names are
directory names, so ``/``, ``\\``, NUL, ``.`` and ``..`` are refused.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Generic, TypeVar

from accountd.claims.codec import decode_account, decode_operator, decode_user
from accountd.claims.errors import ClaimsError
from accountd.claims.models import AccountClaims, Claims, OperatorClaims, UserClaims
from accountd.claims.validate import extract_jwt
from accountd.nsc.atomic import Transaction
from accountd.nsc.context import current_context
from accountd.nsc.errors import LayoutError, NotFound

__all__ = ["Entity", "OperatorDir", "check_name", "nsc_info"]

C = TypeVar("C", bound=Claims)


def check_name(name: str, what: str) -> str:
    """Return ``name`` stripped, or raise :class:`LayoutError` if it cannot be a directory name."""
    clean = name.strip()
    if not clean or clean in (".", "..") or any(c in clean for c in "/\\\0") or clean.startswith("."):
        raise LayoutError(
            f"{what} name {name!r} cannot be used as a directory name",
            "use a name without '/', '\\' and not starting with '.'",
        )
    return clean


def nsc_info(name: str, managed: bool = False) -> str:
    """The ``.nsc`` file, byte for byte as nsc's ``json.Marshal(Info)`` writes it."""
    return json.dumps(
        {"managed": managed, "name": name, "kind": "operator", "version": "1"}, separators=(",", ":")
    )


@dataclass(frozen=True)
class Entity(Generic[C]):
    """A JWT read from the store: its name, path, raw token and decoded claims."""

    name: str
    path: Path
    token: str
    claims: C

    @property
    def public_key(self) -> str:
        return self.claims.sub


def _read(path: Path, decode: Callable[[str], C], kind: str, name: str) -> Entity[C]:
    try:
        text = path.read_text()
        token = extract_jwt(text)
        claims = decode(token)
    except FileNotFoundError:
        raise NotFound(f"{kind} {name!r} does not exist ({path})") from None
    except (ClaimsError, UnicodeDecodeError) as exc:
        message = exc.message if isinstance(exc, ClaimsError) else "not text"
        raise LayoutError(f"{path} is not a valid {kind} JWT: {message}", "restore it or remove it") from None
    return Entity(name, path, token, claims)


class OperatorDir:
    """``<stores>/<name>``: the operator JWT and its accounts and users."""

    def __init__(self, stores: Path, name: str) -> None:
        self.name = check_name(name, "operator")
        self.dir = stores / self.name

    def __repr__(self) -> str:
        return f"OperatorDir({str(self.dir)!r})"

    # --- paths ----------------------------------------------------------------------------

    @property
    def info_path(self) -> Path:
        return self.dir / ".nsc"

    @property
    def jwt_path(self) -> Path:
        return self.dir / f"{self.name}.jwt"

    def account_dir(self, account: str) -> Path:
        return self.dir / "accounts" / check_name(account, "account")

    def account_path(self, account: str) -> Path:
        return self.account_dir(account) / f"{check_name(account, 'account')}.jwt"

    def user_path(self, account: str, user: str) -> Path:
        return self.account_dir(account) / "users" / f"{check_name(user, 'user')}.jwt"

    # --- reading --------------------------------------------------------------------------

    def exists(self) -> bool:
        return self.info_path.is_file()

    def info(self) -> dict[str, object]:
        try:
            data = json.loads(self.info_path.read_text())
        except FileNotFoundError:
            raise NotFound(f"operator {self.name!r} does not exist ({self.dir} has no .nsc)") from None
        except ValueError:
            raise LayoutError(f"{self.info_path} is not JSON", "restore it from a backup") from None
        if not isinstance(data, dict):
            raise LayoutError(f"{self.info_path} is not a JSON object", "restore it from a backup")
        return data

    @property
    def managed(self) -> bool:
        return bool(self.info().get("managed", False))

    def operator(self) -> Entity[OperatorClaims]:
        return _read(self.jwt_path, decode_operator, "operator", self.name)

    def accounts(self) -> list[str]:
        base = self.dir / "accounts"
        if not base.is_dir():
            return []
        return sorted(d.name for d in base.iterdir() if d.is_dir() and (d / f"{d.name}.jwt").is_file())

    def has_account(self, account: str) -> bool:
        return self.account_path(account).is_file()

    def account(self, account: str) -> Entity[AccountClaims]:
        return _read(self.account_path(account), decode_account, "account", account)

    def users(self, account: str) -> list[str]:
        base = self.account_dir(account) / "users"
        if not base.is_dir():
            return []
        return sorted(p.stem for p in base.glob("*.jwt") if p.is_file())

    def has_user(self, account: str, user: str) -> bool:
        return self.user_path(account, user).is_file()

    def user(self, account: str, user: str) -> Entity[UserClaims]:
        return _read(self.user_path(account, user), decode_user, "user", user)

    def current_account(self) -> str:
        """nsc's current account (``accountd env``/``nsc env``) when it is one of this operator's, else ``""``."""
        return current_context().account_for(self.dir.parent, self.name)

    def account_by_key(self, public_key: str) -> str | None:
        """The name of the local account whose subject is ``public_key``."""
        for name in self.accounts():
            if self.account(name).public_key == public_key:
                return name
        return None

    # --- staging writes ---------------------------------------------------------------------

    def stage_info(self, tx: Transaction, managed: bool = False) -> None:
        tx.write(self.info_path, nsc_info(self.name, managed))

    def stage_operator(self, tx: Transaction, token: str) -> Path:
        tx.write(self.jwt_path, token)
        return self.jwt_path

    def stage_account(self, tx: Transaction, account: str, token: str) -> Path:
        path = self.account_path(account)
        tx.write(path, token)
        return path

    def stage_user(self, tx: Transaction, account: str, user: str, token: str) -> Path:
        path = self.user_path(account, user)
        tx.write(path, token)
        return path
