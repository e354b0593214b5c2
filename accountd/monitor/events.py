"""Typed ``$SYS`` events, decoded from nats-server's JSON (SPEC §9).

A payload that cannot be decoded raises :class:`MalformedEvent`; the monitor counts those and
moves on. The objects inside an event (server, client, stats…) are in :mod:`.shapes`.

Event kinds (``Event.kind``)::

    connect        $SYS.ACCOUNT.<acc>.CONNECT            ConnectEvent
    disconnect     $SYS.ACCOUNT.<acc>.DISCONNECT         DisconnectEvent
    auth           $SYS.SERVER.<id>.CLIENT.AUTH.ERR      AuthErrorEvent
    conns          $SYS.SERVER.ACCOUNT.<acc>.CONNS       AccountConnsEvent
    leafnode       $SYS.ACCOUNT.<acc>.LEAFNODE.CONNECT   LeafnodeConnectEvent
    stats          $SYS.SERVER.<id>.STATSZ, PING reply   StatszEvent
    shutdown       $SYS.SERVER.<id>.SHUTDOWN             ShutdownEvent
    account_statz  $SYS.REQ.ACCOUNT.PING.STATZ reply     AccountStatzEvent
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar

from accountd.monitor.shapes import (
    JSON,
    AccountConns,
    ClientInfo,
    DataStats,
    MalformedEvent,
    ServerInfo,
    ServerStats,
    extra_fields,
    iso,
    list_field,
    obj_field,
    str_field,
    time_field,
)

__all__ = [
    "KINDS",
    "AccountConnsEvent",
    "AccountStatzEvent",
    "AuthErrorEvent",
    "ConnectEvent",
    "DisconnectEvent",
    "Event",
    "LeafnodeConnectEvent",
    "MalformedEvent",
    "ShutdownEvent",
    "StatszEvent",
    "decode",
    "decode_account_statz",
    "decode_statsz",
    "kind_of_subject",
]

KINDS = ("connect", "disconnect", "auth", "conns", "leafnode", "stats", "shutdown", "account_statz")


# ------------------------------------------------------------------------------------------- events

_TYPED = frozenset({"type", "id", "timestamp", "server"})


@dataclass(frozen=True, slots=True, kw_only=True)
class Event:
    """What every event has: the subject it came on, the server, and the TypedEvent header."""

    kind: ClassVar[str] = "event"
    subject: str
    server: ServerInfo
    type: str = ""
    id: str = ""
    timestamp: datetime | None = None
    extra: JSON = field(default_factory=dict)

    @property
    def time(self) -> datetime | None:
        """When it happened: the event's timestamp, else the server's clock when it sent it."""
        return self.timestamp or self.server.time

    @property
    def account(self) -> str:
        return ""

    def to_dict(self) -> JSON:
        return {
            "kind": self.kind, "time": iso(self.time), "subject": self.subject, "type": self.type,
            "id": self.id, "server": self.server.to_dict(), **self._body(), "extra": self.extra,
        }  # fmt: skip

    def _body(self) -> JSON:
        return {}


@dataclass(frozen=True, slots=True, kw_only=True)
class ConnectEvent(Event):
    kind: ClassVar[str] = "connect"
    client: ClientInfo
    subject_account: str = ""

    @property
    def account(self) -> str:
        return self.client.account or self.subject_account

    def _body(self) -> JSON:
        return {"account": self.account, "client": self.client.to_dict()}


@dataclass(frozen=True, slots=True, kw_only=True)
class DisconnectEvent(ConnectEvent):
    kind: ClassVar[str] = "disconnect"
    sent: DataStats = field(default_factory=DataStats)
    received: DataStats = field(default_factory=DataStats)
    reason: str = ""

    def _body(self) -> JSON:
        return {
            "account": self.account, "client": self.client.to_dict(), "reason": self.reason,
            "sent": self.sent.to_dict(), "received": self.received.to_dict(),
        }  # fmt: skip


@dataclass(frozen=True, slots=True, kw_only=True)
class AuthErrorEvent(DisconnectEvent):
    """An authentication failure; ``client.acc`` is ``$G``, ``N/A`` or empty (not known yet)."""

    kind: ClassVar[str] = "auth"

    def _body(self) -> JSON:
        return {**DisconnectEvent._body(self), "claimed": self.client.claimed()}


@dataclass(frozen=True, slots=True, kw_only=True)
class AccountConnsEvent(Event):
    kind: ClassVar[str] = "conns"
    conns: AccountConns

    @property
    def account(self) -> str:
        return self.conns.account

    def _body(self) -> JSON:
        return {"account": self.account, "conns": self.conns.to_dict()}


@dataclass(frozen=True, slots=True, kw_only=True)
class LeafnodeConnectEvent(Event):
    kind: ClassVar[str] = "leafnode"
    leaf_account: str = ""

    @property
    def account(self) -> str:
        return self.leaf_account

    def _body(self) -> JSON:
        return {"account": self.account}


@dataclass(frozen=True, slots=True, kw_only=True)
class StatszEvent(Event):
    kind: ClassVar[str] = "stats"
    stats: ServerStats

    def _body(self) -> JSON:
        return {"stats": self.stats.to_dict()}


@dataclass(frozen=True, slots=True, kw_only=True)
class ShutdownEvent(Event):
    kind: ClassVar[str] = "shutdown"


@dataclass(frozen=True, slots=True, kw_only=True)
class AccountStatzEvent(Event):
    """One server's answer to ``$SYS.REQ.ACCOUNT.PING.STATZ``: every account it has clients of."""

    kind: ClassVar[str] = "account_statz"
    accounts: tuple[AccountConns, ...] = ()

    def _body(self) -> JSON:
        return {"accounts": [a.to_dict() for a in self.accounts]}


