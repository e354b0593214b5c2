"""A bounded LRU of validated accounts.

An :class:`Entry` holds the decoded claims with the JWT they came from and how to revalidate
them (the ETag, and for how long the account server said they stay fresh). The cache itself does
no I/O and knows nothing about NATS; the resolver decides what goes in and when.
"""

from __future__ import annotations

import heapq
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass

from accountd.claims import AccountClaims

__all__ = ["AccountCache", "Entry"]


@dataclass(slots=True)
class Entry:
    claims: AccountClaims
    jwt: str
    etag: str = ""
    """The validator for ``If-None-Match`` (accountd uses ``"<jti>"``)."""
    source: str = "http"
    """Where the current claims came from: ``http``, ``nats`` (LOOKUP) or ``update``."""
    fresh_until: float | None = None
    """Without a live update stream: wall-clock time until which no revalidation is needed
    (``Cache-Control: max-age``); ``None`` means revalidate on every use (``no-cache``)."""

    @property
    def account(self) -> str:
        return self.claims.sub

    @property
    def jti(self) -> str:
        return self.claims.jti

    def expired(self, now: float) -> bool:
        """nats-server's rule: expired when ``now > exp`` (``exp`` 0 = never)."""
        return 0 < self.claims.exp < now


class AccountCache:
    """Least-recently-used map of account key → :class:`Entry`, at most ``max_size`` entries.

    :meth:`get` counts as a use; :meth:`peek` does not. :meth:`put` returns what it pushed out.
    Expiry times are kept in a heap so :meth:`expired` finds due entries without a scan.
    """

    def __init__(self, max_size: int = 10_000) -> None:
        if max_size < 1:
            raise ValueError("max_size must be at least 1")
        self.max_size = max_size
        self._entries: OrderedDict[str, Entry] = OrderedDict()
        self._expiry: list[tuple[int, str, str]] = []  # (exp, account, jti); stale items skipped lazily

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, account: object) -> bool:
        return account in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._entries))

    def get(self, account: str) -> Entry | None:
        entry = self._entries.get(account)
        if entry is not None:
            self._entries.move_to_end(account)
        return entry

    def peek(self, account: str) -> Entry | None:
        return self._entries.get(account)

    def put(self, entry: Entry) -> list[Entry]:
        """Insert or replace; returns the least recently used entries pushed out by the bound."""
        account = entry.account
        self._entries[account] = entry
        self._entries.move_to_end(account)
        if entry.claims.exp > 0:
            heapq.heappush(self._expiry, (entry.claims.exp, account, entry.jti))
        evicted = []
        while len(self._entries) > self.max_size:
            _, old = self._entries.popitem(last=False)
            evicted.append(old)
        return evicted

    def pop(self, account: str) -> Entry | None:
        return self._entries.pop(account, None)

    def entries(self) -> list[Entry]:
        return list(self._entries.values())

    def next_expiry(self) -> int | None:
        """The earliest ``exp`` among held entries (lazily cleaned), or ``None``."""
        while self._expiry:
            exp, account, jti = self._expiry[0]
            entry = self._entries.get(account)
            if entry is not None and entry.jti == jti:
                return exp
            heapq.heappop(self._expiry)
        return None

    def expired(self, now: float) -> list[Entry]:
        """Remove and return every entry with ``0 < exp < now``."""
        out = []
        while (exp := self.next_expiry()) is not None and exp < now:
            _, account, _ = heapq.heappop(self._expiry)
            entry = self._entries.pop(account, None)
            if entry is not None:
                out.append(entry)
        return out

    def clear(self) -> None:
        self._entries.clear()
        self._expiry.clear()
