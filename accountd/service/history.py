"""Reading what the store kept: an account's versions, the diff between two of them, and search.

The store keeps every accepted change of an account as a :class:`~accountd.store.Version` (the
JWT or delete token, when it was stored, how it arrived). These are the service's read views of
them for the ``/-/accounts`` routes and pages: claims are read from each stored JWT's payload
without verifying it again (it was verified when it was accepted), and the diff is the one of
:func:`accountd.claims.diff.diff_accounts`.
"""

from __future__ import annotations

from typing import Any

from accountd.claims import AccountClaims, decode_unverified, is_account_key
from accountd.claims.diff import diff_accounts
from accountd.errors import AccountNotFound, BadRequest, Unavailable
from accountd.service.cache import payload
from accountd.store import Store, StoreError
from accountd.store.base import Version
from accountd.types import AccountKey

__all__ = ["AccountHistory"]


def _claims(jwt: str) -> dict[str, Any]:
    try:
        return payload(jwt)
    except ValueError:  # not base64 or not JSON: a file another tool left in the store
        return {}


def version_view(version: Version) -> dict[str, Any]:
    """``{"revision", "iat", "jti", "stored_at", "source", "issuer", "jwt", "deleted"}``."""
    claims = _claims(version.jwt)
    return {
        "revision": version.revision,
        "iat": claims.get("iat"),
        "jti": claims.get("jti"),
        "stored_at": version.stored_at,
        "source": dict(version.origin),
        "issuer": claims.get("iss"),
        "jwt": version.jwt,
        "deleted": version.deleted,
    }


class AccountHistory:
    """History, diff and search over ``store`` (read-only; nothing here is cached)."""

    def __init__(self, store: Store) -> None:
        self.store = store

    @staticmethod
    def _key(account: str) -> AccountKey:
        if not is_account_key(account):
            raise BadRequest("invalid account public key", "invalid_key")
        return AccountKey(account)

    async def _versions(self, account: str, limit: int | None = None) -> list[Version]:
        key = self._key(account)
        try:
            if await self.store.lookup(key) is None:
                raise AccountNotFound()
            return await self.store.history(key, limit=limit)
        except StoreError as exc:
            raise Unavailable("error reading history", "store_error") from exc

    async def versions(self, account: str, limit: int | None = None) -> list[dict[str, Any]]:
        """The kept versions of ``account``, newest first; 404 for an account never stored."""
        return [version_view(v) for v in await self._versions(account, limit)]

    async def diff(self, account: str, old: int | None = None, new: int | None = None) -> dict[str, Any]:
        """The claims diff from revision ``old`` to ``new`` (default: the newest, and the live
        version before it), with ``lines`` for people."""
        versions = await self._versions(account)
        if not versions:
            raise AccountNotFound(f"no history kept for account {account}", "no_history")
        to = versions[0] if new is None else _find(versions, new)
        if old is None:
            older = [v for v in versions if v.revision < to.revision and not v.deleted]
            if not older:
                raise AccountNotFound(f"no version of {account} before revision {to.revision}", "no_version")
            base = older[0]
        else:
            base = _find(versions, old)
        result = diff_accounts(_account_claims(base), _account_claims(to))
        return {"from": base.revision, "to": to.revision, **result.to_dict(), "lines": result.lines()}

    async def search(self, text: str, after: str | None = None,
                     limit: int = 100) -> tuple[list[dict[str, Any]], str | None]:
        """Up to ``limit`` live accounts matching ``text`` (key prefix, name, tag), by key, and
        the key to continue after."""
        try:
            keys = await self.store.search(text, after=self._key(after) if after else None, limit=limit + 1)
            more = len(keys) > limit
            keys = keys[:limit]
            records = [await self.store.lookup(key) for key in keys]
        except StoreError as exc:
            raise Unavailable("error searching accounts", "store_error") from exc
        out = []
        for record in records:
            if record is None or record.deleted:
                continue  # deleted meanwhile
            claims = _claims(record.jwt)
            nats = claims.get("nats")
            nats = nats if isinstance(nats, dict) else {}
            out.append({"account": record.account, "name": str(claims.get("name") or ""),
                        "tags": list(nats.get("tags") or []), "iat": claims.get("iat", 0),
                        "exp": claims.get("exp", 0), "revision": record.revision})
        return out, (keys[-1] if more and keys else None)


def _find(versions: list[Version], revision: int) -> Version:
    for version in versions:
        if version.revision == revision:
            return version
    raise AccountNotFound(f"revision {revision} is not in the kept history", "no_version")


def _account_claims(version: Version) -> AccountClaims:
    if version.deleted:
        raise BadRequest(f"revision {version.revision} is a deletion: it has no claims to compare", "deleted_version")
    try:
        claims = decode_unverified(version.jwt)
    except ValueError:  # DecodeError is one
        claims = None
    if not isinstance(claims, AccountClaims):
        raise BadRequest(f"revision {version.revision} is not an account JWT", "bad_stored_jwt")
    return claims