# ------------------------------------------------------------------------------------------ decoding


def _load(data: bytes) -> JSON:
    try:
        doc = json.loads(data)
    except (UnicodeDecodeError, ValueError) as exc:
        raise MalformedEvent(f"not JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise MalformedEvent(f"not a JSON object but {type(doc).__name__}")
    return doc


def _header(subject: str, doc: JSON, known: frozenset[str]) -> dict[str, Any]:
    server = doc.get("server")
    if not isinstance(server, dict):
        raise MalformedEvent("server is missing")
    return {
        "subject": subject,
        "server": ServerInfo.decode(server),
        "type": str_field(doc, "type"),
        "id": str_field(doc, "id"),
        "timestamp": time_field(doc, "timestamp"),
        "extra": extra_fields(doc, _TYPED | known),
    }


def kind_of_subject(subject: str) -> tuple[str, str]:
    """``(kind, account or server id)`` for a ``$SYS`` event subject; kind is ``""`` if unknown."""
    t = subject.split(".")
    n = len(t)
    if n < 4 or t[0] != "$SYS":
        return "", ""
    if t[1] == "ACCOUNT":
        if n == 4 and t[3] == "CONNECT":
            return "connect", t[2]
        if n == 4 and t[3] == "DISCONNECT":
            return "disconnect", t[2]
        if n == 5 and t[3:] == ["SERVER", "CONNS"]:
            return "conns", t[2]
        if n == 5 and t[3:] == ["LEAFNODE", "CONNECT"]:
            return "leafnode", t[2]
    if t[1] == "SERVER":
        if n == 5 and t[2] == "ACCOUNT" and t[4] == "CONNS":
            return "conns", t[3]
        if n == 6 and t[3:] == ["CLIENT", "AUTH", "ERR"]:
            return "auth", t[2]
        if n == 4 and t[3] == "STATSZ":
            return "stats", t[2]
        if n == 4 and t[3] == "SHUTDOWN":
            return "shutdown", t[2]
    return "", ""


def decode(subject: str, data: bytes) -> Event:
    """Decode the event that arrived on ``subject``; raises :class:`MalformedEvent`."""
    kind, token = kind_of_subject(subject)
    if not kind:
        raise MalformedEvent(f"not an event subject: {subject}")
    if kind == "shutdown":
        # SHUTDOWN carries a bare ServerInfo, not an envelope.
        doc = _load(data)
        return ShutdownEvent(subject=subject, server=ServerInfo.decode(doc))
    if kind == "stats":
        return decode_statsz(subject, data)
    doc = _load(data)
    if kind in ("connect", "disconnect", "auth"):
        head = _header(subject, doc, frozenset({"client", "sent", "received", "reason"}))
        client = doc.get("client")
        if not isinstance(client, dict):
            raise MalformedEvent("client is missing")
        info = ClientInfo.decode(client)
        acc = "" if kind == "auth" else token
        if kind == "connect":
            return ConnectEvent(**head, client=info, subject_account=acc)
        cls = AuthErrorEvent if kind == "auth" else DisconnectEvent
        return cls(
            **head,
            client=info,
            subject_account=acc,
            sent=DataStats.decode(obj_field(doc, "sent")),
            received=DataStats.decode(obj_field(doc, "received")),
            reason=str_field(doc, "reason"),
        )
    if kind == "conns":
        fields = frozenset({"acc", "name", "conns", "leafnodes", "total_conns", "num_subscriptions", "sent",
                            "received", "slow_consumers"})  # fmt: skip
        return AccountConnsEvent(**_header(subject, doc, fields), conns=AccountConns.decode(doc, token))
    # leafnode: {"server":…, "acc":…}
    head = _header(subject, doc, frozenset({"acc"}))
    return LeafnodeConnectEvent(**head, leaf_account=str_field(doc, "acc") or token)


def decode_statsz(subject: str, data: bytes) -> StatszEvent:
    """A STATSZ event or one server's reply to ``$SYS.REQ.SERVER.PING``."""
    doc = _load(data)
    head = _header(subject, doc, frozenset({"statsz"}))
    if "error" in doc or not isinstance(doc.get("statsz"), dict):
        raise MalformedEvent("statsz is missing")
    return StatszEvent(**head, stats=ServerStats.decode(doc["statsz"]))


def decode_account_statz(subject: str, data: bytes) -> AccountStatzEvent:
    """One server's reply to ``$SYS.REQ.ACCOUNT.PING.STATZ`` (``{"server", "data": {"account_statz"}}``)."""
    doc = _load(data)
    head = _header(subject, doc, frozenset({"data"}))
    body = obj_field(doc, "data")
    if "error" in doc or not body:
        raise MalformedEvent("data is missing")
    items = list_field(body, "account_statz")
    if not all(isinstance(i, dict) for i in items):
        raise MalformedEvent("account_statz holds a non-object")
    return AccountStatzEvent(**head, accounts=tuple(AccountConns.decode(i) for i in items))
