"""The :class:`Loader`: the fetching half of the resolver — fetch, validate, revalidate.

An account not held is fetched from the account server (HTTP first, then a NATS LOOKUP when
HTTP fails; not-found is authoritative) and validated against the trusted operators as
nats-server would. A held one is revalidated with ``If-None-Match`` (a 304 costs no body) and
what comes back is judged like a claim update (:func:`~accountd.resolver.updates.judge_update`),
so an older JWT never replaces a newer one.

The loader reads the resolver's cache but never changes it: what is held, and who is told about
it, stays with the :class:`~accountd.resolver.resolver.Resolver`, which the loader calls back to
``put`` a fetched entry, ``replace`` a held one that changed, or ``evict`` one that is gone.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence

from accountd.claims import AccountClaims, DecodeError, Issue, Trust, decode_account, validate_account
from accountd.resolver.cache import AccountCache, Entry
from accountd.resolver.errors import AccountNotFound, FetchFailed, InvalidAccount
from accountd.resolver.fetch import Fetched, Fetcher
from accountd.resolver.metrics import ResolverStats
from accountd.resolver.updates import judge_update

__all__ = ["Loader"]

log = logging.getLogger("accountd.resolver")


class Loader:
    """Fetch and revalidate accounts for one resolver, counting every fetch in ``stats``.

    ``put(entry)`` caches a newly fetched entry, ``replace(held, entry)`` one that changed on
    revalidation, ``evict(entry, reason)`` drops a held one (``deleted``, ``invalid``, ``expired``).
    """

    def __init__(
        self,
        fetchers: Sequence[Fetcher],
        trust: Trust,
        cache: AccountCache,
        stats: ResolverStats,
        *,
        put: Callable[[Entry], Awaitable[None]],
        replace: Callable[[Entry, Entry], Awaitable[None]],
        evict: Callable[[Entry, str], Awaitable[None]],
        clock: Callable[[], float],
        skew: int = 0,
    ) -> None:
        self.fetchers = list(fetchers)
        self.trust = trust
        self.cache = cache
        self.stats = stats
        self.clock = clock
        self.skew = skew
        self._put = put
        self._replace = replace
        self._evict = evict

    async def load(self, account: str) -> AccountClaims:
        """Fetch and validate ``account``; cache it unless ``no-store`` or older than what is held."""
        fetched = await self._fetch(account)
        assert fetched is not None  # no ETag was sent
        claims = self._validated(account, fetched)
        if not fetched.no_store:
            held = self.cache.peek(account)
            if held is None or claims.iat >= held.claims.iat:
                entry = Entry(claims, fetched.jwt, fetched.etag or f'"{claims.jti}"', fetched.source,
                              self._fresh_until(fetched))  # fmt: skip
                await self._put(entry)
        return claims

    async def revalidate(self, entry: Entry) -> Entry:
        """Conditional fetch of a held entry; returns the entry now held."""
        account = entry.account
        try:
            fetched = await self._fetch(account, entry.etag)
        except AccountNotFound:
            self.stats.revalidations["not_found"] += 1
            await self._evict(entry, "deleted")
            raise
        except FetchFailed:
            self.stats.revalidations["failed"] += 1
            raise
        if fetched is None:
            self.stats.revalidations["unchanged"] += 1
            return entry
        try:
            self._validated(account, fetched)
        except InvalidAccount as exc:
            self.stats.revalidations["invalid"] += 1
            await self._evict(entry, "expired" if exc.code == "expired" else "invalid")
            raise
        verdict = judge_update(fetched.jwt, account, entry, self.trust, now=self.clock(), skew=self.skew)
        if verdict.action == "apply" and verdict.claims is not None:
            self.stats.revalidations["changed"] += 1
            changed = Entry(verdict.claims, fetched.jwt, fetched.etag, fetched.source, self._fresh_until(fetched))
            await self._replace(entry, changed)
            return changed
        # unchanged (same jti) or older than held: keep what is held, remember the validator
        self.stats.revalidations["unchanged" if verdict.reason == "unchanged" else verdict.reason] += 1
        if verdict.reason == "unchanged":
            entry.etag = fetched.etag or entry.etag
            entry.fresh_until = self._fresh_until(fetched)
        return entry

    async def revalidate_all(self, concurrency: int = 16) -> Counter[str]:
        """Revalidate every cached account; returns how many were ``unchanged``, ``changed``…"""
        outcomes: Counter[str] = Counter()
        limit = asyncio.Semaphore(concurrency)

        async def one(entry: Entry) -> None:
            async with limit:
                try:
                    after = await self.revalidate(entry)
                    outcomes["changed" if after is not entry and after.jti != entry.jti else "unchanged"] += 1
                except AccountNotFound:
                    outcomes["not_found"] += 1
                except InvalidAccount:
                    outcomes["invalid"] += 1
                except FetchFailed:
                    outcomes["failed"] += 1

        await asyncio.gather(*(one(e) for e in self.cache.entries()))
        if outcomes:
            log.info("revalidated %d accounts: %s", sum(outcomes.values()),
                     ", ".join(f"{n} {k}" for k, n in sorted(outcomes.items())))  # fmt: skip
        return outcomes

    async def _fetch(self, account: str, etag: str = "") -> Fetched | None:
        """HTTP first; on a transport failure, LOOKUP. Not-found is authoritative."""
        if not self.fetchers:
            raise FetchFailed("no account server configured")
        errors = []
        for fetcher in self.fetchers:
            try:
                fetched = await fetcher.fetch(account, etag)
            except AccountNotFound:
                self.stats.fetches[(fetcher.source, "not_found")] += 1
                raise
            except FetchFailed as exc:
                self.stats.fetches[(fetcher.source, "failed")] += 1
                errors.append(exc.message)
                continue
            if fetched is None:
                self.stats.fetches[(fetcher.source, "not_modified")] += 1
            return fetched
        raise FetchFailed("; ".join(errors))

    def _validated(self, account: str, fetched: Fetched) -> AccountClaims:
        try:
            claims = decode_account(fetched.jwt)
        except DecodeError as exc:
            self.stats.fetches[(fetched.source, "invalid")] += 1
            raise InvalidAccount(account, (Issue(exc.code, exc.message),)) from None
        result = validate_account(claims, self.trust, subject=account, now=self.clock(), skew=self.skew)
        if not result.ok:
            self.stats.fetches[(fetched.source, "invalid")] += 1
            raise InvalidAccount(account, result.blocking)
        self.stats.fetches[(fetched.source, "ok")] += 1
        return claims

    def _fresh_until(self, fetched: Fetched) -> float | None:
        return None if fetched.max_age is None else self.clock() + fetched.max_age
