"""The JetStream key-value store (``--store nats-kv://BUCKET``): one bucket, any number of accountd instances.

Layout — the bucket is the stream ``KV_<BUCKET>``, one subject ``$KV.<BUCKET>.<ACCOUNT>`` per account:

- a live record's value is the JWT itself (``nats kv get BUCKET A…`` prints it);
- a tombstone is a KV delete marker (header ``KV-Operation: DEL``) whose body is the delete token;
- ``meta`` rides in the header ``Accountd-Meta`` (compact JSON), absent when empty;
- the revision is the KV revision (the stream sequence); compare-and-set is the header
  ``Nats-Expected-Last-Subject-Sequence`` (0: the key was never written — a tombstone counts);
- the bucket keeps ``history`` versions per account: older JWTs stay readable with ``nats kv history``.

Reads come from an in-memory :class:`~accountd.store._index.Index` that a watcher keeps current
(an ordered push consumer, recreated from the last sequence seen when it skips or stalls), so each
instance serves every account and sees the others' writes within milliseconds;
:attr:`KVStore.on_external_change` is called for each account changed underneath.

Outbox — the durable pull consumer ``accountd`` on the bucket's stream, shared by every instance
(work-queue style): each change is delivered to one instance, :meth:`KVStore.pending` returns the
changes this instance holds (fetched, not acknowledged) and :meth:`KVStore.mark_published`
acknowledges them. When an instance dies before acknowledging, the change is redelivered to another
one after ``ack_wait``. This is at-least-once: a crash between publishing and acknowledging, or an
own write the consumer has not delivered anywhere within :data:`OWN_WAIT` (published from here, then
by whoever gets it), publishes twice — harmless, nats-server treats an identical JWT as a no-op.
After publishing, the latest revision is read back from the stream leader; a newer one is published
again, so a late, older publication never has the last word.
"""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import itertools
import json
import logging
import os
import re
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from types import MappingProxyType
from typing import Any
from urllib.parse import urlsplit

import nats
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy, KeyValueConfig
from nats.js.errors import APIError, BadRequestError, NoStreamResponseError, NotFoundError

from accountd.store._index import EMPTY_META, Index, IndexedReads, check_account, clean_jwt, clean_meta
from accountd.store.base import Conflict, NotFound, Record, StoreError
from accountd.types import JWT, AccountKey

__all__ = ["KVStore"]

log = logging.getLogger("accountd.store.kv")

META_HEADER = "Accountd-Meta"
EXPECT_HEADER = "Nats-Expected-Last-Subject-Sequence"
CONSUMER = "accountd"
HEARTBEAT = 1.0
"""Watcher idle heartbeat (s); three missed ones and the watcher is recreated."""
OWN_WAIT = 0.25
RELEASE_AFTER = 3.0
"""A change fetched here but neither published nor superseded for this long means this instance
cannot publish (say its system-account connection is down): it hands its changes back and takes
no new ones for as long."""
"""How long pending() waits for the outbox consumer to deliver this instance's own fresh writes."""
PULL_BATCH = 256
_BUCKET = re.compile(r"[A-Za-z0-9_-]+")
_ACCOUNT = re.compile(r"A[A-Z2-7]{55}")
_WRONG_LAST = re.compile(r"wrong last sequence: (\d+)")
# JetStream error codes (nats-server errors.json)
_WRONG_LAST_SEQUENCE = (10071, 10164)  # "wrong last sequence: N"; the same without N (a concurrent proposal)
_NOT_ENABLED = (10039, 10076)  # "JetStream not enabled for account" / "… not enabled"
_CANNOT_PLACE = (10074, 10023, 10005)  # replicas > 1 without a cluster / insufficient resources / no peers


