"""Ask the fleet which account JWT each nats-server holds, page by page (SPEC §5.4, §9).

A :class:`FleetWalk` asks over a system-account connection:

1. ``$SYS.REQ.SERVER.PING`` — every server answers: the fleet (accountd does not answer this one,
   which tells its replies to the other requests apart);
2. ``$SYS.REQ.SERVER.PING.ACCOUNTZ`` — the accounts each server has loaded;
3. ``$SYS.REQ.CLAIMS.LIST`` — what full and cache resolvers store in their directory (and, without
   a URL, accountd's own keys: the reply of a responder that is not a nats-server);

then walks accountd's accounts in key order, ``page`` at a time — ``?list=true&limit=`` pages over
HTTP, or its LIST reply cut into pages and looked up (LOOKUP, the newest reply) page by page —
merged with the servers' keys, and for each page of at most ``page`` accounts asks:

4. ``$SYS.REQ.ACCOUNT.<id>.INFO`` for each account of the page loaded somewhere — every server
   answers, with ``data.jwt`` where it is loaded and error 500 "Account … does not exist" where not
   (observed on 2.15.1; INFO never fetches), so collection stops as soon as all servers replied;
5. ``$SYS.REQ.ACCOUNT.<id>.CLAIMS.LOOKUP`` for accounts of the page stored but not loaded
   somewhere: full resolvers answer with their stored JWT (cache resolvers do not answer: observed
   as "no responders" on 2.15.1 with only a cache resolver). The reply does not say which server
   sent it, so a stale stored copy is pinned to a server only when the count allows it.

Each page is yielded as a :class:`~accountd.resolver.fleet.Survey` and dropped: what the walk holds
is one page of accountd's accounts plus what the servers answered in steps 2 and 3 (one reply per
server, bounded by what a server holds and by its ``max_payload``), kept as sorted lists.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import json
import time
from bisect import bisect_left, bisect_right
from collections.abc import AsyncIterator, Collection, Iterable, Iterator
from typing import Any

from nats.aio.client import Client

from accountd.claims import is_account_key
from accountd.resolver.fetch import HttpFetcher
from accountd.resolver.fleet import AccountdView, FleetReport, Held, ServerRef, Survey, resolver_kinds
from accountd.resolver.replies import Envelope, NoResponders, collect_replies, from_all, parse_envelope

__all__ = ["CLAIMS_LIST", "PAGE", "PING", "PING_ACCOUNTZ", "FleetWalk", "accountd_lists"]

PING = "$SYS.REQ.SERVER.PING"
PING_ACCOUNTZ = "$SYS.REQ.SERVER.PING.ACCOUNTZ"
CLAIMS_LIST = "$SYS.REQ.CLAIMS.LIST"
PAGE = 1000
"""Accounts per page: accountd's list limit (at most 1000 per request)."""


