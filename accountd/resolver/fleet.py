"""Which account JWT does each nats-server hold, and does it match accountd? (SPEC §5.4, §9)

:func:`survey` asks the fleet over a system-account connection:

1. ``$SYS.REQ.SERVER.PING`` — every server answers: the fleet (accountd does not answer this one,
   which tells its replies to the other requests apart);
2. ``$SYS.REQ.SERVER.PING.ACCOUNTZ`` — the accounts each server has loaded;
3. ``$SYS.REQ.CLAIMS.LIST`` — what full and cache resolvers store in their directory;
4. ``$SYS.REQ.ACCOUNT.<id>.INFO`` for each loaded account — every server answers, with ``data.jwt``
   where it is loaded and error 500 "Account … does not exist" where not (observed on 2.15.1; INFO
   never fetches), so collection stops as soon as all servers replied;
5. ``$SYS.REQ.ACCOUNT.<id>.CLAIMS.LOOKUP`` for accounts stored but not loaded somewhere: full
   resolvers answer with their stored JWT (cache resolvers do not answer: observed as "no
   responders" on 2.15.1 with only a cache resolver). The reply does not say which server sent it,
   so a stale stored copy is pinned to a server only when the count allows it (else ``unverified``).

:func:`compare` turns that into a :class:`FleetReport`: for each account × server a
:class:`Status`. Pure; no I/O.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from nats.aio.client import Client

from accountd.claims import DecodeError, decode_account, is_account_key
from accountd.resolver.fetch import HttpFetcher
from accountd.resolver.replies import Envelope, NoResponders, collect_replies, from_all, parse_envelope

__all__ = ["AccountdView", "Cell", "FleetReport", "Held", "Row", "ServerRef", "Status", "Survey", "compare", "survey"]

PING = "$SYS.REQ.SERVER.PING"
PING_ACCOUNTZ = "$SYS.REQ.SERVER.PING.ACCOUNTZ"
CLAIMS_LIST = "$SYS.REQ.CLAIMS.LIST"


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
    """The accounts accountd holds (``source``: ``http`` list or ``nats`` LIST + LOOKUP)."""

    accounts: dict[str, Held]
    source: str

    @classmethod
    async def from_http(cls, fetcher: HttpFetcher) -> AccountdView:
        rows = await fetcher.list_accounts()
        held = {
            r["account"]: Held(r["account"], str(r.get("name", "")), str(r.get("jti", "")), int(r.get("iat") or 0),
                               int(r.get("exp") or 0))
            for r in rows if is_account_key(r["account"])
        }  # fmt: skip
        return cls(held, "http")


@dataclass
class Survey:
    """What the fleet answered (see the module docstring)."""

    servers: dict[str, ServerRef]
    accountd: AccountdView
    loaded: dict[str, set[str]] = field(default_factory=dict)
    """server id → accounts it has loaded (ACCOUNTZ)."""
    listed: dict[str, set[str]] = field(default_factory=dict)
    """server id → accounts in its resolver directory (LIST; only full and cache resolvers answer)."""
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
    time: float
    servers: list[ServerRef]
    rows: list[Row]
    kinds: dict[str, str]
    """server id → ``full``, ``cache`` or ``url/memory``."""
    accountd_source: str
    errors: list[str] = field(default_factory=list)

    def labels(self) -> dict[str, str]:
        """server id → a display name (the name, with an id prefix when names repeat)."""
        names = Counter(s.name for s in self.servers)
        return {s.id: s.name if s.name and names[s.name] == 1 else f"{s.name or '?'}#{s.id[:6]}" for s in self.servers}

    def counts(self) -> Counter[str]:
        return Counter(str(c.status) for r in self.rows for c in r.cells.values())

    def drift(self) -> list[tuple[Row, ServerRef, Cell]]:
        by_id = {s.id: s for s in self.servers}
        return [(r, by_id[sid], c) for r in self.rows for sid, c in r.cells.items() if c.status in DRIFT]

    @property
    def in_step(self) -> bool:
        return not self.drift() and not self.errors

    def to_dict(self) -> dict[str, Any]:
        labels = self.labels()
        return {
            "time": datetime.fromtimestamp(self.time, UTC).isoformat().replace("+00:00", "Z"),
            "in_step": self.in_step,
            "accountd_source": self.accountd_source,
            "servers": [{"id": s.id, "name": labels[s.id], "cluster": s.cluster, "version": s.version,
                         "resolver": self.kinds.get(s.id, "")} for s in self.servers],
            "accounts": [
                {
                    "account": r.account,
                    "name": r.name,
                    "accountd": None if r.accountd is None else {"jti": r.accountd.jti, "iat": r.accountd.iat},
                    "servers": {labels[sid]: {"status": str(c.status), "jti": c.jti, "iat": c.iat, "detail": c.detail}
                                for sid, c in r.cells.items()},
                }
                for r in self.rows
            ],
            "summary": dict(sorted(self.counts().items())),
            "errors": list(self.errors),
        }


# ------------------------------------------------------------------------------------------ survey


def _envelopes(replies: Iterable[Any]) -> list[Envelope]:
    return [e for e in (parse_envelope(m.data) for m in replies) if e is not None]


async def _ping(nc: Client, quiet: float, timeout: float) -> dict[str, ServerRef]:
    servers: dict[str, ServerRef] = {}
    for m in await collect_replies(nc, PING, quiet=quiet, timeout=timeout):
        env = parse_envelope(m.data)
        if env is None or not env.server_id:
            continue
        raw = _server_doc(m.data)
        servers[env.server_id] = ServerRef(env.server_id, env.server_name, str(raw.get("cluster", "")),
                                           str(raw.get("ver", "")))  # fmt: skip
    return servers


def _server_doc(data: bytes) -> dict[str, Any]:
    try:
        doc = json.loads(data)
    except ValueError:
        return {}
    server = doc.get("server") if isinstance(doc, dict) else None
    return server if isinstance(server, dict) else {}


async def survey(
    nc: Client,
    accountd: AccountdView | None = None,
    *,
    system_account: str = "",
    quiet: float = 0.25,
    timeout: float = 2.0,
    concurrency: int = 32,
    cache_servers: Iterable[str] = (),
) -> Survey:
    """Ask the fleet what it holds. Without ``accountd``, accountd's view comes over NATS: the
    ``CLAIMS.LIST`` reply of a responder that is not a nats-server, and the newest LOOKUP reply."""
    servers = await _ping(nc, quiet, timeout)
    errors: list[str] = []
    if not servers:
        errors.append("no nats-server answered $SYS.REQ.SERVER.PING (is --creds a system-account user?)")
    accountz, listing = await asyncio.gather(
        collect_replies(nc, PING_ACCOUNTZ, quiet=quiet, timeout=timeout, done=from_all(servers)),
        _list(nc, quiet, timeout),
    )
    loaded: dict[str, set[str]] = {}
    for env in _envelopes(accountz):
        if env.server_id in servers and isinstance(env.data, dict):
            loaded[env.server_id] = {a for a in env.data.get("accounts") or [] if is_account_key(a)}
            system_account = system_account or str(env.data.get("system_account", ""))
    for sid in servers.keys() - loaded.keys():
        errors.append(f"{servers[sid].name or sid} did not answer {PING_ACCOUNTZ}; its loaded accounts are unknown")
    listed: dict[str, set[str]] = {}
    accountd_keys: set[str] = set()
    accountd_answered = False
    for env in listing:
        keys = {a for a in env.data or [] if isinstance(a, str) and is_account_key(a)} if env.ok else set()
        if env.server_id in servers:
            listed[env.server_id] = keys
        elif env.ok:
            accountd_answered = True
            accountd_keys |= keys
    limit = asyncio.Semaphore(concurrency)
    if accountd is None:
        if not accountd_answered:
            errors.append("accountd did not answer $SYS.REQ.CLAIMS.LIST (is accountd serve connected to NATS?)")
        accountd = await _accountd_over_nats(nc, sorted(accountd_keys), limit, quiet, timeout)
    result = Survey(servers, accountd, loaded, listed, system_account=system_account,
                    cache_servers=set(cache_servers), errors=errors)  # fmt: skip
    everywhere_loaded = set().union(*loaded.values()) if loaded else set()
    await asyncio.gather(*(_info(nc, result, a, limit, quiet, timeout) for a in sorted(everywhere_loaded)))
    stored_unloaded = {
        a for sid, keys in listed.items() for a in keys if a in accountd.accounts and sid not in result.held.get(a, {})
    }
    await asyncio.gather(*(_lookup_into(nc, result, a, limit, quiet, timeout) for a in sorted(stored_unloaded)))
    return result


async def _list(nc: Client, quiet: float, timeout: float) -> list[Envelope]:
    try:
        return _envelopes(await collect_replies(nc, CLAIMS_LIST, quiet=quiet, timeout=timeout))
    except NoResponders:
        return []  # no full or cache resolver, and no accountd connected


async def _info(nc: Client, s: Survey, account: str, limit: asyncio.Semaphore, quiet: float, timeout: float) -> None:
    async with limit:
        replies = await collect_replies(nc, f"$SYS.REQ.ACCOUNT.{account}.INFO", quiet=quiet, timeout=timeout,
                                        done=from_all(s.servers))  # fmt: skip
    for env in _envelopes(replies):
        if env.server_id in s.servers and env.ok and isinstance(env.data, dict) and env.data.get("jwt"):
            s.held.setdefault(account, {})[env.server_id] = Held.of_jwt(str(env.data["jwt"]))


async def _lookup(nc: Client, account: str, quiet: float, timeout: float) -> list[Held]:
    try:
        replies = await collect_replies(nc, f"$SYS.REQ.ACCOUNT.{account}.CLAIMS.LOOKUP", quiet=quiet,
                                        timeout=timeout)  # fmt: skip
    except NoResponders:
        return []
    return [h for h in (Held.of_jwt(m.data.decode("ascii", "replace").strip()) for m in replies if m.data) if h]


async def _lookup_into(
    nc: Client, s: Survey, account: str, limit: asyncio.Semaphore, quiet: float, timeout: float
) -> None:
    async with limit:
        s.lookups[account] = await _lookup(nc, account, quiet, timeout)


async def _accountd_over_nats(
    nc: Client, keys: list[str], limit: asyncio.Semaphore, quiet: float, timeout: float
) -> AccountdView:
    """accountd's current JWT of each key: the newest LOOKUP reply (accountd is among the repliers)."""
    held: dict[str, Held] = {}

    async def one(account: str) -> None:
        async with limit:
            copies = await _lookup(nc, account, quiet, timeout)
        if copies:
            held[account] = max(copies, key=lambda h: h.iat)

    await asyncio.gather(*(one(k) for k in keys))
    return AccountdView(held, "nats")


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
    kinds = {
        sid: "cache" if sid in s.cache_servers else "full" if sid in s.listed else "url/memory" for sid in s.servers
    }
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
    rows.sort(key=lambda r: (r.name.lower(), r.account))
    return FleetReport(s.time, sorted(s.servers.values(), key=lambda x: (x.name, x.id)), rows, kinds,
                       s.accountd.source, list(s.errors))  # fmt: skip


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
