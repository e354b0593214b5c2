"""The service's bounded cache of hot accounts, and the entries it holds.

An entry is what a GET needs — the JWT, its revision and ETag (the ``jti``) — plus the ``iat`` and
``exp`` the service judges writes by. Claims are never kept decoded: an entry costs its JWT's bytes
and about 420 more. An account the service stored itself carries those three
values in its record's ``meta`` (its JWT was validated when it was written), so filling the cache
decodes nothing; a JWT another tool left in the store is decoded and verified once when it is
first asked for.

The cache is an LRU bounded by entries or by bytes (``--cache-size 10000``, ``64MiB``).
"""

from __future__ import annotations

import base64
import json
import re
from collections import OrderedDict
from typing import Any

from accountd.claims import AccountClaims, DecodeError, decode_account
from accountd.store import Record
from accountd.types import JWT, AccountKey

__all__ = [
    "DEFAULT_CACHE_SIZE", "AccountCache", "CachedAccount", "describe", "entry_of", "meta_of", "parse_cache_size",
    "payload", "segment",
]

DEFAULT_CACHE_SIZE = "48MiB"
"""About 35,000 typical accounts; with it a million-account store stays under 150 MB RSS (BENCHMARKS.md)."""
ENTRY_OVERHEAD = 420
"""Bytes an entry costs beyond its JWT's characters (the JWT's and the key's string objects, the
entry, its ETag and ``iat``, the LRU's links), measured with tracemalloc on CPython 3.11."""

_SIZE = re.compile(r"\s*(\d+)\s*(|k|ki|m|mi|g|gi)(b?)\s*", re.IGNORECASE)
_UNITS = {"": 1, "k": 10**3, "ki": 2**10, "m": 10**6, "mi": 2**20, "g": 10**9, "gi": 2**30}


class CachedAccount:
    """A stored account, ready to serve: its JWT, revision, ETag, ``iat`` and ``exp`` (nothing decoded)."""

    __slots__ = ("account", "etag", "exp", "iat", "jwt", "revision")

    def __init__(self, account: AccountKey, jwt: JWT, revision: int, etag: str, iat: int, exp: int) -> None:
        self.account = account
        self.jwt = jwt
        self.revision = revision
        self.etag = etag
        self.iat = iat
        self.exp = exp

    def __repr__(self) -> str:
        return f"CachedAccount({self.account!r}, revision={self.revision}, iat={self.iat})"

    @property
    def body(self) -> bytes:
        """The response body (encoding 1 KB costs less than keeping a second copy of every JWT)."""
        return self.jwt.encode("ascii")

    @property
    def jti(self) -> str:
        return self.etag[1:-1]

    @property
    def record(self) -> Record:
        """The live record it came from (without its meta)."""
        return Record(self.account, self.jwt, self.revision)

    def summary(self) -> dict[str, Any]:
        """``{"account", "name", "iss", "iat", "exp", "jti"}`` (a ``?list=true`` item), from the payload."""
        claims = payload(self.jwt)
        return {"account": self.account, "name": str(claims.get("name") or ""),
                "iss": str(claims.get("iss") or ""), "iat": self.iat, "exp": self.exp, "jti": self.jti}

    def is_newer_than(self, iat: int, jti: str) -> bool:
        """Whether this stored JWT wins over another one of this account (newest ``iat`` wins; an
        equal ``iat`` is accepted, as nats-server's save-if-newer does)."""
        return iat < self.iat and jti != self.jti

    @property
    def size(self) -> int:
        return len(self.jwt) + ENTRY_OVERHEAD


def segment(part: str) -> Any:
    """The JSON of one base64url segment of a JWT, unchecked (for a JWT the store already holds)."""
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


def payload(token: str) -> dict[str, Any]:
    """The claims of a JWT already known to decode (no checks: never for untrusted input)."""
    value = segment(token.split(".")[1])
    return value if isinstance(value, dict) else {}


