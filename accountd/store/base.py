"""The store interface: opaque account JWTs per account public key, with revisions.

::

    StoreError (Exception)      the store is unusable, or an I/O operation failed
    ├── NotFound                no live record for the account          (.account)
    └── Conflict                compare-and-set failed                  (.account, .expected, .actual)

A store knows nothing about JWT validation. It keeps one current :class:`Record` per account:
either live (the JWT) or a tombstone (the delete token that removed it). Every change gets a
store-assigned revision, larger than any revision the store handed out before, and marks the
account *pending publication* in the same durable step; the publisher clears the mark with
:meth:`Store.mark_published` once the change is out.

Compare-and-set (``expect``) on :meth:`Store.put` and :meth:`Store.delete`:

- ``None``: unconditional;
- ``0``: the account must never have been stored (a tombstone counts as a record: pass its revision);
- ``N``: the current record, live or tombstone, must have revision ``N``.

Keys must match ``^A[A-Z2-7]{55}$`` (checked with ``ValueError`` so that no key can name a path);
JWTs are stored with surrounding whitespace stripped; ``meta`` is a small flat mapping of ``str`` to
``int | str`` kept durably with the record (the service puts ``iat``, ``jti``, ``exp``, ``name`` and
``tags`` — the tags joined by newlines — there).

History: every change (a put or a delete) is also kept as a :class:`Version` with the time it was
stored and its ``origin`` (how it arrived: ``{"via": "http", "client": "10.0.0.7"}``, ``{"via":
"nats", "client": …, "subject": …}``, ``{"via": "managed", …}``, ``{"via": "import"}``); a store
keeps the last ``history`` versions of each account (0: none) in the same durable step as the
change. :meth:`Store.history` reads them newest first. Reading history costs nothing at start-up.
"""

from __future__ import annotations

import builtins
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

from accountd.types import JWT, AccountKey

__all__ = ["DEFAULT_HISTORY", "Conflict", "NotFound", "Record", "Store", "StoreError", "Version"]

DEFAULT_HISTORY = 50
"""Versions kept per account unless a store is told otherwise."""


class StoreError(Exception):
    """The store is unusable or an I/O operation failed (HTTP 500, ``/-/healthz`` 503)."""


class NotFound(StoreError):
    """No live record for ``account``."""

    def __init__(self, account: AccountKey) -> None:
        super().__init__(f"no record for account {account}")
        self.account = account


class Conflict(StoreError):
    """The current revision of ``account`` is ``actual`` (0: none), not the ``expected`` one."""

    def __init__(self, account: AccountKey, expected: int, actual: int) -> None:
        super().__init__(f"revision conflict for account {account}: expected {expected}, found {actual}")
        self.account = account
        self.expected = expected
        self.actual = actual


@dataclass(frozen=True, slots=True)
class Record:
    """The current state of one account."""

    account: AccountKey
    jwt: JWT
    """The JWT, stripped of whitespace; for a tombstone, the delete token that removed it."""
    revision: int
    """Store-assigned, > 0; strictly increases on every change of this account."""
    deleted: bool = False
    """True for a tombstone."""
    meta: Mapping[str, int | str] = field(default_factory=dict)
    """Small and JSON-able; stored durably with the record."""


@dataclass(frozen=True, slots=True)
class Version:
    """One accepted change of one account, as history keeps it."""

    account: AccountKey
    revision: int
    jwt: JWT
    """The JWT stored, or for a deletion the delete token."""
    deleted: bool
    stored_at: float
    """Unix time (seconds) at which the store accepted the change."""
    origin: Mapping[str, str] = field(default_factory=dict)
    """How the change arrived; ``{}`` when nobody said (a version written before history existed)."""


class Store(Protocol):
    """What every store implements. All methods but :meth:`stats` are coroutines."""

    name: str
    """``"memory"``, ``"directory"``, …"""

    async def open(self) -> None:
        """Load and index; create directories. Must be called before anything else."""

    async def close(self) -> None:
        """Finish pending writes and release resources. Idempotent."""

    async def check(self) -> None:
        """Raise :class:`StoreError` if the store is unusable (disk gone, not writable, …)."""

    async def get(self, account: AccountKey) -> Record:
        """The live record; :class:`NotFound` if the account is absent or tombstoned."""

    async def lookup(self, account: AccountKey) -> Record | None:
        """The live or tombstone record; ``None`` if the account was never stored."""

    async def put(
        self,
        account: AccountKey,
        jwt: JWT,
        *,
        meta: Mapping[str, int | str] | None = None,
        expect: int | None = None,
        publish: bool = True,
        origin: Mapping[str, str] | None = None,
    ) -> Record:
        """Store ``jwt`` as the live record and mark the account pending; durable on return.

        ``publish=False`` leaves it unmarked: an import of what the servers already hold.
        ``origin`` goes into the account's history with this version.
        """

    async def delete(
        self,
        account: AccountKey,
        token: JWT,
        *,
        meta: Mapping[str, int | str] | None = None,
        expect: int | None = None,
        origin: Mapping[str, str] | None = None,
    ) -> Record:
        """Replace the live record by a tombstone holding ``token`` and mark the account pending.

        :class:`NotFound` if there is no live record; durable on return.
        """

    async def list(self, *, after: AccountKey | None = None, limit: int | None = None) -> list[AccountKey]:
        """Live accounts, sorted, strictly after ``after``, at most ``limit`` of them."""

    async def count(self) -> int:
        """The number of live records."""

    async def history(self, account: AccountKey, *, limit: int | None = None) -> builtins.list[Version]:
        """The kept versions of ``account``, newest first (at most ``limit``); ``[]`` if none."""

    async def search(
        self, text: str, *, after: AccountKey | None = None, limit: int = 100
    ) -> builtins.list[AccountKey]:
        """Live accounts matching ``text``, sorted by key, strictly after ``after``, at most ``limit``.

        An account matches when its key starts with ``text`` (case-insensitive), its ``name`` meta
        contains it (case-insensitive), or one of its ``tags`` equals it (case-insensitive).
        """

    async def pending(self, *, limit: int | None = None) -> builtins.list[Record]:
        """Current records (live or tombstone) whose latest change is not published yet, by key;
        at most ``limit`` of them (the first ones by key)."""

    async def mark_published(self, account: AccountKey, revision: int) -> None:
        """Clear the pending mark of ``account`` if ``revision`` is still its current revision."""

    def stats(self) -> dict[str, int | str]:
        """Counts for introspection: records, tombstones, pending, writes, …"""
