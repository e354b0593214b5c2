"""The bucket: accountd's own NATS connection, the ``KV_<BUCKET>`` stream, reads and appends of one account.

Also the message format (see :mod:`accountd.store.kv`): :func:`decode` turns a stream message into a
:class:`~accountd.store.base.Record`, :func:`write_headers` makes the headers of a write.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from types import MappingProxyType
from typing import Any

import nats
from nats.aio.client import Client
from nats.js.api import KeyValueConfig
from nats.js.errors import APIError, BadRequestError, NoStreamResponseError, NotFoundError

from accountd.natsclient import NatsConnectError, NatsTLS, connect
from accountd.store._index import EMPTY_META, clean_meta
from accountd.store.base import Record, StoreError
from accountd.types import JWT, AccountKey

__all__ = ["Bucket", "Message", "WrongLast", "decode", "describe", "is_deleted", "origin_of", "publishes",
           "write_headers"]

log = logging.getLogger("accountd.store.kv")

META_HEADER = "Accountd-Meta"
ORIGIN_HEADER = "Accountd-Origin"
"""How a change arrived (compact JSON), absent when nobody said: its version's origin."""
PUBLISH_HEADER = "Accountd-Publish"
"""``no`` on a write made with ``publish=False``: the outbox acknowledges it without publishing it."""
EXPECT_HEADER = "Nats-Expected-Last-Subject-Sequence"
_WRONG_LAST = re.compile(r"wrong last sequence: (\d+)")
# JetStream error codes (nats-server errors.json)
_WRONG_LAST_SEQUENCE = (10071, 10164)  # "wrong last sequence: N"; the same without N (a concurrent proposal)
_NOT_ENABLED = (10039, 10076)  # "JetStream not enabled for account" / "… not enabled"
_CANNOT_PLACE = (10074, 10023, 10005)  # replicas > 1 without a cluster / insufficient resources / no peers

Message = Any
"""A message of the stream as nats-py returns it (``RawStreamMsg``: ``seq``, ``data``, ``headers``)."""


class WrongLast(Exception):
    """The compare-and-set of an append failed; ``actual`` is the current revision when the server said it."""

    def __init__(self, actual: int | None) -> None:
        super().__init__(f"wrong last sequence: {actual}")
        self.actual = actual


