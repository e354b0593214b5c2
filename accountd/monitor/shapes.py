"""The JSON objects ``$SYS`` events are made of: server, client, traffic, stats, account counts.

Every field is optional except the server's ``id`` (2.9 and 2.15 differ, SPEC §9.1), wrong types
raise :class:`MalformedEvent`, and fields not known here are kept in ``extra``.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar

__all__ = ["AccountConns", "ClientInfo", "DataStats", "MalformedEvent", "ServerInfo", "ServerStats"]

JSON = dict[str, Any]


class MalformedEvent(ValueError):
    """A payload that is not the JSON shape its subject promises."""


# ------------------------------------------------------------------------------- field readers (shared)


def str_field(d: Mapping[str, Any], key: str) -> str:
    value = d.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise MalformedEvent(f"{key!r} is {type(value).__name__}, not a string")
    return value


def int_field(d: Mapping[str, Any], key: str) -> int:
    value = d.get(key)
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise MalformedEvent(f"{key!r} is {type(value).__name__}, not a number")
    return int(value)


def float_field(d: Mapping[str, Any], key: str) -> float:
    value = d.get(key)
    if value is None:
        return 0.0
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise MalformedEvent(f"{key!r} is {type(value).__name__}, not a number")
    return float(value)


def bool_field(d: Mapping[str, Any], key: str) -> bool:
    value = d.get(key)
    if value is None:
        return False
    if not isinstance(value, bool):
        raise MalformedEvent(f"{key!r} is {type(value).__name__}, not a boolean")
    return value


def obj_field(d: Mapping[str, Any], key: str) -> JSON:
    value = d.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise MalformedEvent(f"{key!r} is {type(value).__name__}, not an object")
    return value


def list_field(d: Mapping[str, Any], key: str) -> list[Any]:
    value = d.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise MalformedEvent(f"{key!r} is {type(value).__name__}, not a list")
    return value


def time_field(d: Mapping[str, Any], key: str) -> datetime | None:
    text = str_field(d, key)
    if not text or text.startswith("0001-01-01"):  # Go's zero time means "not set"
        return None
    try:
        # Go writes up to nine fraction digits; fromisoformat (3.11+) truncates them to µs.
        return datetime.fromisoformat(text)
    except ValueError:
        raise MalformedEvent(f"{key!r} is not an RFC 3339 time: {text[:40]!r}") from None


def extra_fields(d: Mapping[str, Any], known: frozenset[str]) -> JSON:
    return {k: v for k, v in d.items() if k not in known}


def iso(t: datetime | None) -> str | None:
    return t.isoformat().replace("+00:00", "Z") if t else None


# ------------------------------------------------------------------------------------------- pieces


@dataclass(frozen=True, slots=True, kw_only=True)
class ServerInfo:
    """The ``server`` object every event carries (SPEC §5.5)."""

    id: str
    name: str = ""
    host: str = ""
    version: str = ""
    cluster: str = ""
    domain: str = ""
    tags: tuple[str, ...] = ()
    jetstream: bool = False
    seq: int = 0
    time: datetime | None = None
    extra: JSON = field(default_factory=dict)

    KNOWN: ClassVar[frozenset[str]] = frozenset(
        {"id", "name", "host", "ver", "cluster", "domain", "tags", "jetstream", "seq", "time"}
    )

    @property
    def label(self) -> str:
        """The name to show: the configured name, else the id."""
        return self.name or self.id

    @classmethod
    def decode(cls, d: Mapping[str, Any]) -> ServerInfo:
        server_id = str_field(d, "id")
        if not server_id:
            raise MalformedEvent("server.id is missing")
        tags = list_field(d, "tags")
        if not all(isinstance(t, str) for t in tags):
            raise MalformedEvent("server.tags holds a non-string")
        return cls(
            id=server_id,
            name=str_field(d, "name"),
            host=str_field(d, "host"),
            version=str_field(d, "ver"),
            cluster=str_field(d, "cluster"),
            domain=str_field(d, "domain"),
            tags=tuple(tags),
            jetstream=bool_field(d, "jetstream"),
            seq=int_field(d, "seq"),
            time=time_field(d, "time"),
            extra=extra_fields(d, cls.KNOWN),
        )

    def to_dict(self) -> JSON:
        return {
            "id": self.id, "name": self.name, "host": self.host, "version": self.version,
            "cluster": self.cluster, "domain": self.domain, "tags": list(self.tags),
            "jetstream": self.jetstream, "seq": self.seq, "time": iso(self.time), "extra": self.extra,
        }  # fmt: skip


@dataclass(frozen=True, slots=True, kw_only=True)
class DataStats:
    """``{"msgs", "bytes"}``; 2.12+ adds ``gateways``, ``routes``, ``leafs`` (kept in ``extra``)."""

    msgs: int = 0
    bytes: int = 0
    extra: JSON = field(default_factory=dict)

    @classmethod
    def decode(cls, d: Mapping[str, Any]) -> DataStats:
        extra = extra_fields(d, frozenset({"msgs", "bytes"}))
        return cls(msgs=int_field(d, "msgs"), bytes=int_field(d, "bytes"), extra=extra)

    def to_dict(self) -> JSON:
        return {"msgs": self.msgs, "bytes": self.bytes, **self.extra}


@dataclass(frozen=True, slots=True, kw_only=True)
class ClientInfo:
    """The ``client`` object of CONNECT, DISCONNECT and AUTH.ERR.

    ``jwt`` is the user's full JWT: kept for :meth:`claimed`, never shown (not in ``repr`` or
    :meth:`to_dict`).
    """

    id: int = 0
    account: str = ""
    user: str = ""
    name: str = ""
    host: str = ""
    lang: str = ""
    version: str = ""
    rtt_ns: int = 0
    start: datetime | None = None
    stop: datetime | None = None
    server: str = ""
    cluster: str = ""
    kind: str = ""
    client_type: str = ""
    name_tag: str = ""  # the user's name on 2.9.10 but the account's on 2.15.1 (observed): not used for names
    issuer_key: str = ""
    tags: tuple[str, ...] = ()
    jwt: str = field(default="", repr=False)
    extra: JSON = field(default_factory=dict)

    KNOWN: ClassVar[frozenset[str]] = frozenset(
        {"id", "acc", "user", "name", "host", "lang", "ver", "rtt", "start", "stop", "server", "cluster",
         "kind", "client_type", "name_tag", "issuer_key", "tags", "jwt"}
    )  # fmt: skip

    @classmethod
    def decode(cls, d: Mapping[str, Any]) -> ClientInfo:
        tags = list_field(d, "tags")
        return cls(
            id=int_field(d, "id"),
            account=str_field(d, "acc"),
            user=str_field(d, "user"),
            name=str_field(d, "name"),
            host=str_field(d, "host"),
            lang=str_field(d, "lang"),
            version=str_field(d, "ver"),
            rtt_ns=int_field(d, "rtt"),
            start=time_field(d, "start"),
            stop=time_field(d, "stop"),
            server=str_field(d, "server"),
            cluster=str_field(d, "cluster"),
            kind=str_field(d, "kind"),
            client_type=str_field(d, "client_type"),
            name_tag=str_field(d, "name_tag"),
            issuer_key=str_field(d, "issuer_key"),
            tags=tuple(str(t) for t in tags),
            jwt=str_field(d, "jwt"),
            extra={k: v for k, v in extra_fields(d, cls.KNOWN).items() if k != "nonce"},  # nonce: auth material
        )

    def claimed(self) -> JSON:
        """What the presented user JWT *claims* (``sub``, ``name``, issuer): decoded, not verified.

        On an authentication error this is the only hint of who tried; it may be forged.
        """
        parts = self.jwt.split(".")
        if len(parts) != 3:
            return {}
        try:
            body = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
        except (binascii.Error, ValueError):
            return {}
        if not isinstance(body, dict):
            return {}
        nats = body.get("nats") if isinstance(body.get("nats"), dict) else {}
        out = {
            "user": body.get("sub"),
            "name": body.get("name"),
            "issuer": body.get("iss"),
            "issuer_account": nats.get("issuer_account") if nats else None,
        }
        return {k: v for k, v in out.items() if isinstance(v, str) and v}

    def to_dict(self) -> JSON:
        return {
            "id": self.id, "account": self.account, "user": self.user, "name": self.name, "host": self.host,
            "lang": self.lang, "version": self.version, "rtt_ns": self.rtt_ns, "start": iso(self.start),
            "stop": iso(self.stop), "server": self.server, "cluster": self.cluster, "kind": self.kind,
            "client_type": self.client_type, "name_tag": self.name_tag, "issuer_key": self.issuer_key,
            "tags": list(self.tags), "extra": self.extra,
        }  # fmt: skip


@dataclass(frozen=True, slots=True, kw_only=True)
class ServerStats:
    """The ``statsz`` object of STATSZ and PING replies."""

    start: datetime | None = None
    mem: int = 0
    cores: int = 0
    cpu: float = 0.0
    connections: int = 0
    total_connections: int = 0
    active_accounts: int = 0
    subscriptions: int = 0
    sent: DataStats = field(default_factory=DataStats)
    received: DataStats = field(default_factory=DataStats)
    slow_consumers: int = 0
    routes: int = 0
    gateways: int = 0
    active_servers: int = 0
    extra: JSON = field(default_factory=dict)

    KNOWN: ClassVar[frozenset[str]] = frozenset(
        {"start", "mem", "cores", "cpu", "connections", "total_connections", "active_accounts",
         "subscriptions", "sent", "received", "slow_consumers", "active_servers"}
    )  # fmt: skip

    @classmethod
    def decode(cls, d: Mapping[str, Any]) -> ServerStats:
        return cls(
            start=time_field(d, "start"),
            mem=int_field(d, "mem"),
            cores=int_field(d, "cores"),
            cpu=float_field(d, "cpu"),
            connections=int_field(d, "connections"),
            total_connections=int_field(d, "total_connections"),
            active_accounts=int_field(d, "active_accounts"),
            subscriptions=int_field(d, "subscriptions"),
            sent=DataStats.decode(obj_field(d, "sent")),
            received=DataStats.decode(obj_field(d, "received")),
            slow_consumers=int_field(d, "slow_consumers"),
            routes=len(list_field(d, "routes")),
            gateways=len(list_field(d, "gateways")),
            active_servers=int_field(d, "active_servers"),
            extra=extra_fields(d, cls.KNOWN),  # routes/gateways stay here in full
        )

    def to_dict(self) -> JSON:
        return {
            "start": iso(self.start), "mem": self.mem, "cores": self.cores, "cpu": self.cpu,
            "connections": self.connections, "total_connections": self.total_connections,
            "active_accounts": self.active_accounts, "subscriptions": self.subscriptions,
            "sent": self.sent.to_dict(), "received": self.received.to_dict(),
            "slow_consumers": self.slow_consumers, "routes": self.routes, "gateways": self.gateways,
            "active_servers": self.active_servers, "extra": self.extra,
        }  # fmt: skip


@dataclass(frozen=True, slots=True, kw_only=True)
class AccountConns:
    """One account's connections on one server (CONNS events and account STATZ replies)."""

    account: str
    name: str = ""  # 2.11+
    conns: int = 0
    leafnodes: int = 0
    total_conns: int = 0
    num_subscriptions: int | None = None  # 2.10+
    sent: DataStats = field(default_factory=DataStats)
    received: DataStats = field(default_factory=DataStats)
    slow_consumers: int = 0

    @classmethod
    def decode(cls, d: Mapping[str, Any], account: str = "") -> AccountConns:
        acc = str_field(d, "acc") or account
        if not acc:
            raise MalformedEvent("acc is missing")
        subs = d.get("num_subscriptions")
        return cls(
            account=acc,
            name=str_field(d, "name"),
            conns=int_field(d, "conns"),
            leafnodes=int_field(d, "leafnodes"),
            total_conns=int_field(d, "total_conns"),
            num_subscriptions=None if subs is None else int_field(d, "num_subscriptions"),
            sent=DataStats.decode(obj_field(d, "sent")),
            received=DataStats.decode(obj_field(d, "received")),
            slow_consumers=int_field(d, "slow_consumers"),
        )

    def to_dict(self) -> JSON:
        return {
            "account": self.account, "name": self.name, "conns": self.conns, "leafnodes": self.leafnodes,
            "total_conns": self.total_conns, "num_subscriptions": self.num_subscriptions,
            "sent": self.sent.to_dict(), "received": self.received.to_dict(), "slow_consumers": self.slow_consumers,
        }  # fmt: skip
