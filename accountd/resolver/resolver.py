"""The :class:`Resolver`: validated account claims, cached, kept current by claim updates.

``await resolver.get(pub)`` answers from the LRU cache, else fetches (HTTP first, then a NATS
LOOKUP when HTTP fails) and validates as nats-server would. Updates published on
``$SYS.ACCOUNT.*.CLAIMS.UPDATE`` / ``$SYS.REQ.ACCOUNT.*.CLAIMS.UPDATE`` are judged
(:func:`~accountd.resolver.updates.judge_update`) and applied to held accounts only; every
applied change calls the registered callbacks with ``(old, new, diff)``.

Freshness: while the update subscription is live, cached claims are current by construction.
After every NATS (re)connect — when updates may have been missed — and every
``revalidate_interval`` seconds, each cached account is revalidated with the account server
(``If-None-Match``: a 304 costs no body). Without a live subscription, ``Cache-Control`` rules:
``max-age`` keeps an entry fresh that long, ``no-cache`` revalidates it on every ``get``, and a
stale copy is served when the account server cannot be reached. Expired accounts are evicted.

Fetching, validating and revalidating are the :class:`~accountd.resolver.loader.Loader`'s; the
resolver holds the cache, applies updates, runs the background work and calls the callbacks.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Literal

from nats.aio.client import Client
from nats.aio.msg import Msg
from prometheus_client import CollectorRegistry

from accountd import tasks
from accountd.bus.subjects import account_from_subject
from accountd.claims import AccountClaims, Trust, is_account_key, is_revoked
from accountd.natsclient import NatsTLS
from accountd.resolver.cache import AccountCache, Entry
from accountd.resolver.diff import AccountDiff, diff_accounts
from accountd.resolver.errors import AccountNotFound, FetchFailed
from accountd.resolver.feed import UPDATE_SUBJECTS, UpdateFeed
from accountd.resolver.fetch import HttpFetcher, NatsFetcher
from accountd.resolver.loader import Loader
from accountd.resolver.metrics import ResolverCollector, ResolverStats
from accountd.resolver.updates import Verdict, judge_update

__all__ = ["UPDATE_SUBJECTS", "EvictCallback", "Resolver", "UpdateCallback"]

log = logging.getLogger("accountd.resolver")

UpdateCallback = Callable[[AccountClaims, AccountClaims, AccountDiff], Awaitable[None] | None]
"""``(old, new, diff)``; may be a coroutine function. Called once per applied change."""
EvictCallback = Callable[[AccountClaims, str], Awaitable[None] | None]
"""``(claims, reason)`` with reason ``expired``, ``deleted``, ``invalid`` or ``lru``."""


def _trust(operators: Trust | str | Sequence[str]) -> Trust:
    if isinstance(operators, Trust):
        return operators
    tokens = [operators] if isinstance(operators, str) else list(operators)
    if not tokens:
        raise ValueError("at least one operator JWT is needed")
    return Trust.from_jwts(*tokens)


class Resolver:
    """Resolve and follow account JWTs. Use ``async with Resolver(...)`` or :meth:`start`/:meth:`close`.

    ``operators``: a :class:`~accountd.claims.Trust` or operator JWT text(s). ``url``: the account
    server (``http://h:9090``, ``…/jwt/v1`` or ``…/jwt/v1/accounts``). ``nats``: a connected
    nats-py client of a system-account user (yours: the resolver only subscribes on it and notices
    its reconnects by polling), or server URL(s) with ``creds`` (the resolver owns the connection
    and reconnects forever; ``tls``: its TLS files). At least one of ``url`` and ``nats`` is needed.
    """

    def __init__(
        self,
        operators: Trust | str | Sequence[str],
        *,
        url: str | None = None,
        nats: Client | str | Sequence[str] | None = None,
        creds: str | None = None,
        tls: NatsTLS | None = None,
        token: str | None = None,
        max_size: int = 10_000,
        fetch_timeout: float = 1.9,
        retries: int = 2,
        backoff: float = 0.1,
        lookup: Literal["first", "newest"] = "first",
        revalidate_interval: float | None = 300.0,
        reconnect_poll: float = 0.5,
        skew: int = 0,
        clock: Callable[[], float] = time.time,
        registry: CollectorRegistry | None = None,
        name: str = "accountd-resolver",
    ) -> None:
        if url is None and nats is None:
            raise ValueError("a Resolver needs an account server url, a NATS connection, or both")
        self.trust = _trust(operators)
        self.skew = skew
        self.clock = clock
        self.revalidate_interval = revalidate_interval
        self.stats = ResolverStats()
        self.cache = AccountCache(max_size)
        self.feed = None if nats is None else UpdateFeed(
            nats, self._on_update_msg, self._connected, creds=creds, tls=tls, name=name, reconnect_poll=reconnect_poll)
        self.http = HttpFetcher(url, timeout=fetch_timeout, retries=retries, backoff=backoff,
                                token=token) if url else None  # token: for the listing, an admin route
        self.lookup = NatsFetcher(self.nc, timeout=fetch_timeout, pick=lookup) if nats is not None else None
        self._loader = Loader([f for f in (self.http, self.lookup) if f is not None], self.trust, self.cache,
                              self.stats, put=self._put, replace=self._install, evict=self._evict, clock=clock,
                              skew=skew)  # fmt: skip
        self._update_callbacks: list[UpdateCallback] = []
        self._evict_callbacks: list[EvictCallback] = []
        self._inflight: dict[str, asyncio.Task[AccountClaims]] = {}
        self._stash: dict[str, str] = {}
        self._stashed: set[asyncio.Task[Verdict]] = set()
        self._tasks: list[asyncio.Task[None]] = []
        self._revalidating: asyncio.Task[Counter[str]] | None = None
        self._wake = asyncio.Event()
        self.registry = registry if registry is not None else CollectorRegistry()
        self.registry.register(ResolverCollector(self.stats, lambda: len(self.cache), lambda: self.live))

    # ------------------------------------------------------------------------------ connection

    def nc(self) -> Client | None:
        """The NATS connection in use (``None`` without NATS, or before the first connect)."""
        return self.feed.nc() if self.feed is not None else None

    @property
    def live(self) -> bool:
        """True while the update subscription is in place on a connected client."""
        return self.feed is not None and self.feed.live

    @property
    def connects(self) -> int:
        """NATS connects so far, the first included."""
        return self.feed.connects if self.feed is not None else 0

    async def start(self) -> None:
        """Subscribe to claim updates and start the background work. Returns at once with an owned
        connection (it connects in the background; see :meth:`wait_live`)."""
        if self.feed is not None:
            await self.feed.start()
        self._tasks.append(asyncio.create_task(self._sweep(), name="resolver-expiry"))
        if self.revalidate_interval:
            self._tasks.append(asyncio.create_task(self._periodic(), name="resolver-revalidate"))

    async def wait_live(self, timeout: float = 10.0) -> bool:
        """Wait until the update subscription is live (true at once without NATS)."""
        return self.feed is None or await self.feed.wait_live(timeout)

    async def close(self) -> None:
        for task in [*self._tasks, *self._inflight.values(), *self._stashed]:
            task.cancel()
        if self._revalidating is not None:
            self._revalidating.cancel()
        for task in self._tasks:
            await tasks.stop(task)
        self._tasks.clear()
        if self.feed is not None:
            await self.feed.close()
        if self.http is not None:
            await self.http.close()

    async def __aenter__(self) -> Resolver:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def _connected(self) -> None:
        """After the first connect and every reconnect: updates may have been missed meanwhile."""
        self._schedule_revalidation("reconnect" if self.connects > 1 else "connect")

    def _schedule_revalidation(self, why: str) -> None:
        if not len(self.cache) or not self._loader.fetchers:
            return
        if self._revalidating is not None and not self._revalidating.done():
            self._revalidating.cancel()
        log.info("revalidating %d cached accounts (%s)", len(self.cache), why)
        self._revalidating = asyncio.create_task(self.revalidate(), name="resolver-revalidation")

    # ------------------------------------------------------------------------------ callbacks

    def on_update(self, callback: UpdateCallback) -> Callable[[], None]:
        """Call ``callback(old, new, diff)`` for every applied change; returns a remover."""
        self._update_callbacks.append(callback)
        return lambda: self._update_callbacks.remove(callback)

    def on_evict(self, callback: EvictCallback) -> Callable[[], None]:
        """Call ``callback(claims, reason)`` when an account leaves the cache; returns a remover."""
        self._evict_callbacks.append(callback)
        return lambda: self._evict_callbacks.remove(callback)

    async def _call(self, callback: Callable[..., Awaitable[None] | None], *args: Any) -> None:
        try:
            result = callback(*args)
            if inspect.isawaitable(result):
                await result
        except Exception:
            self.stats.callback_errors += 1
            log.exception("a resolver callback failed")

    async def _evicted(self, entry: Entry, reason: str) -> None:
        self.stats.evictions[reason] += 1
        log.debug("evicted %s (%s)", entry.account, reason)
        for callback in list(self._evict_callbacks):
            await self._call(callback, entry.claims, reason)

    async def _evict(self, entry: Entry, reason: str) -> None:
        if self.cache.peek(entry.account) is entry:
            self.cache.pop(entry.account)
            await self._evicted(entry, reason)

    async def _put(self, entry: Entry) -> None:
        for old in self.cache.put(entry):
            await self._evicted(old, "lru")
        if entry.claims.exp:
            self._wake.set()

    # ------------------------------------------------------------------------------ reads

    async def get(self, account: str) -> AccountClaims:
        """The validated claims of ``account``: cached, else fetched.

        Raises :class:`AccountNotFound`, :class:`InvalidAccount` or :class:`FetchFailed`.
        """
        entry = self.cache.get(account)
        if entry is not None:
            now = self.clock()
            if entry.expired(now):
                await self._evict(entry, "expired")
            elif self.live or (entry.fresh_until is not None and now < entry.fresh_until) or not self.http:
                self.stats.hits += 1
                return entry.claims
            else:
                self.stats.hits += 1
                try:
                    return (await self._loader.revalidate(entry)).claims
                except FetchFailed as exc:
                    log.debug("serving a cached %s: %s", account, exc.message)
                    return entry.claims
        if not is_account_key(account):
            raise AccountNotFound(f"{account!r} is not an account public key", "invalid_key")
        self.stats.misses += 1
        task = self._inflight.get(account)
        if task is None:
            task = asyncio.create_task(self._loader.load(account), name=f"resolve-{account[:8]}")
            self._inflight[account] = task
            task.add_done_callback(lambda t: self._loaded(account, t))
        return await asyncio.shield(task)

    def _loaded(self, account: str, task: asyncio.Task[AccountClaims]) -> None:
        self._inflight.pop(account, None)
        if not task.cancelled():
            task.exception()  # retrieved: waiters got it; avoids "never retrieved" noise
        token = self._stash.pop(account, None)
        if token is not None:  # an update arrived while the fetch was in flight
            stashed = asyncio.create_task(self.apply_update(token, account))
            self._stashed.add(stashed)
            stashed.add_done_callback(self._stashed.discard)

    def peek(self, account: str) -> AccountClaims | None:
        """Cached claims without fetching (and without counting a hit or miss)."""
        entry = self.cache.peek(account)
        return entry.claims if entry is not None else None

    def jwt(self, account: str) -> str | None:
        """The cached JWT of ``account`` as received."""
        entry = self.cache.peek(account)
        return entry.jwt if entry is not None else None

    async def is_revoked(self, account: str, user: str, iat: int) -> bool:
        """Is the user JWT (``sub`` = ``user``, issued at ``iat``) revoked by ``account``? (SPEC §4.5)"""
        return is_revoked(await self.get(account), user, iat)

    async def refresh(self, account: str) -> AccountClaims:
        """Revalidate ``account`` with the account server now (fetch it when not held)."""
        entry = self.cache.peek(account)
        if entry is None:
            return await self.get(account)
        return (await self._loader.revalidate(entry)).claims

    async def revalidate(self, concurrency: int = 16) -> Counter[str]:
        """Revalidate every cached account; returns how many were ``unchanged``, ``changed``…"""
        return await self._loader.revalidate_all(concurrency)

    # ------------------------------------------------------------------------------ updates

    async def _on_update_msg(self, msg: Msg) -> None:
        self.stats.updates_received += 1
        try:
            await self.apply_update(msg.data.decode("ascii", "replace").strip(), account_from_subject(msg.subject))
        except Exception:  # a bug here must not end the subscription
            log.exception("handling a claim update on %s failed", msg.subject)

    async def apply_update(self, token: str, account: str) -> Verdict:
        """Judge and apply one claim update for ``account`` (as if received on its subject)."""
        if account in self._inflight and account not in self.cache:
            self._stash[account] = token
            self.stats.updates_skipped["in_flight"] += 1
            return Verdict("skip", "in_flight")
        held = self.cache.peek(account)
        verdict = judge_update(token, account, held, self.trust, now=self.clock(), skew=self.skew)
        if verdict.action == "apply" and held is not None and verdict.claims is not None:
            self.stats.updates_applied += 1
            await self._install(held, Entry(verdict.claims, token, f'"{verdict.claims.jti}"', "update"))
        elif verdict.action == "reject":
            self.stats.updates_rejected[verdict.reason] += 1
            log.info("ignored a claim update for %s: %s (%s)", account, verdict.reason, verdict.detail)
        else:
            self.stats.updates_skipped[verdict.reason] += 1
        return verdict

    async def _install(self, held: Entry, entry: Entry) -> None:
        """Hold ``entry`` in place of ``held`` (same account, newer claims) and tell the callbacks."""
        await self._put(entry)
        log.debug("account %s updated: iat %d -> %d", entry.account, held.claims.iat, entry.claims.iat)
        if self._update_callbacks:
            diff = diff_accounts(held.claims, entry.claims)
            for callback in list(self._update_callbacks):
                await self._call(callback, held.claims, entry.claims, diff)

    # ------------------------------------------------------------------------------ background

    async def _sweep(self) -> None:
        """Evict accounts as they expire (nats-server: expired when ``now > exp``)."""
        while True:
            nxt = self.cache.next_expiry()
            delay = 1.0 if nxt is None else min(1.0, max(0.0, nxt - self.clock()) + 0.01)
            self._wake.clear()
            await tasks.wait_event(self._wake, delay)
            for entry in self.cache.expired(self.clock()):
                await self._evicted(entry, "expired")

    async def _periodic(self) -> None:
        assert self.revalidate_interval
        while True:
            await asyncio.sleep(self.revalidate_interval)
            if len(self.cache):
                try:
                    await self.revalidate()
                except Exception:
                    log.exception("periodic revalidation failed")

    # ------------------------------------------------------------------------------ state

    def state(self) -> dict[str, Any]:
        """A JSON-ready view: connection, counters and the held accounts."""
        return {
            "live": self.live,
            "connects": self.connects,
            "cached": len(self.cache),
            "max_size": self.cache.max_size,
            "stats": self.stats.to_dict(),
            "accounts": [
                {"account": e.account, "name": e.claims.name, "jti": e.jti, "iat": e.claims.iat,
                 "exp": e.claims.exp, "source": e.source}
                for e in self.cache.entries()
            ],
        }  # fmt: skip
