"""Which account JWT does each nats-server hold, and does it match accountd? (SPEC §5.4, §9)

A :class:`Survey` is what the fleet answered about some accounts — one page of a
:class:`~accountd.resolver.walk.FleetWalk`, which asks the servers page by page; :func:`compare`
turns it into a :class:`FleetReport`: for each account × server a :class:`Status`. A walk's
reports are summed up with :meth:`FleetReport.add`, which keeps a bounded number of rows. Pure;
no I/O.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from accountd.claims import DecodeError, decode_account

__all__ = ["AccountdView", "Cell", "FleetReport", "Held", "Row", "ServerRef", "Status", "Survey", "compare",
           "resolver_kinds"]


class Status(StrEnum):
    CURRENT = "current"
    """The server holds accountd's JWT (same ``jti``)."""
    STALE = "stale"
    """The server holds an older JWT than accountd."""
    AHEAD = "ahead"
    """The server holds a newer JWT than accountd (written around it): reported, never rolled back."""
    MISSING = "missing"
    """A full resolver whose directory does not have an account accountd holds."""
    EXTRA = "extra"
    """The server holds an account accountd does not have (deleted there, or never stored)."""
    UNVERIFIED = "unverified"
    """Stored but not loaded, and some stored copy in the fleet is stale; LOOKUP cannot tell whose."""
    NOT_LOADED = "not_loaded"
    """Not loaded and not stored: normal for URL, MEMORY and cache resolvers."""


DRIFT = frozenset({Status.STALE, Status.AHEAD, Status.MISSING, Status.EXTRA, Status.UNVERIFIED})


@dataclass(frozen=True, slots=True)
class ServerRef:
    id: str
    name: str
    cluster: str = ""
    version: str = ""


@dataclass(frozen=True, slots=True)
class Held:
    """One version of an account: what accountd or a server holds."""

    account: str
    name: str
    jti: str
    iat: int
    exp: int = 0

    @classmethod
    def of_jwt(cls, token: str) -> Held | None:
        try:
            c = decode_account(token)
        except DecodeError:
            return None
        return cls(c.sub, c.name, c.jti, c.iat, c.exp)


@dataclass
class AccountdView:
    """The accounts accountd holds, of one page (``source``: ``http`` list or ``nats`` LIST + LOOKUP)."""

    accounts: dict[str, Held]
    source: str


@dataclass
class Survey:
    """What the fleet answered about the accounts of one page (see :mod:`accountd.resolver.walk`)."""

    servers: dict[str, ServerRef]
    accountd: AccountdView
    loaded: dict[str, set[str]] = field(default_factory=dict)
    """server id → accounts of the page it has loaded (ACCOUNTZ)."""
    listed: dict[str, set[str]] = field(default_factory=dict)
    """server id → accounts of the page in its resolver directory (LIST; only full and cache resolvers
    answer, and every one that answered has an entry, empty or not)."""
    held: dict[str, dict[str, Held | None]] = field(default_factory=dict)
    """account → server id → the loaded JWT (INFO); ``None`` when it did not decode."""
    lookups: dict[str, list[Held]] = field(default_factory=dict)
    """account → stored copies returned by LOOKUP (any server, and accountd)."""
    system_account: str = ""
    cache_servers: set[str] = field(default_factory=set)
    errors: list[str] = field(default_factory=list)
    time: float = field(default_factory=time.time)


@dataclass(frozen=True, slots=True)
class Cell:
    status: Status
    jti: str = ""
    iat: int = 0
    detail: str = ""


@dataclass
class Row:
    account: str
    name: str
    accountd: Held | None
    cells: dict[str, Cell]