class KVStore(IndexedReads):
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
        replicas: int | None = None,
        history: int = 5,
        ack_wait: float = 10.0,
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
        self.replicas = replicas
        self.history = history
        self.ack_wait = ack_wait
        self.timeout = timeout
        self.write_timeout = write_timeout
        self.open_timeout = open_timeout
        self.on_external_change: Callable[[AccountKey], None] = lambda account: None
        """Called with each account changed by someone else (another instance) once the index shows it."""
        self._prefix = f"$KV.{bucket}."
        self._nc: Client | None = None
        self._js: Any = None
        self._open = False
        self._index = Index()
        self._writes = 0
        # watcher
        self._loaded = asyncio.Event()
        self._watch_sub: Any = None
        self._watch_consumer: str | None = None
        self._watch_gen = 0
        self._watch_dseq = 0
        self._watch_sseq = 0
        self._watch_seen = 0.0
        self._watch_reset = asyncio.Event()
        self._watch_restarts = 0
        self._guard: asyncio.Task[None] | None = None
        # outbox
        self._pull_inbox = ""
        self._pull_sub: Any = None
        self._pulls = 0
        self._pull_counts: dict[str, int] = {}
        self._pull_done: dict[str, asyncio.Event] = {}
        self._held: dict[AccountKey, dict[int, tuple[str, Record]]] = {}
        """Fetched, unacknowledged changes: account → stream sequence → (ack subject, record)."""
        self._held_since: dict[AccountKey, float] = {}
        self.release_after = RELEASE_AFTER
        self._paused_until = 0.0
        self._released = 0
        self._own: dict[AccountKey, int] = {}
        """The latest revision this instance wrote and has not fetched from the outbox consumer yet."""
        self._again: dict[AccountKey, int] = {}
        """A revision found newer than the one just published: publish it (again)."""
        self._published: dict[AccountKey, int] = {}
        self._redeliveries = 0

    @classmethod
    def from_spec(cls, spec: str, *, nats: list[str] | None = None, creds: str = "") -> KVStore:
        """``nats-kv://BUCKET[?replicas=N&history=N&servers=URL,URL&creds=FILE&ack_wait=SECONDS]``.

        ``servers`` and ``creds`` default to the server's ``--nats`` and ``--creds``.
        """
        rest = spec.split(":", 1)[1] if ":" in spec else spec
        if not rest.startswith("//"):
            raise ValueError(f"store {spec!r}: write nats-kv://BUCKET")
        bucket, _, query = rest[2:].partition("?")
        options: dict[str, Any] = {"servers": list(nats or []), "creds": creds or None}
        for item in filter(None, query.split("&")):
            key, _, value = item.partition("=")
            try:
                if key in ("replicas", "history"):
                    options[key] = int(value)
                    if not (1 <= options[key] <= (5 if key == "replicas" else 64)):
                        raise ValueError
                elif key == "ack_wait":
                    options[key] = float(value)
                    if options[key] <= 0:
                        raise ValueError
                elif key == "servers":
                    options[key] = [u.strip() for u in value.split(",") if u.strip()]
                elif key == "creds":
                    options[key] = os.path.abspath(os.path.expanduser(value)) if value else None
                else:
                    raise KeyError(key)
            except KeyError:
                raise ValueError(f"store {spec!r}: unknown option {item!r}; options are replicas, history, "
                                 "servers, creds, ack_wait") from None
            except ValueError:
                raise ValueError(f"store {spec!r}: bad value in {item!r} (replicas 1-5, history 1-64, "
                                 "ack_wait > 0 seconds)") from None
        for url in options["servers"]:
            if urlsplit(url if "://" in url else f"nats://{url}").password:
                raise ValueError(f"store {spec!r}: no passwords in the store spec (it is shown by /-/config); "
                                 "use creds=FILE")
        try:
            return cls(bucket, **options)
        except ValueError as exc:
            raise ValueError(f"store {spec!r}: {exc}") from None

    # --- lifecycle -------------------------------------------------------------------------

    async def open(self) -> None:
        deadline = time.monotonic() + self.open_timeout
        try:
            self._nc = await self._retry(deadline, "connect to NATS", self._connect)
            self._js = self._nc.jetstream(timeout=self.timeout)
            await self._retry(deadline, f"open the KV bucket {self.bucket}", self._ensure_bucket)
            await self._retry(deadline, "create the outbox consumer", self._ensure_consumer)
            self._pull_inbox = self._nc.new_inbox()
            self._pull_sub = await self._nc.subscribe(self._pull_inbox + ".*", cb=self._on_pull)
            await self._retry(deadline, "watch the KV bucket", lambda: self._start_watch(None))
            try:
                async with asyncio.timeout(max(0.1, deadline - time.monotonic())):
                    await self._loaded.wait()
            except TimeoutError:
                raise StoreError(f"KV bucket {self.bucket}: the initial load did not finish in time") from None
        except BaseException:
            await self._shutdown()
            raise
        self._open = True
        self._guard = asyncio.create_task(self._watch_guard(), name=f"kv-watch-{self.bucket}")

    async def close(self) -> None:
        if self._nc is None:
            return
        self._open = False
        await self._release()  # let another instance publish these now, not after ack_wait
        await self._shutdown()

    async def _release(self) -> None:
        """Hand every held change back to the consumer (NAK: redelivered at once, to any instance)."""
        for held in self._held.values():
            for reply, _ in held.values():
                await self._reply(reply, b"-NAK")
        self._released += sum(len(held) for held in self._held.values())
        self._held.clear()
        self._held_since.clear()

    async def _shutdown(self) -> None:
        if self._guard is not None:
            self._guard.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._guard
            self._guard = None
        nc, self._nc = self._nc, None
        if nc is None:
            return
        if self._watch_consumer and nc.is_connected:
            with contextlib.suppress(Exception):
                await self._js.delete_consumer(self.stream, self._watch_consumer)
        with contextlib.suppress(Exception):
            await nc.flush(timeout=2)
        with contextlib.suppress(Exception):
            await nc.close()

    async def check(self) -> None:
        self._ready()
        assert self._nc is not None
        if not self._nc.is_connected:
            raise StoreError(f"KV bucket {self.bucket}: not connected to NATS (reconnecting)")

    def _ready(self) -> None:
        if not self._open or self._nc is None:
            raise StoreError(f"KV bucket {self.bucket} is not open")

    async def _retry(self, deadline: float, what: str, step: Callable[[], Awaitable[Any]]) -> Any:
        delay = 0.1
        while True:
            try:
                return await step()
            except StoreError:
                raise
            except Exception as exc:
                permanent = (isinstance(exc, BadRequestError) and exc.err_code not in _CANNOT_PLACE) or \
                    "authorization violation" in str(exc).lower()
                if permanent or time.monotonic() + delay > deadline:
                    raise StoreError(f"cannot {what}: {_describe(exc)}") from exc
                (log.warning if delay == 0.1 else log.debug)(
                    "cannot %s yet (%s); retrying for up to %.0f s", what, _describe(exc), deadline - time.monotonic())
                await asyncio.sleep(delay)
                delay = min(delay * 2, 2.0)

    async def _connect(self) -> Client:
        async def reconnected() -> None:
            self._watch_reset.set()  # deliveries were lost while disconnected

        last: list[BaseException] = []

        async def quiet(exc: BaseException | None = None) -> None:
            if exc is not None:
                last[:] = [exc]

        # nats-py 2.16 retries a failed first connect forever when reconnects are unlimited, even an
        # authorization violation (observed): try each server once here and let _retry() pace the
        # attempts; reconnect forever once connected.
        try:
            nc = await nats.connect(
                servers=self.servers, user_credentials=self.creds, name=f"accountd-kv-{self.bucket}",
                allow_reconnect=False, max_reconnect_attempts=1, reconnect_time_wait=0.5, connect_timeout=2,
                reconnected_cb=reconnected, disconnected_cb=quiet, error_cb=quiet,
            )
        except nats.errors.NoServersError:
            if last:  # say why, not just "no servers available"
                raise ConnectionError(_describe(last[0])) from None
            raise
        nc.options["allow_reconnect"] = True
        nc.options["max_reconnect_attempts"] = -1
        return nc

    async def _ensure_bucket(self) -> None:
        try:
            info = await self._js.stream_info(self.stream)
        except NotFoundError:
            pass
        except APIError as exc:
            _raise_not_enabled(exc)
            raise
        else:
            if list(info.config.subjects or []) != [f"$KV.{self.bucket}.>"]:
                raise StoreError(f"stream {self.stream} exists but is not a KV bucket")
            return
        replicas = self.replicas or 3
        config = KeyValueConfig(bucket=self.bucket, history=self.history, replicas=replicas,
                                description="accountd: account JWTs by public key")
        try:
            await self._js.create_key_value(config)
        except APIError as exc:
            _raise_not_enabled(exc)
            if self.replicas is not None or exc.err_code not in _CANNOT_PLACE or self._cluster_size() >= 3:
                raise  # (a cluster of three that cannot place R3 yet is still forming: try again)
            # Fewer than three servers: the default falls back to one replica.
            replicas = 1
            await self._js.create_key_value(config.evolve(replicas=replicas))
        log.info("created KV bucket %s (%d replicas, history %d)", self.bucket, replicas, self.history)

    def _cluster_size(self) -> int:
        """Servers in the cluster, as the connected server announces them (1 when standalone)."""
        info: dict[str, Any] = getattr(self._nc, "_server_info", None) or {}
        return max(1, len(info.get("connect_urls") or [])) if info.get("cluster") else 1

    async def _ensure_consumer(self) -> None:
        await self._js.add_consumer(self.stream, ConsumerConfig(
            name=CONSUMER, durable_name=CONSUMER, description="accountd outbox: claim updates to publish",
            deliver_policy=DeliverPolicy.ALL, ack_policy=AckPolicy.EXPLICIT, ack_wait=self.ack_wait,
            max_deliver=-1, max_ack_pending=10_000, max_waiting=512,
        ))

    # --- reads -------------------------------------------------------------------------------

    async def _read(self, account: AccountKey) -> Record | None:
        """The current record according to the stream leader (not a possibly lagging replica)."""
        try:
            msg = await self._js.get_msg(self.stream, subject=self._prefix + account)
        except NotFoundError:
            return None
        except Exception as exc:
            raise StoreError(f"KV bucket {self.bucket}: read failed: {_describe(exc)}") from exc
        record = _decode(account, int(msg.seq), msg.data, msg.headers)
        self._apply(record)
        return record

    # --- writes ------------------------------------------------------------------------------

    async def put(
        self,
        account: AccountKey,
        jwt: JWT,
        *,
        meta: Mapping[str, int | str] | None = None,
        expect: int | None = None,
    ) -> Record:
        account, jwt, clean = check_account(account), clean_jwt(jwt), clean_meta(meta)
        _check_expect(expect)
        self._ready()
        headers = _headers(clean, expect)
        revision = await self._publish(account, jwt.encode(), headers, expect)
        return self._wrote(Record(account, jwt, revision, False, clean))

    async def delete(
        self,
        account: AccountKey,
        token: JWT,
        *,
        meta: Mapping[str, int | str] | None = None,
        expect: int | None = None,
    ) -> Record:
        account, token, clean = check_account(account), clean_jwt(token), clean_meta(meta)
        _check_expect(expect)
        self._ready()
        current = self._index.records.get(account)
        for _ in range(10):
            if current is None or current.deleted or (expect is not None and current.revision != expect):
                current = await self._read(account)  # the index may lag behind another instance
            if current is None or current.deleted:
                raise NotFound(account)
            if expect is not None and current.revision != expect:
                raise Conflict(account, expect, current.revision)
            headers = {**_headers(clean, current.revision), "KV-Operation": "DEL"}
            try:
                revision = await self._publish(account, token.encode(), headers, current.revision)
            except Conflict:
                current = None  # changed meanwhile: read it again
                continue
            return self._wrote(Record(account, token, revision, True, clean))
        raise StoreError(f"KV bucket {self.bucket}: {account} keeps changing; delete abandoned")

    async def _conflict(self, account: AccountKey, expect: int | None, exc: APIError) -> Conflict:
        """The Conflict to raise, once the index shows the winner (so that the caller's retry sees it)."""
        match = _WRONG_LAST.search(exc.description or "")
        actual = int(match.group(1)) if match else None
        deadline = time.monotonic() + 1.0
        while True:
            with contextlib.suppress(StoreError):
                await self._read(account)
            current = self._index.records.get(account)
            revision = current.revision if current else 0
            # Without a number the winner was still being replicated (observed under load): wait for it.
            if (revision >= (actual or 0) and revision != (expect or 0)) or time.monotonic() > deadline:
                return Conflict(account, expect or 0, actual if actual is not None else revision)
            await asyncio.sleep(0.005)

    async def _publish(self, account: AccountKey, payload: bytes, headers: dict[str, str], expect: int | None) -> int:
        """Append to the account's subject; retried while the stream has no leader (an election).

        The message id makes a retry after a lost acknowledgement a duplicate the stream ignores.
        """
        headers = {**headers, "Nats-Msg-Id": uuid.uuid4().hex}
        deadline = time.monotonic() + self.write_timeout
        delay = 0.05
        while True:
            try:
                ack = await self._js.publish(self._prefix + account, payload, headers=headers,
                                             timeout=max(0.1, min(self.timeout, deadline - time.monotonic())))
                break
            except APIError as exc:
                if exc.err_code in _WRONG_LAST_SEQUENCE:
                    raise await self._conflict(account, expect, exc) from None
                if exc.code != 503 or time.monotonic() + delay > deadline:
                    raise StoreError(f"KV bucket {self.bucket}: write refused: {_describe(exc)}") from exc
            except (NoStreamResponseError, nats.errors.TimeoutError, nats.errors.ConnectionReconnectingError) as exc:
                # Observed when a stream leader is SIGKILLed: "no responders" until a new leader is
                # elected (4-9 s on 2.15), timeouts for a client connected to the dead server.
                if time.monotonic() + delay > deadline:
                    raise StoreError(f"KV bucket {self.bucket}: write failed: {_describe(exc)}") from exc
            except Exception as exc:
                raise StoreError(f"KV bucket {self.bucket}: write failed: {_describe(exc)}") from exc
            await asyncio.sleep(delay)
            delay = min(delay * 2, 0.5)
        self._writes += 1
        return int(ack.seq)

    def _wrote(self, record: Record) -> Record:
        account = record.account
        self._own[account] = max(self._own.get(account, 0), record.revision)
        current = self._index.records.get(account)
        if current is None or current.revision < record.revision:
            self._index.apply(record, pending=False)
        elif current.revision > record.revision:
            # Someone's newer change was seen first; the caller is about to cache what it wrote, so
            # tell it to forget the account only after that.
            asyncio.get_running_loop().call_soon(self.on_external_change, account)
        return record

    def _apply(self, record: Record) -> None:
        """Make ``record`` current if it is newer than what the index holds (watcher, outbox, reads)."""
        current = self._index.records.get(record.account)
        if current is not None and current.revision >= record.revision:
            return
        self._index.apply(record, pending=False)
        self.on_external_change(record.account)

    # --- the watcher ---------------------------------------------------------------------------

    async def _start_watch(self, start: int | None) -> None:
        """(Re)create the ordered push consumer: latest per key, or everything from ``start``."""
        assert self._nc is not None
        self._watch_gen += 1
        gen = self._watch_gen
        old_sub, old_consumer = self._watch_sub, self._watch_consumer
        inbox = self._nc.new_inbox()

        async def on_msg(msg: Msg) -> None:
            await self._on_watch(gen, msg)

        self._watch_dseq = 0
        self._watch_sub = sub = await self._nc.subscribe(inbox, cb=on_msg, pending_msgs_limit=1_000_000,
                                                         pending_bytes_limit=1 << 30)
        config = ConsumerConfig(
            deliver_subject=inbox, ack_policy=AckPolicy.NONE, max_deliver=1, flow_control=True,
            idle_heartbeat=HEARTBEAT, mem_storage=True, num_replicas=1, inactive_threshold=30.0,
            filter_subject=self._prefix + ">",
            deliver_policy=DeliverPolicy.LAST_PER_SUBJECT if start is None else DeliverPolicy.BY_START_SEQUENCE,
            opt_start_seq=start,
        )
        try:
            info = await self._js.add_consumer(self.stream, config)
        except BaseException:
            with contextlib.suppress(Exception):
                await sub.unsubscribe()
            raise
        self._watch_consumer = info.name
        self._watch_seen = time.monotonic()
        if not info.num_pending:
            self._loaded.set()
        if old_sub is not None:
            with contextlib.suppress(Exception):
                await old_sub.unsubscribe()
        if old_consumer is not None:
            asyncio.get_running_loop().create_task(self._drop_consumer(old_consumer))

    async def _drop_consumer(self, name: str) -> None:
        with contextlib.suppress(Exception):
            await self._js.delete_consumer(self.stream, name)

    async def _on_watch(self, gen: int, msg: Msg) -> None:
        if gen != self._watch_gen:
            return
        self._watch_seen = time.monotonic()
        headers = msg.headers or {}
        if headers.get("Status"):
            if headers["Status"] == "100":
                reply = msg.reply or headers.get("Nats-Consumer-Stalled")
                if reply:  # flow control: answer so that the server keeps sending
                    await self._reply(reply, b"")
                last = headers.get("Nats-Last-Consumer")
                if last is not None and int(last) != self._watch_dseq:
                    self._watch_reset.set()
            return
        try:
            meta = msg.metadata
        except Exception:
            return
        if meta.sequence.consumer != self._watch_dseq + 1:
            self._watch_reset.set()  # a gap (e.g. a slow-consumer drop): start again from the last one seen
            return
        self._watch_dseq = meta.sequence.consumer
        self._watch_sseq = max(self._watch_sseq, meta.sequence.stream)
        account = msg.subject[len(self._prefix):]
        if _ACCOUNT.fullmatch(account):
            self._apply(_decode(AccountKey(account), meta.sequence.stream, msg.data, msg.headers))
        if meta.num_pending == 0:
            self._loaded.set()

    async def _watch_guard(self) -> None:
        """Recreate the watcher when it skipped, stalled (its server died) or the connection came back."""
        while self._open:  # (not only the cancel: one swallowed by a library's wait_for must not hang close())
            # asyncio.timeout, not wait_for: on 3.11 wait_for can swallow the cancel that stops this loop.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(HEARTBEAT):
                    await self._watch_reset.wait()
            stalled = time.monotonic() - self._watch_seen > 3 * HEARTBEAT
            if not (self._watch_reset.is_set() or stalled):
                continue
            if self._nc is None or not self._nc.is_connected:
                continue
            self._watch_reset.clear()
            start = self._watch_sseq + 1 if self._watch_sseq else None
            try:
                await self._start_watch(start)
                self._watch_restarts += 1
                log.info("KV bucket %s: watcher recreated from sequence %s", self.bucket, start or "latest")
            except Exception as exc:
                log.warning("KV bucket %s: cannot recreate the watcher yet: %s", self.bucket, _describe(exc))
                self._watch_reset.set()
                await asyncio.sleep(HEARTBEAT / 2)

    # --- the outbox ----------------------------------------------------------------------------

    async def pending(self) -> builtins.list[Record]:
        self._ready()
        now = time.monotonic()
        if now < self._paused_until:
            return []
        if any(now - since > self.release_after for since in self._held_since.values()):
            log.warning("KV bucket %s: changes fetched %.0f s ago are still not published; handing them to "
                        "the other instances", self.bucket, self.release_after)
            await self._release()
            self._paused_until = now + self.release_after
            return []
        await self._pull()
        waiting = {a for a, rev in self._own.items() if rev > self._published.get(a, 0)}
        if waiting:
            await self._await_own(waiting)
            for account in waiting & self._own.keys():
                # Neither fetched here nor delivered elsewhere yet (a lagging consumer): publish it from
                # here; should the consumer hand it to another instance later, that one publishes it too.
                self._again[account] = max(self._again.get(account, 0), self._own.pop(account))
        out: list[Record] = []
        for account in sorted(self._held.keys() | self._again.keys()):
            record = await self._pending_record(account)
            if record is not None:
                out.append(record)
        return out

    async def _pending_record(self, account: AccountKey) -> Record | None:
        held = self._held.get(account, {})
        floor = self._published.get(account, 0)
        top = max([*held, self._again.get(account, 0)])
        best = self._index.records.get(account)
        for _, record in held.values():
            if best is None or record.revision > best.revision:
                best = record
        if top <= floor or best is None or best.revision > top or (best.deleted and not best.jwt):
            # Published already; or superseded by a later change, which is published by whoever holds
            # it; or a bare delete marker (``nats kv del``) with no token to forward.
            await self._settle(account, top)
            return None
        return best

    async def mark_published(self, account: AccountKey, revision: int) -> None:
        account = check_account(account)
        self._ready()
        self._published[account] = max(self._published.get(account, 0), revision)
        if 0 < self._own.get(account, 0) <= revision:  # written here, not fetched yet: fetch it to acknowledge it
            await self._await_own({account})
        await self._settle(account, revision)
        # Read back: a newer change may have been published before this one reached the servers.
        try:
            latest = await self._read(account)
        except StoreError:
            return
        if latest is not None and latest.revision > revision:
            self._again[account] = latest.revision

    async def _settle(self, account: AccountKey, revision: int) -> None:
        """Acknowledge every held change of ``account`` up to ``revision``; drop the marks it covers."""
        held = self._held.get(account, {})
        for seq in [s for s in held if s <= revision]:
            await self._reply(held.pop(seq)[0], b"+ACK")
        if not held:
            self._held.pop(account, None)
            self._held_since.pop(account, None)
        elif account in self._held_since:
            self._held_since[account] = time.monotonic()  # publishing makes progress
        for marks in (self._own, self._again):
            if marks.get(account, revision + 1) <= revision:
                del marks[account]

    async def _await_own(self, accounts: set[AccountKey]) -> None:
        """Wait briefly until the consumer delivered this instance's fresh writes, here or elsewhere.

        A replica may lag the acknowledged write by a moment. Only ``no_wait`` pulls, repeated: a
        waiting pull request would outlive the wait and capture a later change for an instance that
        may be closing.
        """
        deadline = time.monotonic() + OWN_WAIT
        for attempt in itertools.count():
            if not accounts & self._own.keys() or time.monotonic() > deadline:
                return
            if attempt:
                await asyncio.sleep(min(0.001 * 2**attempt, 0.02))
            await self._pull()
            if attempt and accounts & self._own.keys():
                await self._delivered_elsewhere(accounts)

    async def _delivered_elsewhere(self, accounts: set[AccountKey]) -> None:
        """Forget own writes the consumer already delivered: another instance holds and publishes them."""
        try:
            info = await self._js.consumer_info(self.stream, CONSUMER)
        except Exception:
            return
        delivered = int(info.delivered.stream_seq or 0) if info.delivered else 0
        for account in accounts & self._own.keys():
            if self._own[account] <= delivered:
                del self._own[account]

    async def _pull(self) -> None:
        """One ``no_wait`` pull request: whatever the consumer has for us now, up to a batch."""
        assert self._nc is not None
        self._pulls += 1
        token = str(self._pulls)
        finished = self._pull_done[token] = asyncio.Event()
        self._pull_counts[token] = 0
        request = json.dumps({"batch": PULL_BATCH, "no_wait": True}).encode()
        try:
            await self._nc.publish(f"$JS.API.CONSUMER.MSG.NEXT.{self.stream}.{CONSUMER}", request,
                                   reply=f"{self._pull_inbox}.{token}")
            async with asyncio.timeout(2.0):
                await finished.wait()
        except Exception as exc:  # a timeout while the consumer has no leader, a disconnect, …
            log.debug("KV bucket %s: pull failed: %s", self.bucket, exc)
        finally:
            self._pull_done.pop(token, None)
            self._pull_counts.pop(token, None)

    async def _on_pull(self, msg: Msg) -> None:
        token = msg.subject.rsplit(".", 1)[-1]
        headers = msg.headers or {}
        status = headers.get("Status")
        if status:
            if status != "100" and token in self._pull_done:  # 404/408/409: this request is over
                self._pull_done[token].set()
        else:
            await self._hold(msg)
            if token in self._pull_counts:
                self._pull_counts[token] += 1
                if self._pull_counts[token] >= PULL_BATCH:
                    self._pull_done[token].set()

    async def _hold(self, msg: Msg) -> None:
        account = msg.subject[len(self._prefix):]
        try:
            meta = msg.metadata
        except Exception:
            return
        seq = int(meta.sequence.stream)
        if meta.num_delivered > 1:
            self._redeliveries += 1
        if seq >= self._own.get(AccountKey(account), seq + 1):
            del self._own[AccountKey(account)]
        if not _ACCOUNT.fullmatch(account) or seq <= self._published.get(AccountKey(account), 0):
            await self._reply(msg.reply, b"+ACK")  # not an account, or published already
            return
        record = _decode(AccountKey(account), seq, msg.data, msg.headers)
        self._apply(record)
        self._held.setdefault(record.account, {})[seq] = (msg.reply, record)
        self._held_since.setdefault(record.account, time.monotonic())

    async def _reply(self, subject: str, payload: bytes) -> None:
        if self._nc is not None and not self._nc.is_closed:
            with contextlib.suppress(Exception):
                await self._nc.publish(subject, payload)

    # --- introspection -------------------------------------------------------------------------

    def stats(self) -> dict[str, int | str]:
        counts = self._index.counts()
        pending = {a for a in self._held.keys() | self._own.keys() | self._again.keys()
                   if max([*self._held.get(a, {}), self._own.get(a, 0), self._again.get(a, 0)])
                   > self._published.get(a, 0)}
        return {
            "name": self.name,
            **counts,
            "pending": len(pending),
            "writes": self._writes,
            "bucket": self.bucket,
            "connected": int(self._nc is not None and self._nc.is_connected),
            "watch_restarts": self._watch_restarts,
            "redeliveries": self._redeliveries,
            "released": self._released,
        }