class FleetWalk:
    """One survey of the fleet. ``accountd``: ask accountd over HTTP; ``None``: over NATS.

    Call :meth:`start` (or let :meth:`pages` do it), then iterate :meth:`pages`; :meth:`report`
    is the empty sum to :meth:`~accountd.resolver.fleet.FleetReport.add` the pages' reports to.
    """

    def __init__(
        self,
        nc: Client,
        accountd: HttpFetcher | None = None,
        *,
        system_account: str = "",
        quiet: float = 0.25,
        timeout: float = 2.0,
        concurrency: int = 32,
        cache_servers: Iterable[str] = (),
        page: int = PAGE,
    ) -> None:
        if page < 1:
            raise ValueError("page must be at least 1")
        self.nc = nc
        self.http = accountd
        self.system_account = system_account
        self.quiet = quiet
        self.timeout = timeout
        self.page = page
        self.cache_servers = set(cache_servers)
        self.source = "http" if accountd is not None else "nats"
        self.time = time.time()
        self.servers: dict[str, ServerRef] = {}
        self.loaded: dict[str, list[str]] = {}
        """server id → the accounts it has loaded, sorted (ACCOUNTZ)."""
        self.listed: dict[str, list[str]] = {}
        """server id → the accounts in its resolver directory, sorted (LIST)."""
        self.errors: list[str] = []
        self.accountd_empty: bool | None = None
        """Whether accountd holds no account at all; known before the first page is yielded."""
        self.largest_page = 0
        """The most accounts one page held (accountd's and the servers' together)."""
        self._accountd_lists: list[list[str]] = []
        self._limit = asyncio.Semaphore(concurrency)
        self._started = False

    # ------------------------------------------------------------------------------ the fleet

    async def start(self) -> None:
        """Steps 1–3: the servers, what each has loaded and stored; accountd's keys over NATS."""
        if self._started:
            return
        self._started = True
        self.servers = await _ping(self.nc, self.quiet, self.timeout)
        if not self.servers:
            self.errors.append("no nats-server answered $SYS.REQ.SERVER.PING (is --creds a system-account user?)")
        accountz, listing = await asyncio.gather(
            collect_replies(self.nc, PING_ACCOUNTZ, quiet=self.quiet, timeout=self.timeout,
                            done=from_all(self.servers)),
            _list(self.nc, self.quiet, self.timeout),
        )  # fmt: skip
        for env in _envelopes(accountz):
            if env.server_id in self.servers and isinstance(env.data, dict):
                self.loaded[env.server_id] = _keys(env.data.get("accounts"))
                self.system_account = self.system_account or str(env.data.get("system_account", ""))
        for sid in self.servers.keys() - self.loaded.keys():
            name = self.servers[sid].name or sid
            self.errors.append(f"{name} did not answer {PING_ACCOUNTZ}; its loaded accounts are unknown")
        refusals = []
        for env in listing:
            if env.server_id in self.servers:
                self.listed[env.server_id] = _keys(env.data) if env.ok else []
            elif env.ok:
                if self.http is None:  # over HTTP, accountd's own list is walked in pages instead
                    self._accountd_lists.append(_keys(env.data))
            else:
                refusals.append(env.message or "an error")
        if self.http is None and not self._accountd_lists:
            why = (f" (it answered: {refusals[0]}; --url lists over HTTP)" if refusals
                   else " (is accountd serve connected to NATS?)")  # fmt: skip
            self.errors.append(f"accountd did not answer $SYS.REQ.CLAIMS.LIST{why}")

    def report(self) -> FleetReport:
        """The empty sum of this walk: servers, their kinds and the errors so far, no accounts."""
        servers = sorted(self.servers.values(), key=lambda x: (x.name, x.id))
        kinds = resolver_kinds(self.servers, self.listed, self.cache_servers)
        return FleetReport(self.time, servers, [], kinds, self.source, self.errors)

    # ------------------------------------------------------------------------------ the pages

    async def pages(self) -> AsyncIterator[Survey]:
        """What the fleet holds of each page of at most ``page`` accounts, in key order.

        A failure to list accountd's accounts raises (``ResolverError``) after the pages before it.
        """
        await self.start()
        chunk: list[tuple[str, Held | None]] = []
        async for item in self._merged():
            chunk.append(item)
            if len(chunk) >= self.page:
                yield await self._survey(chunk)
                chunk = []
        if chunk:
            yield await self._survey(chunk)

    async def _accountd_pages(self) -> AsyncIterator[list[Held]]:
        """accountd's accounts, sorted by key, a page at a time."""
        if self.http is not None:
            async for rows in self.http.list_accounts(self.page):
                yield [_held_of_row(r) for r in rows if is_account_key(r["account"])]
            return
        keys = _unique(heapq.merge(*self._accountd_lists))  # several accountd instances answer alike
        while batch := list(itertools.islice(keys, self.page)):
            yield await self._accountd_over_nats(batch)

    async def _merged(self) -> AsyncIterator[tuple[str, Held | None]]:
        """Every account accountd or a server holds, in key order, with accountd's version."""
        theirs = _unique(heapq.merge(*self.loaded.values(), *self.listed.values()))
        ahead = next(theirs, None)
        async for page in self._accountd_pages():
            for held in page:
                self.accountd_empty = False
                while ahead is not None and ahead < held.account:
                    yield ahead, None
                    ahead = next(theirs, None)
                if ahead == held.account:
                    ahead = next(theirs, None)
                yield held.account, held
        if self.accountd_empty is None:
            self.accountd_empty = True
        while ahead is not None:
            yield ahead, None
            ahead = next(theirs, None)

    async def _survey(self, chunk: list[tuple[str, Held | None]]) -> Survey:
        """Steps 4 and 5 for the accounts of one page."""
        self.largest_page = max(self.largest_page, len(chunk))
        lo, hi = chunk[0][0], chunk[-1][0]
        view = AccountdView({k: h for k, h in chunk if h is not None}, self.source)
        s = Survey(self.servers, view, {sid: _between(keys, lo, hi) for sid, keys in self.loaded.items()},
                   {sid: _between(keys, lo, hi) for sid, keys in self.listed.items()},
                   system_account=self.system_account, cache_servers=self.cache_servers,
                   time=self.time)  # fmt: skip
        loaded_here = sorted(set().union(*s.loaded.values()))
        await asyncio.gather(*(self._info(s, a) for a in loaded_here))
        stored_unloaded = {
            a for sid, keys in s.listed.items() for a in keys if a in view.accounts and sid not in s.held.get(a, {})
        }
        await asyncio.gather(*(self._lookup_into(s, a) for a in sorted(stored_unloaded)))
        return s

    async def _info(self, s: Survey, account: str) -> None:
        async with self._limit:
            replies = await collect_replies(self.nc, f"$SYS.REQ.ACCOUNT.{account}.INFO", quiet=self.quiet,
                                            timeout=self.timeout, done=from_all(s.servers))  # fmt: skip
        for env in _envelopes(replies):
            if env.server_id in s.servers and env.ok and isinstance(env.data, dict) and env.data.get("jwt"):
                s.held.setdefault(account, {})[env.server_id] = Held.of_jwt(str(env.data["jwt"]))

    async def _lookup_into(self, s: Survey, account: str) -> None:
        async with self._limit:
            s.lookups[account] = await _lookup(self.nc, account, self.quiet, self.timeout)

    async def _accountd_over_nats(self, keys: list[str]) -> list[Held]:
        """accountd's current JWT of each key: the newest LOOKUP reply (accountd is among the repliers)."""

        async def one(account: str) -> Held | None:
            async with self._limit:
                copies = await _lookup(self.nc, account, self.quiet, self.timeout)
            return max(copies, key=lambda h: h.iat) if copies else None

        asked = set(keys)
        found = await asyncio.gather(*(one(k) for k in keys))
        return [h for h in found if h is not None and h.account in asked]