class Bucket:
    """One KV bucket on a NATS connection of its own; :meth:`open` connects and creates the bucket."""

    def __init__(
        self,
        name: str,
        *,
        servers: list[str],
        creds: str | None,
        tls: NatsTLS,
        replicas: int | None,
        history: int,
        timeout: float,
        write_timeout: float,
    ) -> None:
        self.name = name
        self.stream = f"KV_{name}"
        self.prefix = f"$KV.{name}."
        self.servers = servers
        self.creds = creds
        self.tls = tls
        self.replicas = replicas
        self.history = history
        self.timeout = timeout
        self.write_timeout = write_timeout
        self.nc: Client | None = None
        self.js: Any = None
        self.direct = False
        """The stream answers direct gets (any replica, no API round trip through the leader)."""
        self.writes = 0
        self.on_reconnect: Callable[[], None] = lambda: None

    @property
    def connected(self) -> bool:
        return self.nc is not None and self.nc.is_connected

    async def open(self, deadline: float) -> None:
        self.nc = await retry(deadline, "connect to NATS", self._connect)
        self.js = self.nc.jetstream(timeout=self.timeout)
        await retry(deadline, f"open the KV bucket {self.name}", self._ensure)

    async def close(self) -> None:
        nc, self.nc = self.nc, None
        if nc is None:
            return
        with contextlib.suppress(Exception):
            await nc.flush(timeout=2)
        with contextlib.suppress(Exception):
            await nc.close()

    async def _connect(self) -> Client:
        async def reconnected() -> None:
            self.on_reconnect()

        async def quiet(exc: BaseException | None = None) -> None:
            pass

        # nats-py 2.16 retries a failed first connect forever when reconnects are unlimited, even an
        # authorization violation (observed): try each server once here and let retry() pace the
        # attempts; reconnect forever once connected.
        try:
            nc = await connect(
                self.servers, tls=self.tls, user_credentials=self.creds, name=f"accountd-kv-{self.name}",
                allow_reconnect=False, max_reconnect_attempts=1, reconnect_time_wait=0.5, connect_timeout=2,
                reconnected_cb=reconnected, disconnected_cb=quiet, error_cb=quiet,
            )
        except NatsConnectError as exc:
            if exc.tls:  # a certificate does not fix itself: no retries
                raise StoreError(f"cannot connect to NATS for the KV bucket {self.name}: {exc}") from None
            raise ConnectionError(str(exc)) from None
        nc.options["allow_reconnect"] = True
        nc.options["max_reconnect_attempts"] = -1
        return nc

    async def _ensure(self) -> None:
        try:
            info = await self.js.stream_info(self.stream)
        except NotFoundError:
            pass
        except APIError as exc:
            raise_not_enabled(exc)
            raise
        else:
            if list(info.config.subjects or []) != [f"{self.prefix}>"]:
                raise StoreError(f"stream {self.stream} exists but is not a KV bucket")
            self.direct = bool(info.config.allow_direct)
            if not self.direct:  # a bucket made before accountd asked for direct gets
                await self._allow_direct()
            return
        replicas = self.replicas or 3
        config = KeyValueConfig(bucket=self.name, history=self.history, replicas=replicas, direct=True,
                                description="accountd: account JWTs by public key")
        try:
            await self.js.create_key_value(config)
        except APIError as exc:
            raise_not_enabled(exc)
            if self.replicas is not None or exc.err_code not in _CANNOT_PLACE or self._cluster_size() >= 3:
                raise  # (a cluster of three that cannot place R3 yet is still forming: try again)
            # Fewer than three servers: the default falls back to one replica.
            replicas = 1
            await self.js.create_key_value(config.evolve(replicas=replicas))
        self.direct = True
        log.info("created KV bucket %s (%d replicas, history %d)", self.name, replicas, self.history)

    async def _allow_direct(self) -> None:
        """Turn on ``allow_direct``, changing nothing else (the raw config: nats-py drops fields it does not know)."""
        assert self.nc is not None
        try:
            info = json.loads((await self.nc.request(f"$JS.API.STREAM.INFO.{self.stream}", b"", self.timeout)).data)
            config = {**info["config"], "allow_direct": True}
            reply = json.loads((await self.nc.request(f"$JS.API.STREAM.UPDATE.{self.stream}",
                                                      json.dumps(config).encode(), self.timeout)).data)
            if "error" in reply:
                raise StoreError(reply["error"].get("description", "refused"))
        except Exception as exc:
            log.warning("KV bucket %s: cannot enable direct gets (%s); reading through the stream leader",
                        self.name, describe(exc))
            return
        self.direct = True
        log.info("KV bucket %s: direct gets enabled", self.name)

    def _cluster_size(self) -> int:
        """Servers in the cluster, as the connected server announces them (1 when standalone)."""
        info: dict[str, Any] = getattr(self.nc, "_server_info", None) or {}
        return max(1, len(info.get("connect_urls") or [])) if info.get("cluster") else 1

    # --- one account -------------------------------------------------------------------------

    async def last(self, account: AccountKey, *, leader: bool = False) -> Message | None:
        """The latest message of ``account``; ``None`` if there is none.

        A direct get is answered by whichever replica is first, which may lag by a moment;
        ``leader`` asks the stream leader (``STREAM.MSG.GET``), which is never behind.
        """
        try:
            return await self.js.get_msg(self.stream, subject=self.prefix + account, direct=self.direct and not leader)
        except NotFoundError:
            return None
        except Exception as exc:
            raise StoreError(f"KV bucket {self.name}: read failed: {describe(exc)}") from exc

    async def versions(self, account: AccountKey) -> list[Message]:
        """Every message the stream keeps of ``account`` (at most its history), oldest first, from
        the stream leader: one ``next_by_subj`` get per message."""
        out: list[Message] = []
        seq = 1
        while True:
            try:
                msg = await self.js.get_msg(self.stream, seq=seq, subject=self.prefix + account, next=True)
            except NotFoundError:
                return out
            except Exception as exc:
                raise StoreError(f"KV bucket {self.name}: reading history failed: {describe(exc)}") from exc
            out.append(msg)
            seq = int(msg.seq) + 1

    async def append(self, account: AccountKey, payload: bytes, headers: dict[str, str]) -> int:
        """Append to the account's subject; retried while the stream has no leader (an election).

        :class:`WrongLast` when the compare-and-set header does not hold. The message id makes a
        retry after a lost acknowledgement a duplicate the stream ignores.
        """
        headers = {**headers, "Nats-Msg-Id": uuid.uuid4().hex}
        deadline = time.monotonic() + self.write_timeout
        delay = 0.05
        while True:
            try:
                ack = await self.js.publish(self.prefix + account, payload, headers=headers,
                                            timeout=max(0.1, min(self.timeout, deadline - time.monotonic())))
                break
            except APIError as exc:
                if exc.err_code in _WRONG_LAST_SEQUENCE:
                    match = _WRONG_LAST.search(exc.description or "")
                    raise WrongLast(int(match.group(1)) if match else None) from None
                if exc.code != 503 or time.monotonic() + delay > deadline:
                    raise StoreError(f"KV bucket {self.name}: write refused: {describe(exc)}") from exc
            except (NoStreamResponseError, nats.errors.TimeoutError, nats.errors.ConnectionReconnectingError) as exc:
                # Observed when a stream leader is SIGKILLed: "no responders" until a new leader is
                # elected (4-9 s on 2.15), timeouts for a client connected to the dead server.
                if time.monotonic() + delay > deadline:
                    raise StoreError(f"KV bucket {self.name}: write failed: {describe(exc)}") from exc
            except Exception as exc:
                raise StoreError(f"KV bucket {self.name}: write failed: {describe(exc)}") from exc
            await asyncio.sleep(delay)
            delay = min(delay * 2, 0.5)
        self.writes += 1
        return int(ack.seq)

    async def reply(self, subject: str, payload: bytes) -> None:
        """Publish without caring whether it arrives (acknowledgements, flow control)."""
        if self.nc is not None and not self.nc.is_closed:
            with contextlib.suppress(Exception):
                await self.nc.publish(subject, payload)