def _decode(account: AccountKey, seq: int, data: bytes | None, headers: Mapping[str, str] | None) -> Record:
    headers = headers or {}
    deleted = headers.get("KV-Operation") in ("DEL", "PURGE") or "Nats-Marker-Reason" in headers
    meta: Mapping[str, int | str] = EMPTY_META
    if headers.get(META_HEADER):
        try:
            meta = clean_meta(json.loads(headers[META_HEADER])) or EMPTY_META
        except (ValueError, AttributeError):
            log.warning("ignoring malformed %s header on %s revision %d", META_HEADER, account, seq)
    text = (data or b"").decode("utf-8", "replace").strip()
    return Record(account, JWT(text), seq, deleted, MappingProxyType(dict(meta)) if meta else EMPTY_META)


def _headers(meta: Mapping[str, int | str], expect: int | None) -> dict[str, str]:
    headers = {}
    if meta:
        headers[META_HEADER] = json.dumps(dict(meta), separators=(",", ":"), sort_keys=True)
    if expect is not None:
        headers[EXPECT_HEADER] = str(expect)
    return headers


def _check_expect(expect: int | None) -> None:
    if expect is not None and (isinstance(expect, bool) or not isinstance(expect, int) or expect < 0):
        raise ValueError(f"expect must be None or a revision >= 0, got {expect!r}")


def _raise_not_enabled(exc: APIError) -> None:
    if exc.err_code in _NOT_ENABLED:
        raise StoreError(
            f"{exc.description}: the KV store needs a user of a JetStream-enabled account (in operator mode "
            "the system account cannot use JetStream); give it one with nats-kv://BUCKET?creds=FILE"
        ) from exc


def _describe(exc: BaseException) -> str:
    if isinstance(exc, APIError):
        return f"{exc.description} (JetStream error {exc.err_code})"
    return str(exc) or type(exc).__name__
