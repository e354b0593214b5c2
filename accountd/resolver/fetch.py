"""Fetch an account JWT from the account server: over HTTP or with a NATS LOOKUP.

* :class:`HttpFetcher` — ``GET <url>/<pub>`` with a per-attempt timeout, retries with jittered
  exponential backoff (transport errors and 5xx only), ``If-None-Match`` revalidation and
  ``Cache-Control`` (``no-store``, ``max-age``); also lists accounts, page by page (``?list=true``).
* :class:`NatsFetcher` — ``$SYS.REQ.ACCOUNT.<pub>.CLAIMS.LOOKUP``; an empty reply means "not
  found" (accountd and nats-server ≥ 2.9.17 answer so). Either the first non-empty reply wins,
  as in nats-server, or the newest among all replies within a quiet period.

A fetcher returns :class:`Fetched`, or ``None`` for "not modified", and raises
:class:`~accountd.resolver.errors.AccountNotFound` or :class:`~accountd.resolver.errors.FetchFailed`.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any, Literal, Protocol
from urllib.parse import urlsplit

import aiohttp
from nats.aio.client import Client

from accountd.claims import DecodeError, decode_account
from accountd.resolver.errors import AccountNotFound, FetchFailed
from accountd.resolver.replies import NoResponders, collect_replies

__all__ = ["Fetched", "Fetcher", "HttpFetcher", "NatsFetcher", "accounts_url"]

log = logging.getLogger("accountd.resolver")


@dataclass(frozen=True, slots=True)
class Fetched:
    jwt: str
    etag: str = ""
    max_age: float | None = None
    """``Cache-Control: max-age`` in seconds; ``None``: revalidate on every use without updates."""
    no_store: bool = False
    source: str = "http"


class Fetcher(Protocol):
    source: str

    async def fetch(self, account: str, etag: str = "") -> Fetched | None: ...


def accounts_url(url: str) -> str:
    """The accounts collection URL, from a server root, ``…/jwt/v1`` or ``…/jwt/v1/accounts``."""
    url = url.rstrip("/")
    path = urlsplit(url).path.rstrip("/")
    if not path:
        return url + "/jwt/v1/accounts"
    if path.endswith("/jwt/v1"):
        return url + "/accounts"
    return url


def _cache_control(header: str) -> tuple[float | None, bool]:
    max_age: float | None = None
    no_store = False
    for item in header.lower().split(","):
        token = item.strip()
        if token == "no-store":
            no_store = True
        elif token == "no-cache":
            max_age = None
        elif token.startswith("max-age="):
            try:
                max_age = max(0.0, float(token[8:]))
            except ValueError:
                pass
    return max_age, no_store


class HttpFetcher:
    source = "http"

    def __init__(
        self,
        url: str,
        *,
        timeout: float = 1.9,
        retries: int = 2,
        backoff: float = 0.1,
        session: aiohttp.ClientSession | None = None,
        token: str | None = None,
    ) -> None:
        """``token``: an admin bearer token, sent with the listing (``?list=true`` is an admin route)."""
        self.url = accounts_url(url)
        self._admin = {"Authorization": f"Bearer {token}"} if token else {}
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self._session = session
        self._own_session = session is None

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.timeout))
        return self._session

    async def close(self) -> None:
        if self._own_session and self._session is not None:
            await self._session.close()
            self._session = None

    async def _attempts(self, what: str, once: Callable[[], Any]) -> Any:
        """Run ``once`` with retries on transport errors, timeouts and 5xx (``_Retry``)."""
        last = ""
        for attempt in range(self.retries + 1):
            if attempt:
                await asyncio.sleep(self.backoff * (2 ** (attempt - 1)) * random.uniform(0.5, 1.5))
            try:
                return await once()
            except _Retry as exc:
                last = exc.reason
            except (aiohttp.ClientError, TimeoutError, OSError) as exc:
                last = str(exc) or type(exc).__name__
            log.debug("%s: attempt %d failed: %s", what, attempt + 1, last)
        raise FetchFailed(f"{what}: {last} (after {self.retries + 1} attempts)")

    async def fetch(self, account: str, etag: str = "") -> Fetched | None:
        url = f"{self.url}/{account}"
        headers = {"If-None-Match": etag} if etag else {}
        timeout = aiohttp.ClientTimeout(total=self.timeout)

        async def once() -> Fetched | None:
            async with self.session.get(url, headers=headers, timeout=timeout) as r:
                if r.status == 304:
                    return None
                if r.status == 404:
                    raise AccountNotFound(f"account {account} not found at {self.url}")
                if r.status >= 500:
                    raise _Retry(f"GET {url}: {r.status} {r.reason}")
                if r.status != 200:
                    raise FetchFailed(f"GET {url}: {r.status} {r.reason}")
                body = (await r.text()).strip()
                max_age, no_store = _cache_control(r.headers.get("Cache-Control", ""))
                return Fetched(body, r.headers.get("ETag", ""), max_age, no_store, "http")

        result: Fetched | None = await self._attempts(f"GET {url}", once)
        return result

    async def list_accounts(self, page: int = 1000, *, after: str = "") -> AsyncIterator[list[dict[str, Any]]]:
        """The accounts the server lists (``?list=true``), one page of at most ``page`` at a time,
        sorted by key, strictly after ``after``: dicts with ``account, name, iss, iat, exp, jti``
        (accountd's list format). Only one page is held at a time; a failing page raises
        :class:`FetchFailed` after the retries, with the pages before it already yielded."""
        timeout = aiohttp.ClientTimeout(total=self.timeout * 4)
        while True:
            params = {"list": "true", "limit": str(page)}
            if after:
                params["after"] = after

            async def once(params: dict[str, str] = params) -> dict[str, Any]:
                async with self.session.get(self.url, params=params, headers=self._admin, timeout=timeout) as r:
                    if r.status >= 500:
                        raise _Retry(f"GET {self.url}?list=true: {r.status} {r.reason}")
                    if r.status != 200:
                        raise FetchFailed(f"GET {self.url}?list=true: {r.status} {r.reason}")
                    try:
                        doc = await r.json(content_type=None)
                    except ValueError:
                        raise FetchFailed(f"GET {self.url}?list=true: not a JSON list (is this accountd?)") from None
                    if not isinstance(doc, dict) or not isinstance(doc.get("accounts"), list):
                        raise FetchFailed(f"GET {self.url}?list=true: unexpected reply (is this accountd?)")
                    return doc

            doc = await self._attempts(f"GET {self.url}?list=true", once)
            rows = [a for a in doc["accounts"] if isinstance(a, dict) and isinstance(a.get("account"), str)]
            if rows:
                yield rows
            following = doc.get("next")
            if not following or str(following) <= after:
                return  # the last page (a cursor that does not move on would loop forever)
            after = str(following)


class _Retry(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class NatsFetcher:
    """LOOKUP over a system-account connection returned by ``nc()`` (``None`` while not connected)."""

    source = "nats"

    def __init__(
        self,
        nc: Callable[[], Client | None],
        *,
        timeout: float = 1.9,
        quiet: float = 0.1,
        pick: Literal["first", "newest"] = "first",
    ) -> None:
        self.nc = nc
        self.timeout = timeout
        self.quiet = quiet
        self.pick = pick

    async def fetch(self, account: str, etag: str = "") -> Fetched | None:
        nc = self.nc()
        if nc is None or not nc.is_connected:
            raise FetchFailed("LOOKUP: not connected to NATS")
        subject = f"$SYS.REQ.ACCOUNT.{account}.CLAIMS.LOOKUP"

        def first_found(replies: list[Any]) -> bool:
            return self.pick == "first" and any(m.data for m in replies)

        try:
            replies = await collect_replies(nc, subject, quiet=self.quiet, timeout=self.timeout, done=first_found)
        except NoResponders:
            raise FetchFailed(f"LOOKUP {account}: no responders (no account server or full resolver)") from None
        if not replies:
            raise FetchFailed(f"LOOKUP {account}: no reply within {self.timeout:g}s")
        tokens = [m.data.decode("ascii", "replace").strip() for m in replies if m.data]
        if not tokens:
            raise AccountNotFound(f"account {account} not found (LOOKUP)")
        token = tokens[0] if self.pick == "first" else _newest(tokens)
        tag = ""
        try:
            tag = f'"{decode_account(token).jti}"'
        except DecodeError:
            pass  # the resolver's validation reports it
        if tag and tag == etag:
            return None
        return Fetched(token, tag, None, False, "nats")


def _newest(tokens: list[str]) -> str:
    best, best_iat = tokens[0], -1
    for token in tokens:
        try:
            iat = decode_account(token).iat
        except DecodeError:
            continue
        if iat > best_iat:
            best, best_iat = token, iat
    return best