# --- the message format ------------------------------------------------------------------------


def is_deleted(headers: Mapping[str, str] | None) -> bool:
    """A KV delete or purge marker, or a marker the server left (``Nats-Marker-Reason``)."""
    if not headers:
        return False
    return headers.get("KV-Operation") in ("DEL", "PURGE") or "Nats-Marker-Reason" in headers


def publishes(headers: Mapping[str, str] | None) -> bool:
    """False for a write made with ``publish=False``."""
    return not headers or headers.get(PUBLISH_HEADER) != "no"


def decode(account: AccountKey, seq: int, data: bytes | None, headers: Mapping[str, str] | None) -> Record:
    meta: Mapping[str, int | str] = EMPTY_META
    if headers and headers.get(META_HEADER):
        try:
            meta = clean_meta(json.loads(headers[META_HEADER])) or EMPTY_META
        except (ValueError, AttributeError):
            log.warning("ignoring malformed %s header on %s revision %d", META_HEADER, account, seq)
    text = (data or b"").decode("utf-8", "replace").strip()
    return Record(account, JWT(text), seq, is_deleted(headers),
                  MappingProxyType(dict(meta)) if meta else EMPTY_META)


def origin_of(headers: Mapping[str, str] | None) -> Mapping[str, str]:
    """The origin a write recorded in its headers (``{}``: none, or one this version cannot read)."""
    text = headers.get(ORIGIN_HEADER) if headers else None
    if text:
        with contextlib.suppress(ValueError, AttributeError):
            origin = json.loads(text)
            if all(isinstance(k, str) and isinstance(v, str) for k, v in origin.items()):
                return MappingProxyType(origin)
    return MappingProxyType({})


def write_headers(meta: Mapping[str, int | str], expect: int | None, *, publish: bool = True,
                  origin: Mapping[str, str] | None = None) -> dict[str, str]:
    headers = {}
    if meta:
        headers[META_HEADER] = json.dumps(dict(meta), separators=(",", ":"), sort_keys=True)
    if origin:
        headers[ORIGIN_HEADER] = json.dumps(dict(origin), separators=(",", ":"), sort_keys=True)
    if expect is not None:
        headers[EXPECT_HEADER] = str(expect)
    if not publish:
        headers[PUBLISH_HEADER] = "no"
    return headers


# --- errors and retries ------------------------------------------------------------------------


async def retry(deadline: float, what: str, step: Callable[[], Awaitable[Any]]) -> Any:
    """``step()`` until it succeeds or ``deadline`` (monotonic) passes; a refusal is not retried."""
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
                raise StoreError(f"cannot {what}: {describe(exc)}") from exc
            (log.warning if delay == 0.1 else log.debug)(
                "cannot %s yet (%s); retrying for up to %.0f s", what, describe(exc), deadline - time.monotonic())
            await asyncio.sleep(delay)
            delay = min(delay * 2, 2.0)


def raise_not_enabled(exc: APIError) -> None:
    if exc.err_code in _NOT_ENABLED:
        raise StoreError(
            f"{exc.description}: the KV store needs a user of a JetStream-enabled account (in operator mode "
            "the system account cannot use JetStream); give it one with nats-kv://BUCKET?creds=FILE"
        ) from exc


def describe(exc: BaseException) -> str:
    if isinstance(exc, APIError):
        return f"{exc.description} (JetStream error {exc.err_code})"
    return str(exc) or type(exc).__name__
