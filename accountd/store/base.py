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
``int | str`` kept durably with the record.
"""

from __future__ import annotations

import builtins
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

from accountd.types import JWT, AccountKey

__all__ = ["Conflict", "NotFound", "Record", "Store", "StoreError"]


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
    ) -> Record:
        """Store ``jwt`` as the live record and mark the account pending; durable on return.

        ``publish=False`` leaves it unmarked: an import of what the servers already hold.
        """

    async def delete(
        self,
        account: AccountKey,
        token: JWT,
        *,
        meta: Mapping[str, int | str] | None = None,
        expect: int | None = None,
    ) -> Record:
        """Replace the live record by a tombstone holding ``token`` and mark the account pending.

        :class:`NotFound` if there is no live record; durable on return.
        """

    async def list(self, *, after: AccountKey | None = None, limit: int | None = None) -> list[AccountKey]:
        """Live accounts, sorted, strictly after ``after``, at most ``limit`` of them."""

    async def count(self) -> int:
        """The number of live records."""

    async def pending(self, *, limit: int | None = None) -> builtins.list[Record]:
        """Current records (live or tombstone) whose latest change is not published yet, by key;
        at most ``limit`` of them (the first ones by key)."""

    async def mark_published(self, account: AccountKey, revision: int) -> None:
        """Clear the pending mark of ``account`` if ``revision`` is still its current revision."""

    def stats(self) -> dict[str, int | str]:
        """Counts for introspection: records, tombstones, pending, writes, …"""