def meta_of(claims: AccountClaims) -> dict[str, int | str]:
    """What a store keeps beside a JWT the service validated: enough to serve and judge it undecoded
    (read back by :func:`entry_of`), and the ``name`` and ``tags`` (joined by newlines) a store
    search matches."""
    return {"iat": claims.iat, "jti": claims.jti, "exp": claims.exp, "name": claims.name,
            "tags": "\n".join(claims.nats.tags)}


def describe(jwt: str) -> dict[str, int | str] | None:
    """:func:`meta_of` a JWT another tool stored, if it decodes and its signature holds; else ``None``."""
    try:
        return meta_of(decode_account(jwt))
    except DecodeError:
        return None


def entry_of(record: Record) -> CachedAccount:
    """The entry of a live record; :class:`~accountd.claims.DecodeError` if its JWT does not decode."""
    meta = record.meta
    jti, iat = meta.get("jti"), meta.get("iat")
    if isinstance(jti, str) and isinstance(iat, int):  # stored by the service: validated then
        exp = meta.get("exp", 0)
        return CachedAccount(record.account, record.jwt, record.revision, f'"{jti}"', iat,
                             exp if isinstance(exp, int) else 0)
    claims = decode_account(record.jwt)
    return CachedAccount(record.account, record.jwt, record.revision, f'"{claims.jti}"', claims.iat, claims.exp)


def parse_cache_size(text: str) -> tuple[int | None, int | None]:
    """``"10000"`` → (10000 entries, no byte bound); ``"64MiB"`` → (no count bound, 67108864 bytes);
    ``"0"`` → no cache. ``ValueError`` for anything else."""
    match = _SIZE.fullmatch(text or "")
    if not match:
        raise ValueError(f"bad cache size {text!r}: give a number of accounts (10000) or bytes (64MiB, 500MB)")
    number, unit, b = int(match.group(1)), match.group(2).lower(), match.group(3)
    if not unit and not b:
        return number, None
    return None, number * _UNITS[unit]


class AccountCache:
    """An LRU of :class:`CachedAccount` by account, bounded by ``max_entries`` and/or ``max_bytes``."""

    def __init__(self, max_entries: int | None = None, max_bytes: int | None = None) -> None:
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self._entries: OrderedDict[str, CachedAccount] = OrderedDict()
        self.bytes = 0
        self.hits = self.misses = self.evictions = 0

    @classmethod
    def from_size(cls, text: str) -> AccountCache:
        return cls(*parse_cache_size(text))

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, account: str) -> CachedAccount | None:
        entry = self._entries.get(account)
        if entry is None:
            self.misses += 1
            return None
        self.hits += 1
        self._entries.move_to_end(account)
        return entry

    def peek(self, account: str) -> CachedAccount | None:
        """The entry without counting a hit or refreshing it."""
        return self._entries.get(account)

    def put(self, entry: CachedAccount) -> None:
        """Hold ``entry`` unless a newer revision is held; evict the least recently used beyond the bounds."""
        if self.max_entries == 0 or self.max_bytes == 0:
            return
        account = entry.account
        old = self._entries.get(account)
        if old is not None:
            if old.revision > entry.revision:
                return
            self.bytes -= old.size
        self._entries[account] = entry
        self._entries.move_to_end(account)
        self.bytes += entry.size
        while self._entries and (
            (self.max_entries is not None and len(self._entries) > self.max_entries)
            or (self.max_bytes is not None and self.bytes > self.max_bytes)
        ):
            _, evicted = self._entries.popitem(last=False)
            self.bytes -= evicted.size
            self.evictions += 1

    def forget(self, account: str) -> None:
        entry = self._entries.pop(account, None)
        if entry is not None:
            self.bytes -= entry.size

    def stats(self) -> dict[str, int]:
        return {
            "cache_entries": len(self._entries),
            "cache_bytes": self.bytes,
            "cache_max_entries": -1 if self.max_entries is None else self.max_entries,
            "cache_max_bytes": -1 if self.max_bytes is None else self.max_bytes,
            "cache_hits": self.hits,
            "cache_misses": self.misses,
            "cache_evictions": self.evictions,
        }
