"""Answers the ``$SYS.REQ`` claims protocol from the store (SPEC §5.4, §5.5, §6.6).

* ``$SYS.REQ.ACCOUNT.<id>.CLAIMS.LOOKUP`` → the raw JWT, or an empty reply on a miss (accountd is
  authoritative; ``silent_miss`` keeps quiet instead, as the Go original did).
* ``$SYS.REQ.CLAIMS.UPDATE`` and ``$SYS.REQ.ACCOUNT.<id>.CLAIMS.UPDATE`` → validated exactly like
  an HTTP POST (the original stored these unchecked).
* ``$SYS.REQ.CLAIMS.LIST`` → the stored account keys, in one reply as nats-server's protocol has it,
  built from the store a page at a time and measured as it grows: a list that does not fit in the
  connection's ``max_payload`` gets an error reply saying so (publishing it would fail).
  ``$SYS.REQ.CLAIMS.DELETE`` → DELETE rules.

UPDATE and DELETE take a token from a per-client bucket (``write_rate`` per second, bursts of
``write_burst``; the same :class:`~accountd.ratelimit.RateLimiter` as HTTP writes): a refused request
gets a 429 error reply and changes nothing. A NATS message does not name its sender, so the client
is its reply inbox — see :func:`client_of`. Each UPDATE and DELETE, however it ends, is one record
in the service's audit log, with the origin ``{"via": "nats", "subject", "client"}`` that also goes
into the account's history. The client's connection name is not looked up: a
``$SYS.REQ.SERVER.PING.CONNZ`` round trip (every server of the cluster answering) would delay the
reply, and a reply inbox can be any subject.

Replies use nats-server's envelope, ``server`` first, because nsc dereferences ``server.name``.
"""

from __future__ import annotations

import itertools
import json
import logging
import math
import socket
from datetime import UTC, datetime
from typing import Any

from nats.aio.client import DEFAULT_MAX_PAYLOAD_SIZE, Client
from nats.aio.msg import Msg

from accountd import __version__
from accountd.bus.clients import ClientNames
from accountd.bus.subjects import (
    CLAIMS_DELETE,
    CLAIMS_LIST,
    CLAIMS_LOOKUP_ALL,
    CLAIMS_UPDATE_REQ,
    CLAIMS_UPDATE_REQ_ALL,
    account_from_subject,
)
from accountd.claims import Role, create
from accountd.errors import AccountNotFound, BadRequest, RateLimited, ServiceError
from accountd.ratelimit import RateLimiter
from accountd.service import AccountService
from accountd.service.audit import Attempt
from accountd.service.origin import nats_origin

__all__ = ["Responder", "client_of", "server_info"]

log = logging.getLogger("accountd.responder")

LIST_PAGE = 1000
"""Keys read from the store at a time to answer ``$SYS.REQ.CLAIMS.LIST``."""


NO_REPLY = "(no reply subject)"
"""The one bucket shared by every request sent without a reply subject."""


def client_of(reply: str) -> str:
    """The rate-limit key of a request: its reply subject's first two tokens (``_INBOX.<nuid>``).

    nats-py's ``request()`` and Go's use one ``_INBOX.<nuid>.*`` prefix per connection, while their
    ``new_inbox()`` makes a fresh ``<nuid>`` per call; a NUID is a 12-character prefix fixed per
    client and a 10-character sequence, so a 22-character second token keeps its first 12 and both
    kinds of inbox of one connection share a bucket. A client choosing its own reply subjects can
    still spread over many buckets: NATS authorisation (who may publish on ``$SYS.REQ``) is the
    real gate.
    """
    if not reply:
        return NO_REPLY
    first, _, rest = reply.partition(".")
    second = rest.partition(".")[0]
    if len(second) == 22 and second.isalnum():
        second = second[:12]
    return f"{first}.{second}"


def _now_rfc3339() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


def server_info(name: str, server_id: str, seq: int) -> dict[str, Any]:
    return {
        "name": name,
        "host": socket.gethostname(),
        "id": server_id,
        "ver": __version__,
        "jetstream": False,
        "flags": 0,
        "seq": seq,
        "time": _now_rfc3339(),
    }