@dataclass
class FleetReport:
    """The comparison of one page (:func:`compare`: every row), or the sum of a walk's pages
    (:meth:`add`: the counts of every account, a bounded number of rows)."""

    time: float
    servers: list[ServerRef]
    rows: list[Row]
    """Sorted by account key. Of a sum: the drifted rows first, see :meth:`add`."""
    kinds: dict[str, str]
    """server id → ``full``, ``cache`` or ``url/memory``."""
    accountd_source: str
    errors: list[str] = field(default_factory=list)
    compared: int = 0
    """Accounts compared (``len(rows)`` for one page; of a sum, ``rows`` may hold fewer)."""
    summary: Counter[str] = field(default_factory=Counter)
    """Account × server cells of every compared account, by status."""

    def labels(self) -> dict[str, str]:
        """server id → a display name (the name, with an id prefix when names repeat)."""
        names = Counter(s.name for s in self.servers)
        return {s.id: s.name if s.name and names[s.name] == 1 else f"{s.name or '?'}#{s.id[:6]}" for s in self.servers}

    def counts(self) -> Counter[str]:
        return self.summary

    def drift(self) -> list[tuple[Row, ServerRef, Cell]]:
        """The drifted cells of the rows held."""
        by_id = {s.id: s for s in self.servers}
        return [(r, by_id[sid], c) for r in self.rows for sid, c in r.cells.items() if c.status in DRIFT]

    @property
    def in_step(self) -> bool:
        return not any(self.summary[str(status)] for status in DRIFT) and not self.errors

    def add(self, page: FleetReport, keep: int = 1000) -> None:
        """Count ``page`` in, and hold at most ``keep`` of all rows: drifted ones first, then the
        others while there is room (the first ones by key)."""
        self.compared += page.compared
        self.summary.update(page.summary)
        drifted = [r for r in self.rows if _drifted(r)]
        steady = [r for r in self.rows if not _drifted(r)]
        for row in page.rows:
            (drifted if _drifted(row) else steady).append(row)
        drifted = drifted[:keep]
        self.rows = sorted(drifted + steady[: keep - len(drifted)], key=lambda r: r.account)

    def row_dict(self, r: Row, labels: dict[str, str] | None = None) -> dict[str, Any]:
        """One row as :meth:`to_dict` lists it under ``accounts``."""
        labels = labels if labels is not None else self.labels()
        return {
            "account": r.account,
            "name": r.name,
            "accountd": None if r.accountd is None else {"jti": r.accountd.jti, "iat": r.accountd.iat},
            "servers": {labels[sid]: {"status": str(c.status), "jti": c.jti, "iat": c.iat, "detail": c.detail}
                        for sid, c in r.cells.items()},
        }  # fmt: skip

    def head_dict(self) -> dict[str, Any]:
        """What :meth:`to_dict` says before the accounts."""
        labels = self.labels()
        return {
            "time": datetime.fromtimestamp(self.time, UTC).isoformat().replace("+00:00", "Z"),
            "accountd_source": self.accountd_source,
            "servers": [{"id": s.id, "name": labels[s.id], "cluster": s.cluster, "version": s.version,
                         "resolver": self.kinds.get(s.id, "")} for s in self.servers],
        }  # fmt: skip

    def tail_dict(self) -> dict[str, Any]:
        """What :meth:`to_dict` says after the accounts (known once every page is counted in)."""
        return {
            "in_step": self.in_step,
            "accounts_compared": self.compared,
            "summary": dict(sorted(self.summary.items())),
            "errors": list(self.errors),
        }

    def to_dict(self) -> dict[str, Any]:
        labels = self.labels()
        return {**self.head_dict(), "accounts": [self.row_dict(r, labels) for r in self.rows], **self.tail_dict()}


def _drifted(row: Row) -> bool:
    return any(c.status in DRIFT for c in row.cells.values())


def resolver_kinds(servers: Iterable[str], listing: Collection[str], cache_servers: Collection[str]) -> dict[str, str]:
    """server id → ``cache`` (answered updates like one), ``full`` (answered LIST) or ``url/memory``."""
    return {sid: "cache" if sid in cache_servers else "full" if sid in listing else "url/memory" for sid in servers}


# ----------------------------------------------------------------------------------------- compare


