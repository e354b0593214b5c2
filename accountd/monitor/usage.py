"""Limits against usage: each tracked account's connections, leafnodes, subscriptions and JetStream
use next to the limits of its JWT.

The limits come from a :data:`LimitsOf` callable (``accountd serve`` reads the service cache); the
usage from the monitor's state (CONNS, account STATZ) and from the JetStream replies folded in by
:class:`JetStreamUsage`. A limit of -1 (unlimited) or 0 (JetStream off) is not a limit here: only
accounts with a finite limit > 0 get a :class:`LimitUsage`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from accountd.claims.models import AccountLimits
from accountd.monitor.shapes import MalformedEvent, int_field, list_field, obj_field

__all__ = ["WARN_RATIO", "JetStreamUsage", "LimitUsage", "LimitsOf", "compute_limit_usage", "decode_jsz"]

LimitsOf = Callable[[str], AccountLimits | None]
"""An account's limits from its JWT, or ``None`` when they are not known (not stored, not cached)."""

WARN_RATIO = 0.8
"""Accounts above this share of any limit are flagged on the pages."""

# Which limit each usage is measured against, in the order they are listed.
LIMITS = ("conn", "leaf", "subs", "mem_storage", "disk_storage", "streams", "consumer")


@dataclass(frozen=True, slots=True)
class LimitUsage:
    """One account's use of one limit: ``limit`` is the JWT field (``conn``, ``leaf``, ``subs``,
    ``mem_storage``, ``disk_storage``, ``streams``, ``consumer``); ``ratio = used / maximum``."""

    account: str
    name: str
    limit: str
    used: float
    maximum: float
    ratio: float

    def to_dict(self) -> dict[str, Any]:
        return {"account": self.account, "name": self.name, "limit": self.limit, "used": self.used,
                "maximum": self.maximum, "ratio": self.ratio}  # fmt: skip


@dataclass(frozen=True, slots=True)
class JetStreamUsage:
    """An account's JetStream use on one server: bytes in memory and on disk, streams, consumers."""

    memory: int = 0
    storage: int = 0
    streams: int = 0
    consumers: int = 0

    def to_dict(self) -> dict[str, int]:
        return {"memory": self.memory, "storage": self.storage, "streams": self.streams, "consumers": self.consumers}


def decode_jsz(data: Mapping[str, Any]) -> dict[str, JetStreamUsage]:
    """The ``data`` of a ``$SYS.REQ.SERVER.PING.JSZ`` reply asked with ``{"accounts": true,
    "streams": true}``: account id → usage. Stream and consumer counts come from ``stream_detail``
    (``account_details`` alone has only bytes, observed on 2.15.1)."""
    out: dict[str, JetStreamUsage] = {}
    for detail in list_field(data, "account_details"):
        if not isinstance(detail, dict):
            raise MalformedEvent("account_details holds a non-object")
        account = detail.get("id") or detail.get("name")
        if not isinstance(account, str) or not account:
            raise MalformedEvent("an account detail has no id")
        streams = list_field(detail, "stream_detail")
        consumers = 0
        for stream in streams:
            if not isinstance(stream, dict):
                raise MalformedEvent("stream_detail holds a non-object")
            consumers += int_field(obj_field(stream, "state"), "consumer_count")
        out[account] = JetStreamUsage(memory=int_field(detail, "memory"), storage=int_field(detail, "storage"),
                                      streams=len(streams), consumers=consumers)  # fmt: skip
    return out


def merge_jetstream(per_server: Iterable[tuple[bool, dict[str, JetStreamUsage]]]) -> dict[str, JetStreamUsage]:
    """One usage per account from every server's reply ``(clustered, usage)``.

    A server of a JetStream cluster reports the account's cluster-wide use, so those take the
    largest; servers with JetStream of their own add up.
    """
    out: dict[str, JetStreamUsage] = {}
    for clustered, usage in per_server:
        for account, u in usage.items():
            was = out.get(account)
            if was is None:
                out[account] = u
            elif clustered:
                out[account] = JetStreamUsage(max(was.memory, u.memory), max(was.storage, u.storage),
                                              max(was.streams, u.streams), max(was.consumers, u.consumers))
            else:
                out[account] = JetStreamUsage(was.memory + u.memory, was.storage + u.storage,
                                              was.streams + u.streams, was.consumers + u.consumers)
    return out


def _maxima(limits: AccountLimits) -> dict[str, int]:
    """The finite limits, JetStream's from the flat fields or, when tiered, the sum over the tiers."""
    out = {"conn": limits.conn, "leaf": limits.leaf, "subs": limits.subs}
    js = {k: getattr(limits, k) for k in ("mem_storage", "disk_storage", "streams", "consumer")}
    if limits.tiered_limits and not limits.jetstream_flat().enabled():
        for k in js:
            values = [getattr(t, k) for t in limits.tiered_limits.values()]
            js[k] = -1 if any(v < 0 for v in values) else sum(values)
    out.update(js)
    return {k: v for k, v in out.items() if v > 0}


def compute_limit_usage(
    accounts: Iterable[Mapping[str, Any]], limits_of: LimitsOf, jetstream: Mapping[str, JetStreamUsage]
) -> list[LimitUsage]:
    """:class:`LimitUsage` of every account row (``accounts_view`` rows) with a finite limit, plus the
    accounts only JetStream reports; a failing ``limits_of`` counts as unknown limits."""
    rows = {row["account"]: row for row in accounts}
    for account in jetstream:
        rows.setdefault(account, {"account": account, "name": "", "connections": 0, "leafnodes": 0,
                                  "subscriptions": None})  # fmt: skip
    out: list[LimitUsage] = []
    for account, row in rows.items():
        try:
            limits = limits_of(account)
        except Exception:  # a limits callback must never break monitoring
            limits = None
        if limits is None:
            continue
        js = jetstream.get(account, JetStreamUsage())
        used = {"conn": row["connections"], "leaf": row["leafnodes"], "subs": row["subscriptions"] or 0,
                "mem_storage": js.memory, "disk_storage": js.storage, "streams": js.streams,
                "consumer": js.consumers}  # fmt: skip
        for limit, maximum in _maxima(limits).items():
            value = float(used[limit])
            out.append(LimitUsage(account, row["name"], limit, value, float(maximum), round(value / maximum, 4)))
    out.sort(key=lambda u: (u.account, LIMITS.index(u.limit)))
    return out