class Responder:
    def __init__(
        self, service: AccountService, *, name: str = "accountd", silent_miss: bool = False, list_page: int = LIST_PAGE,
        write_rate: float = 0.0, write_burst: int = 1, system_account: str = "",
    ) -> None:
        self.service = service
        self.limiter = RateLimiter(write_rate, write_burst)
        self.clients = ClientNames(system_account)
        self.name = name
        self.list_page = list_page
        self._nc: Client | None = None
        self.server_id = create(Role.SERVER).public_key
        self.silent_miss = silent_miss
        self._seq = itertools.count(1)
        self.counters: dict[str, int] = {"lookups": 0, "lookup_misses": 0, "updates": 0, "update_errors": 0,
                                         "lists": 0, "list_errors": 0, "deletes": 0, "rate_limited": 0}

    async def subscribe(self, nc: Client) -> None:
        self._nc = nc
        await nc.subscribe(CLAIMS_LOOKUP_ALL, cb=self._lookup)
        await nc.subscribe(CLAIMS_UPDATE_REQ, cb=self._update)
        await nc.subscribe(CLAIMS_UPDATE_REQ_ALL, cb=self._update)
        await nc.subscribe(CLAIMS_LIST, cb=self._list)
        await nc.subscribe(CLAIMS_DELETE, cb=self._delete)

    def _server(self) -> dict[str, Any]:
        return server_info(self.name, self.server_id, next(self._seq))

    def envelope(self, *, data: Any = None, error: dict[str, Any] | None = None) -> bytes:
        doc: dict[str, Any] = {"server": self._server()}
        if error is not None:
            doc["error"] = error
        else:
            doc["data"] = data
        return json.dumps(doc, separators=(",", ":")).encode()

    async def _reply(self, msg: Msg, payload: bytes) -> None:
        if msg.reply:
            await msg.respond(payload)

    async def _lookup(self, msg: Msg) -> None:
        account = account_from_subject(msg.subject)
        self.counters["lookups"] += 1
        try:
            entry = await self.service.get(account)
        except (AccountNotFound, BadRequest):
            self.counters["lookup_misses"] += 1
            if not self.silent_miss:
                await self._reply(msg, b"")
            return
        except ServiceError as exc:
            log.warning("lookup of %s failed: %s", account, exc.message)
            return
        await self._reply(msg, entry.body)

    def _attempt(self, msg: Msg, op: str, account: str | None = None) -> Attempt:
        return Attempt(op, nats_origin(msg.subject, client_of(msg.reply)), account=account)

    async def _admit(self, msg: Msg, attempt: Attempt) -> None:
        """Take a write token for ``msg``'s client (:class:`RateLimited` without one), then name it."""
        self._take(msg)
        name = await self.clients.name_of(self._nc, msg.reply, client_of(msg.reply))
        if name:
            attempt.origin = {**attempt.origin, "name": name}

    def _take(self, msg: Msg) -> None:
        """Take a write token for ``msg``'s client; :class:`RateLimited` without one."""
        wait = self.limiter.take(client_of(msg.reply))
        if not wait:
            return
        self.counters["rate_limited"] += 1
        if self.counters["rate_limited"] == 1 or self.counters["rate_limited"] % 1000 == 0:
            log.warning("%s: too many requests from %s (%d refused so far)", msg.subject, client_of(msg.reply),
                        self.counters["rate_limited"])
        seconds = max(1, math.ceil(wait))
        raise RateLimited(f"too many requests; retry in {seconds} s", seconds)

    async def _update(self, msg: Msg) -> None:
        subject_account = account_from_subject(msg.subject) or None
        self.counters["updates"] += 1
        attempt = self._attempt(msg, "put", subject_account)
        try:
            await self._admit(msg, attempt)
            if not msg.data:
                raise BadRequest("jwt update error - request body is empty", "empty_body")
            result = await self.service.put(msg.data, subject_account, attempt=attempt)
        except ServiceError as exc:
            self.service.audit.record(attempt, status=exc.status, code=exc.code, message=exc.message)
            if exc.status != 429:
                self.counters["update_errors"] += 1
                log.info("claim update on %s refused: %s", msg.subject, exc.message)
            await self._reply(msg, self.envelope(error={
                "account": subject_account or "n/a", "code": exc.status, "description": exc.message}))
            return
        self.service.audit.record(attempt, status=200)
        message = "jwt updated"
        if result.notes:
            message += " - " + "; ".join(result.notes)
        await self._reply(msg, self.envelope(data={"account": result.account, "code": 200, "message": message}))

    async def _list(self, msg: Msg) -> None:
        self.counters["lists"] += 1
        budget = _budget(self._nc, msg)
        try:
            reply = await self._list_reply(budget)
        except Exception as exc:
            self.counters["list_errors"] += 1
            await self._reply(msg, self.envelope(error={"code": 500, "description": f"list failed - {exc}"}))
            return
        if reply is None:
            self.counters["list_errors"] += 1
            try:
                stored = f"{await self.service.store.count()} stored accounts"
            except Exception:
                stored = "the stored accounts"
            log.warning("$SYS.REQ.CLAIMS.LIST: %s do not fit in one reply of %d bytes", stored, budget)
            await self._reply(msg, self.envelope(error={"code": 413, "description": (
                f"list failed - {stored} do not fit in one reply of at most {budget} bytes (the connection's "
                "max_payload); list them over HTTP: GET /jwt/v1/accounts?list=true")}))  # fmt: skip
            return
        await self._reply(msg, reply)

    async def _list_reply(self, budget: int) -> bytes | None:
        """The LIST envelope with every stored key, read ``list_page`` at a time; ``None`` as soon
        as it would grow past ``budget`` bytes."""
        head = b'{"server":' + json.dumps(self._server(), separators=(",", ":")).encode() + b',"data":['
        parts = [head]
        size = len(head) + 2  # and "]}"
        after = None
        while True:
            keys = await self.service.store.list(after=after, limit=self.list_page)
            for key in keys:
                item = b'"' + key.encode() + b'"'  # keys are A-Z2-7 only: nothing to escape
                size += len(item) + (len(parts) > 1)
                if size > budget:
                    return None
                parts.append(item)
            if len(keys) < self.list_page:
                break
            after = keys[-1]
        return parts[0] + b",".join(parts[1:]) + b"]}"

    async def _delete(self, msg: Msg) -> None:
        self.counters["deletes"] += 1
        attempt = self._attempt(msg, "delete")
        try:
            await self._admit(msg, attempt)
            claims, _ = self.service.check_delete(msg.data)
            count = await self.service.delete(msg.data, attempt=attempt)
        except RateLimited as exc:
            self.service.audit.record(attempt, status=exc.status, code=exc.code, message=exc.message)
            await self._reply(msg, self.envelope(error={"account": "n/a", "code": 429, "description": exc.message}))
            return
        except ServiceError as exc:
            self.service.audit.record(attempt, status=exc.status, code=exc.code, message=exc.message)
            await self._reply(msg, self.envelope(error={
                "code": exc.status, "description": f"delete accounts request failed - {exc.message}"}))
            return
        self.service.audit.record(attempt, status=200)
        await self._reply(msg, self.envelope(data={
            "account": claims.sub, "code": 200, "message": f"deleted {count} accounts"}))


def _budget(nc: Client | None, msg: Msg) -> int:
    """The largest reply ``msg`` can get: the server's ``max_payload`` less the headers that
    :meth:`Msg.respond` sends back (nats-server counts headers and payload together)."""
    limit = nc.max_payload if nc is not None else DEFAULT_MAX_PAYLOAD_SIZE
    if msg.headers:
        limit -= len(b"NATS/1.0\r\n\r\n") + sum(len(k) + len(v) + 4 for k, v in msg.headers.items())
    return limit
