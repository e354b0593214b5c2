"""Requests many servers answer, and nats-server's reply envelope (SPEC §5.5, §9).

Collecting many replies is :mod:`accountd.bus.replies`, shared with the monitor; it is re-exported here.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Any

from nats.aio.msg import Msg

from accountd.bus.replies import NoResponders, collect_replies

__all__ = ["Envelope", "NoResponders", "collect_replies", "from_all", "parse_envelope"]


@dataclass(frozen=True, slots=True)
class Envelope:
    """``{"server": {...}, "data": ..., "error": {...}}``; key order differs by version, parse by key."""

    server_id: str
    server_name: str
    data: Any
    error: dict[str, Any] | None

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def message(self) -> str:
        """``data.message`` or ``error.description`` (what nats-server says happened)."""
        if self.error is not None:
            return str(self.error.get("description", ""))
        return str(self.data.get("message", "")) if isinstance(self.data, dict) else ""


def parse_envelope(data: bytes) -> Envelope | None:
    """The envelope of a ``$SYS.REQ`` reply, or ``None`` when it is not one."""
    try:
        doc = json.loads(data)
    except ValueError:
        return None
    if not isinstance(doc, dict) or not isinstance(doc.get("server"), dict):
        return None
    server = doc["server"]
    error = doc.get("error")
    return Envelope(
        server_id=str(server.get("id", "")),
        server_name=str(server.get("name", "")),
        data=doc.get("data"),
        error=error if isinstance(error, dict) else None,
    )


def from_all(server_ids: Collection[str]) -> Callable[[list[Msg]], bool]:
    """A ``done`` test for :func:`collect_replies`: true once every one of ``server_ids`` replied.

    Counting replies is not enough: accountd answers some of the same subjects (LIST, DELETE)."""
    waiting = set(server_ids)
    seen = 0

    def done(replies: list[Msg]) -> bool:
        nonlocal seen
        for msg in replies[seen:]:
            env = parse_envelope(msg.data)
            if env is not None:
                waiting.discard(env.server_id)
        seen = len(replies)
        return not waiting

    return done