async def accountd_lists(
    nc: Client, servers: Collection[str], *, quiet: float = 0.25, timeout: float = 2.0
) -> list[list[str]] | None:
    """accountd's keys as its ``$SYS.REQ.CLAIMS.LIST`` replies give them (one sorted list per
    accountd instance; replies from ``servers`` are left out); ``None`` when no accountd answered."""
    lists = [_keys(env.data) for env in await _list(nc, quiet, timeout)
             if env.server_id not in servers and env.ok]  # fmt: skip
    return lists or None


# ------------------------------------------------------------------------------------ helpers


def _keys(data: Any) -> list[str]:
    """The account keys of a reply's list, sorted and unique."""
    items = data if isinstance(data, list) else []
    return sorted({a for a in items if isinstance(a, str) and is_account_key(a)})


def _unique(keys: Iterator[str]) -> Iterator[str]:
    """A sorted iterator without repeats."""
    last = None
    for key in keys:
        if key != last:
            yield key
            last = key


def _between(keys: list[str], lo: str, hi: str) -> set[str]:
    """The keys of the sorted list ``keys`` from ``lo`` to ``hi``, both included."""
    return set(keys[bisect_left(keys, lo) : bisect_right(keys, hi)])


def _held_of_row(r: dict[str, Any]) -> Held:
    return Held(r["account"], str(r.get("name", "")), str(r.get("jti", "")), int(r.get("iat") or 0),
                int(r.get("exp") or 0))  # fmt: skip


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


async def _list(nc: Client, quiet: float, timeout: float) -> list[Envelope]:
    try:
        return _envelopes(await collect_replies(nc, CLAIMS_LIST, quiet=quiet, timeout=timeout))
    except NoResponders:
        return []  # no full or cache resolver, and no accountd connected


async def _lookup(nc: Client, account: str, quiet: float, timeout: float) -> list[Held]:
    try:
        replies = await collect_replies(nc, f"$SYS.REQ.ACCOUNT.{account}.CLAIMS.LOOKUP", quiet=quiet,
                                        timeout=timeout)  # fmt: skip
    except NoResponders:
        return []
    return [h for h in (Held.of_jwt(m.data.decode("ascii", "replace").strip()) for m in replies if m.data) if h]
