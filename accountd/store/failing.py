"""A store whose every data operation raises :class:`StoreError`: proves errors surface as clean 5xx.

``open`` and ``close`` succeed (so an application can start with it) unless ``fail_open`` is set,
and ``stats`` answers (introspection must work while the store is broken).
"""

from __future__ import annotations

import builtins
from collections.abc import Mapping
from typing import NoReturn

from accountd.store.base import Record, StoreError, Version
from accountd.types import JWT, AccountKey

__all__ = ["FailingStore"]


class FailingStore:
    """Raises ``StoreError(message)`` from everything but ``close`` and ``stats``."""

    name = "failing"

    def __init__(self, message: str = "injected failure", *, fail_open: bool = False) -> None:
        self.message = message
        self.fail_open = fail_open
        self.calls = 0
        """How many operations were refused."""

    async def open(self) -> None:
        if self.fail_open:
            self._fail()

    async def close(self) -> None:
        pass

    async def check(self) -> None:
        self._fail()

    async def get(self, account: AccountKey) -> Record:
        self._fail()

    async def lookup(self, account: AccountKey) -> Record | None:
        self._fail()

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
        self._fail()

    async def delete(
        self,
        account: AccountKey,
        token: JWT,
        *,
        meta: Mapping[str, int | str] | None = None,
        expect: int | None = None,
        origin: Mapping[str, str] | None = None,
    ) -> Record:
        self._fail()

    async def list(self, *, after: AccountKey | None = None, limit: int | None = None) -> list[AccountKey]:
        self._fail()

    async def count(self) -> int:
        self._fail()

    async def history(self, account: AccountKey, *, limit: int | None = None) -> builtins.list[Version]:
        self._fail()

    async def search(
        self, text: str, *, after: AccountKey | None = None, limit: int = 100
    ) -> builtins.list[AccountKey]:
        self._fail()

    async def pending(self, *, limit: int | None = None) -> builtins.list[Record]:
        self._fail()

    async def mark_published(self, account: AccountKey, revision: int) -> None:
        self._fail()

    def stats(self) -> dict[str, int | str]:
        return {"name": self.name, "failures": self.calls}

    def _fail(self) -> NoReturn:
        self.calls += 1
        raise StoreError(self.message)
