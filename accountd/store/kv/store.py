"""The :class:`KVStore`: the store interface on a bucket, its watcher and its outbox."""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import dataclasses
import os
import re
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlsplit

from accountd.natsclient import NatsTLS
from accountd.store._history import check_history, clean_origin
from accountd.store._index import check_account, clean_jwt, clean_meta
from accountd.store.base import DEFAULT_HISTORY, Conflict, NotFound, Record, StoreError, Version
from accountd.store.kv.bucket import Bucket, WrongLast, decode, origin_of, retry, write_headers
from accountd.store.kv.index import Revisions
from accountd.store.kv.outbox import Outbox
from accountd.store.kv.watcher import Watcher
from accountd.types import JWT, AccountKey

__all__ = ["KVStore"]

_BUCKET = re.compile(r"[A-Za-z0-9_-]+")
MAX_HISTORY = 64
"""The most versions per key a KV bucket keeps (nats-server refuses more)."""
RECENT = 1024
"""Records read or written lately, kept whole, each valid while the index shows its revision: a
write reads the account it is about to change, often one just read or written."""


class KVStore:
    """Account JWTs in a JetStream KV bucket, on a NATS connection of its own.

    ``servers``/``creds`` must reach a JetStream-enabled account: in operator mode the system
    account cannot use JetStream, so this is usually a user of a separate account.
    """

    name = "nats-kv"

    def __init__(
        self,
        bucket: str,
        *,
        servers: list[str],
        creds: str | None = None,
        tls: NatsTLS | None = None,
        replicas: int | None = None,
        history: int = DEFAULT_HISTORY,
        ack_wait: float = 1.0,
        timeout: float = 5.0,
        write_timeout: float = 15.0,
        open_timeout: float = 30.0,
    ) -> None:
        if not _BUCKET.fullmatch(bucket):
            raise ValueError(f"bad bucket name {bucket!r}: letters, digits, '-' and '_' only")
        if not servers:
            raise ValueError("nats-kv:// needs NATS servers: pass --nats or servers=URL[,URL]")
        self.bucket = bucket
        self.stream = f"KV_{bucket}"
        self.servers = servers
        self.creds = creds
        self.tls = tls or NatsTLS()
        self.tls.context()  # a missing or malformed TLS file is refused now, not retried at open()
        self.replicas = replicas
        self.versions_kept = min(check_history(history), MAX_HISTORY)
        """Versions :meth:`history` reads (0: none); a new bucket keeps that many per key (at least 1)."""
        self.ack_wait = ack_wait
        self.open_timeout = open_timeout
        self.on_external_change: Callable[[AccountKey], None] = lambda account: None
        """Called with each account changed by someone else (another instance) once the index shows it."""
        self._bucket = Bucket(bucket, servers=servers, creds=creds, tls=self.tls, replicas=replicas,
                              history=max(1, self.versions_kept),
                              timeout=timeout, write_timeout=write_timeout)
        self._index = Revisions()
        self._recent: OrderedDict[AccountKey, Record] = OrderedDict()
        self._watcher = Watcher(self._bucket, self._apply)
        self._outbox = Outbox(self._bucket, self._index, self._apply, ack_wait=ack_wait)
        self._bucket.on_reconnect = self._watcher.reset  # deliveries were lost while disconnected
        self._open = False

    @property
    def on_pending(self) -> Callable[[], None]:
        """Called when changes to publish were fetched in the background: call :meth:`pending` soon."""
        return self._outbox.on_pending

    @on_pending.setter
    def on_pending(self, callback: Callable[[], None]) -> None:
        self._outbox.on_pending = callback

    @classmethod
    def from_spec(cls, spec: str, *, nats: list[str] | None = None, creds: str = "",
                  tls: NatsTLS | None = None, history: int = DEFAULT_HISTORY) -> KVStore:
        """``nats-kv://BUCKET[?replicas=N&history=N&servers=URL,URL&creds=FILE&ack_wait=SECONDS``
        ``&tls_ca=FILE&tls_cert=FILE&tls_key=FILE]``.

        ``servers``, ``creds`` and the TLS files default to the server's ``--nats``, ``--creds`` and
        ``--nats-tls-*``; each ``tls_*`` option replaces the one file it names; ``history`` defaults
        to the argument (at most 64).
        """
        rest = spec.split(":", 1)[1] if ":" in spec else spec
        if not rest.startswith("//"):
            raise ValueError(f"store {spec!r}: write nats-kv://BUCKET")
        bucket, _, query = rest[2:].partition("?")
        options: dict[str, Any] = {"servers": list(nats or []), "creds": creds or None,
                                   "history": min(check_history(history), MAX_HISTORY)}
        tls_files = dataclasses.asdict(tls or NatsTLS())
        for item in filter(None, query.split("&")):
            key, _, value = item.partition("=")
            try:
                if key in ("replicas", "history"):
                    options[key] = int(value)
                    if not ((1 if key == "replicas" else 0) <= options[key] <= (5 if key == "replicas" else 64)):
                        raise ValueError
                elif key == "ack_wait":
                    options[key] = float(value)
                    if options[key] <= 0:
                        raise ValueError
                elif key == "servers":
                    options[key] = [u.strip() for u in value.split(",") if u.strip()]
                elif key == "creds":
                    options[key] = os.path.abspath(os.path.expanduser(value)) if value else None
                elif key in ("tls_ca", "tls_cert", "tls_key"):
                    tls_files[key[4:]] = os.path.abspath(os.path.expanduser(value)) if value else ""
                else:
                    raise KeyError(key)
            except KeyError:
                raise ValueError(f"store {spec!r}: unknown option {item!r}; options are replicas, history, "
                                 "servers, creds, ack_wait, tls_ca, tls_cert, tls_key") from None
            except ValueError:
                raise ValueError(f"store {spec!r}: bad value in {item!r} (replicas 1-5, history 0-64, "
                                 "ack_wait > 0 seconds)") from None
        for url in options["servers"]:
            if urlsplit(url if "://" in url else f"nats://{url}").password:
                raise ValueError(f"store {spec!r}: no passwords in the store spec (it is shown by /-/config); "
                                 "use creds=FILE")
        try:
            return cls(bucket, tls=NatsTLS(**tls_files), **options)
        except ValueError as exc:
            raise ValueError(f"store {spec!r}: {exc}") from None

    # --- lifecycle -------------------------------------------------------------------------

    async def open(self) -> None:
        deadline = time.monotonic() + self.open_timeout
        try:
            await self._bucket.open(deadline)
            await self._outbox.open(deadline)
            await retry(deadline, "watch the KV bucket", self._watcher.start)
            try:
                async with asyncio.timeout(max(0.1, deadline - time.monotonic())):
                    await self._watcher.loaded.wait()
            except TimeoutError:
                raise StoreError(f"KV bucket {self.bucket}: the initial load did not finish in time") from None
        except BaseException:
            await self._shutdown()
            raise
        self._open = True

    async def close(self) -> None:
        if self._bucket.nc is None:
            return
        self._open = False
        await self._shutdown()

    async def _shutdown(self) -> None:
        await self._outbox.close()
        await self._watcher.stop()
        await self._bucket.close()

    async def check(self) -> None:
        self._ready()
        if not self._bucket.connected:
            raise StoreError(f"KV bucket {self.bucket}: not connected to NATS (reconnecting)")

    def _ready(self) -> None:
        if not self._open or self._bucket.nc is None:
            raise StoreError(f"KV bucket {self.bucket} is not open")

    # --- reads -------------------------------------------------------------------------------

    async def get(self, account: AccountKey) -> Record:
        account = check_account(account)
        self._ready()
        known = self._index.get(account)
        record = None if known is None or known[1] else await self._fetch(account)
        if record is None or record.deleted:
            raise NotFound(account)
        return record

    async def lookup(self, account: AccountKey) -> Record | None:
        account = check_account(account)
        self._ready()
        return await self._fetch(account)

    async def _fetch(self, account: AccountKey) -> Record | None:
        """The record the index knows of, read through from the stream (the index keeps no JWTs)."""
        while True:
            known = self._index.revision(account)
            if not known:
                return None
            recent = self._recent.get(account)
            if recent is not None and recent.revision == known:
                self._recent.move_to_end(account)
                return recent
            msg = await self._bucket.last(account)
            if msg is None or int(msg.seq) < known:  # a replica that lags: ask the leader
                msg = await self._bucket.last(account, leader=True)
            if msg is None:  # the messages are gone (a purged stream)
                self._index.drop(account)
                self.on_external_change(account)
                return None
            record = decode(account, int(msg.seq), msg.data, msg.headers)
            self._apply(account, record.revision, record.deleted)
            # Newer while reading (the watcher saw a change): read again, or the caller caches the old one.
            if self._index.revision(account) <= record.revision:
                self._remember(record)
                return record

    def _remember(self, record: Record) -> None:
        self._recent[record.account] = record
        self._recent.move_to_end(record.account)
        if len(self._recent) > RECENT:
            self._recent.popitem(last=False)

    async def _read(self, account: AccountKey) -> Record | None:
        """The current record according to the stream leader (not a possibly lagging replica)."""
        msg = await self._bucket.last(account, leader=True)
        if msg is None:
            return None
        record = decode(account, int(msg.seq), msg.data, msg.headers)
        self._apply(account, record.revision, record.deleted)
        if self._index.revision(account) == record.revision:
            self._remember(record)
        return record

    async def list(self, *, after: AccountKey | None = None, limit: int | None = None) -> builtins.list[AccountKey]:
        self._ready()
        return self._index.page(after, limit)

    async def count(self) -> int:
        self._ready()
        return self._index.live

    # --- writes ------------------------------------------------------------------------------

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
        account, jwt, clean, source = check_account(account), clean_jwt(jwt), clean_meta(meta), clean_origin(origin)
        _check_expect(expect)
        self._ready()
        headers = write_headers(clean, expect, publish=publish, origin=source)
        revision = await self._append(account, jwt.encode(), headers, expect)
        return self._wrote(Record(account, jwt, revision, False, clean), publish)

    async def delete(
        self,
        account: AccountKey,
        token: JWT,
        *,
        meta: Mapping[str, int | str] | None = None,
        expect: int | None = None,
        origin: Mapping[str, str] | None = None,
    ) -> Record:
        account, token, clean, source = check_account(account), clean_jwt(token), clean_meta(meta), clean_origin(origin)
        _check_expect(expect)
        self._ready()
        known = self._index.get(account)
        current = None if known is None else Record(account, JWT(""), known[0], known[1])
        for _ in range(10):
            if current is None or current.deleted or (expect is not None and current.revision != expect):
                current = await self._read(account)  # the index may lag behind another instance
            if current is None or current.deleted:
                raise NotFound(account)
            if expect is not None and current.revision != expect:
                raise Conflict(account, expect, current.revision)
            headers = {**write_headers(clean, current.revision, origin=source), "KV-Operation": "DEL"}
            try:
                revision = await self._append(account, token.encode(), headers, current.revision)
            except Conflict:
                current = None  # changed meanwhile: read it again
                continue
            return self._wrote(Record(account, token, revision, True, clean), True)
        raise StoreError(f"KV bucket {self.bucket}: {account} keeps changing; delete abandoned")

    async def _append(self, account: AccountKey, payload: bytes, headers: dict[str, str], expect: int | None) -> int:
        try:
            return await self._bucket.append(account, payload, headers)
        except WrongLast as exc:
            raise await self._conflict(account, expect, exc.actual) from None

    async def _conflict(self, account: AccountKey, expect: int | None, actual: int | None) -> Conflict:
        """The Conflict to raise, once the index shows the winner (so that the caller's retry sees it)."""
        deadline = time.monotonic() + 1.0
        while True:
            with contextlib.suppress(StoreError):
                await self._read(account)
            revision = self._index.revision(account)
            # Without a number the winner was still being replicated (observed under load): wait for it.
            if (revision >= (actual or 0) and revision != (expect or 0)) or time.monotonic() > deadline:
                return Conflict(account, expect or 0, actual if actual is not None else revision)
            await asyncio.sleep(0.005)

    def _wrote(self, record: Record, publish: bool) -> Record:
        account = record.account
        if publish:
            self._outbox.wrote(account, record.revision)
        self._index.apply(account, record.revision, record.deleted)
        current = self._index.revision(account)
        if current == record.revision:
            self._remember(record)
        elif current > record.revision:
            # Someone's newer change was seen first; the caller is about to cache what it wrote, so
            # tell it to forget the account only after that.
            asyncio.get_running_loop().call_soon(self.on_external_change, account)
        return record

    def _apply(self, account: AccountKey, revision: int, deleted: bool) -> None:
        """Make ``revision`` current if it is newer than what the index holds (watcher, outbox, reads)."""
        if self._index.apply(account, revision, deleted):
            self.on_external_change(account)

    # --- history and search ----------------------------------------------------------------------

    async def history(self, account: AccountKey, *, limit: int | None = None) -> builtins.list[Version]:
        """The versions the bucket keeps of ``account`` (its history setting), newest first; each
        one's ``stored_at`` is the stream's timestamp, its origin the header the write added."""
        account = check_account(account)
        self._ready()
        keep = self.versions_kept if limit is None else max(0, min(limit, self.versions_kept))
        if not keep:
            return []
        out = []
        for msg in reversed(await self._bucket.versions(account)):
            record = decode(account, int(msg.seq), msg.data, msg.headers)
            stamp = msg.time.timestamp() if msg.time is not None else 0.0
            out.append(Version(account, record.revision, record.jwt, record.deleted, stamp, origin_of(msg.headers)))
            if len(out) >= keep:
                break
        return out

    async def search(
        self, text: str, *, after: AccountKey | None = None, limit: int = 100
    ) -> builtins.list[AccountKey]:
        """Live accounts whose key starts with ``text`` (case-insensitive), by key: the index holds
        no names or tags, so this store searches keys only."""
        self._ready()
        return self._index.prefixed(text.strip().upper(), after, limit)

    # --- the outbox ----------------------------------------------------------------------------

    async def pending(self, *, limit: int | None = None) -> builtins.list[Record]:
        self._ready()
        if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 0):
            raise ValueError(f"limit must be None or >= 0, got {limit!r}")
        return await self._outbox.pending(limit)

    async def mark_published(self, account: AccountKey, revision: int) -> None:
        account = check_account(account)
        self._ready()
        await self._outbox.mark_published(account, revision)

    # --- introspection -------------------------------------------------------------------------

    def stats(self) -> dict[str, int | str]:
        outbox = self._outbox.stats()
        return {
            "name": self.name,
            **self._index.counts(),
            "pending": outbox["pending"],
            "writes": self._bucket.writes,
            "bucket": self.bucket,
            "connected": int(self._bucket.connected),
            "watch_restarts": self._watcher.restarts,
            "redeliveries": outbox["redeliveries"],
            "released": outbox["released"],
        }


def _check_expect(expect: int | None) -> None:
    if expect is not None and (isinstance(expect, bool) or not isinstance(expect, int) or expect < 0):
        raise ValueError(f"expect must be None or a revision >= 0, got {expect!r}")