def _versus(server: Held | None, current: Held) -> Cell:
    if server is None:
        return Cell(Status.STALE, detail="the loaded JWT does not decode")
    if server.jti == current.jti:
        return Cell(Status.CURRENT, server.jti, server.iat)
    if server.iat > current.iat:
        return Cell(Status.AHEAD, server.jti, server.iat, f"iat {server.iat} is newer than accountd's {current.iat}")
    return Cell(Status.STALE, server.jti, server.iat, f"iat {server.iat}, accountd has {current.iat}")


def compare(s: Survey) -> FleetReport:
    """Each account × server as a :class:`Cell`; see :class:`Status`."""
    now = s.time
    current = {a: h for a, h in s.accountd.accounts.items() if not 0 < h.exp < now}
    kinds = resolver_kinds(s.servers, s.listed, s.cache_servers)
    accounts = set(current) | set(s.held) | {a for keys in s.listed.values() for a in keys}
    if s.system_account and s.system_account not in current:
        accounts.discard(s.system_account)  # preloaded everywhere; accountd need not hold it
    rows = []
    for account in sorted(accounts):
        cur = current.get(account)
        held = s.held.get(account, {})
        cells: dict[str, Cell] = {}
        stored_holders = [sid for sid in s.servers if account in s.listed.get(sid, ()) and sid not in held]
        for sid in s.servers:
            stored = account in s.listed.get(sid, ())
            if cur is None:
                if sid in held or stored:
                    h = held.get(sid)
                    where = "loaded" if sid in held else "stored"
                    cells[sid] = Cell(Status.EXTRA, h.jti if h else "", h.iat if h else 0, f"{where}; not in accountd")
                else:
                    cells[sid] = Cell(Status.NOT_LOADED)
            elif sid in held:
                cells[sid] = _versus(held[sid], cur)
            elif stored:
                cells[sid] = _stored(s, account, cur, sid, stored_holders)
            elif kinds[sid] == "full":
                cells[sid] = Cell(Status.MISSING, detail="not in the resolver directory")
            else:
                cells[sid] = Cell(Status.NOT_LOADED)
        name = cur.name if cur else next((h.name for h in held.values() if h), "")
        rows.append(Row(account, name, cur, cells))
    rows.sort(key=lambda r: r.account)
    summary = Counter(str(c.status) for r in rows for c in r.cells.values())
    return FleetReport(s.time, sorted(s.servers.values(), key=lambda x: (x.name, x.id)), rows, kinds,
                       s.accountd.source, list(s.errors), len(rows), summary)  # fmt: skip


def _stored(s: Survey, account: str, cur: Held, sid: str, holders: list[str]) -> Cell:
    """A stored, unloaded copy: judged by the LOOKUP replies (which do not name their server)."""
    copies = s.lookups.get(account, [])
    ahead = [c for c in copies if c.jti != cur.jti and c.iat > cur.iat]
    stale = [c for c in copies if c.jti != cur.jti and c.iat <= cur.iat]
    full_holders = [h for h in holders if h not in s.cache_servers]
    if sid in s.cache_servers:
        if stale or ahead:
            return Cell(Status.UNVERIFIED, detail="stored, not loaded; a cache resolver does not answer LOOKUP")
        return Cell(Status.CURRENT, cur.jti, cur.iat, "stored, not loaded")
    if not stale and not ahead:
        return Cell(Status.CURRENT, cur.jti, cur.iat, "stored, not loaded")
    if len(stale) >= len(full_holders) and not ahead:
        oldest = min(stale, key=lambda c: c.iat)
        return Cell(Status.STALE, oldest.jti, oldest.iat, f"stored, not loaded; iat {oldest.iat}, accountd has "
                                                          f"{cur.iat}")  # fmt: skip
    if len(ahead) >= len(full_holders) and not stale:
        newest = max(ahead, key=lambda c: c.iat)
        return Cell(Status.AHEAD, newest.jti, newest.iat, "stored, not loaded; newer than accountd")
    return Cell(Status.UNVERIFIED, detail=f"stored, not loaded; {len(stale) + len(ahead)} of {len(full_holders)} "
                                          "stored copies differ from accountd")  # fmt: skip
