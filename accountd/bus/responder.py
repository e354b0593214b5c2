"""Answers the ``$SYS.REQ`` claims protocol from the store (SPEC §5.4, §5.5, §6.6).

* ``$SYS.REQ.ACCOUNT.<id>.CLAIMS.LOOKUP`` → the raw JWT, or an empty reply on a miss (accountd is
  authoritative; ``silent_miss`` keeps quiet instead, as the Go original did).
* ``$SYS.REQ.CLAIMS.UPDATE`` and ``$SYS.REQ.ACCOUNT.<id>.CLAIMS.UPDATE`` → validated exactly like
  an HTTP POST (the original stored these unchecked).
* ``$SYS.REQ.CLAIMS.LIST`` → the stored account keys; ``$SYS.REQ.CLAIMS.DELETE`` → DELETE rules.

Replies use nats-server's envelope, ``server`` first, because nsc dereferences ``server.name``.
"""

from __future__ import annotations

import itertools
import json
import logging
import socket
from datetime import UTC, datetime
from typing import Any

from nats.aio.client import Client
from nats.aio.msg import Msg

from accountd import __version__
from accountd.bus.subjects import (
    CLAIMS_DELETE,
    CLAIMS_LIST,
    CLAIMS_LOOKUP_ALL,
    CLAIMS_UPDATE_REQ,
    CLAIMS_UPDATE_REQ_ALL,
    account_from_subject,
)
from accountd.claims import Role, create
from accountd.errors import AccountNotFound, BadRequest, ServiceError
from accountd.service import AccountService

__all__ = ["Responder", "server_info"]

log = logging.getLogger("accountd.responder")


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
    def __init__(self, service: AccountService, *, name: str = "accountd", silent_miss: bool = False) -> None:
        self.service = service
        self.name = name
        self.server_id = create(Role.SERVER).public_key
        self.silent_miss = silent_miss
        self._seq = itertools.count(1)
        self.counters: dict[str, int] = {"lookups": 0, "lookup_misses": 0, "updates": 0, "update_errors": 0,
                                         "lists": 0, "deletes": 0}

    async def subscribe(self, nc: Client) -> None:
        await nc.subscribe(CLAIMS_LOOKUP_ALL, cb=self._lookup)
        await nc.subscribe(CLAIMS_UPDATE_REQ, cb=self._update)
        await nc.subscribe(CLAIMS_UPDATE_REQ_ALL, cb=self._update)
        await nc.subscribe(CLAIMS_LIST, cb=self._list)
        await nc.subscribe(CLAIMS_DELETE, cb=self._delete)

    def envelope(self, *, data: Any = None, error: dict[str, Any] | None = None) -> bytes:
        doc: dict[str, Any] = {"server": server_info(self.name, self.server_id, next(self._seq))}
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

    async def _update(self, msg: Msg) -> None:
        subject_account = account_from_subject(msg.subject) or None
        self.counters["updates"] += 1
        if not msg.data:
            self.counters["update_errors"] += 1
            await self._reply(msg, self.envelope(error={
                "account": subject_account or "n/a", "code": 400,
                "description": "jwt update error - request body is empty"}))
            return
        try:
            result = await self.service.put(msg.data, subject_account)
        except ServiceError as exc:
            self.counters["update_errors"] += 1
            log.info("claim update on %s refused: %s", msg.subject, exc.message)
            await self._reply(msg, self.envelope(error={
                "account": subject_account or "n/a", "code": exc.status, "description": exc.message}))
            return
        message = "jwt updated"
        if result.notes:
            message += " - " + "; ".join(result.notes)
        await self._reply(msg, self.envelope(data={"account": result.account, "code": 200, "message": message}))

    async def _list(self, msg: Msg) -> None:
        self.counters["lists"] += 1
        try:
            keys = await self.service.store.list()
        except Exception as exc:
            await self._reply(msg, self.envelope(error={"code": 500, "description": f"list failed - {exc}"}))
            return
        await self._reply(msg, self.envelope(data=list(keys)))

    async def _delete(self, msg: Msg) -> None:
        self.counters["deletes"] += 1
        try:
            claims, _ = self.service.check_delete(msg.data)
            count = await self.service.delete(msg.data)
        except ServiceError as exc:
            await self._reply(msg, self.envelope(error={
                "code": exc.status, "description": f"delete accounts request failed - {exc.message}"}))
            return
        await self._reply(msg, self.envelope(data={
            "account": claims.sub, "code": 200, "message": f"deleted {count} accounts"}))
