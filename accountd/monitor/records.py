"""What the monitor keeps per server and per account (:class:`~accountd.monitor.state.MonitorState` owns them)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from accountd.monitor.shapes import AccountConns, ServerInfo, ServerStats

__all__ = ["AccountRecord", "ServerRecord"]

JSON = dict[str, Any]


@dataclass
class ServerRecord:
    info: ServerInfo
    first_seen: float
    last_seen: float
    stats: ServerStats | None = None
    stats_at: float = 0.0
    stats_seq: int = 0
    previous: tuple[float, ServerStats] | None = None  # for rates
    shutdown: bool = False

    def rates(self) -> JSON:
        """Messages and bytes per second between the last two stats samples."""
        if self.stats is None or self.previous is None:
            return {"in_msgs": None, "out_msgs": None, "in_bytes": None, "out_bytes": None}
        then, old = self.previous
        dt = self.stats_at - then
        if dt <= 0:
            return {"in_msgs": None, "out_msgs": None, "in_bytes": None, "out_bytes": None}
        s = self.stats

        def rate(new: int, was: int) -> float | None:
            return round((new - was) / dt, 2) if new >= was else None  # a restart resets counters

        return {
            "in_msgs": rate(s.received.msgs, old.received.msgs),
            "out_msgs": rate(s.sent.msgs, old.sent.msgs),
            "in_bytes": rate(s.received.bytes, old.received.bytes),
            "out_bytes": rate(s.sent.bytes, old.sent.bytes),
        }


@dataclass
class AccountRecord:
    account: str
    reported_name: str = ""
    by_server: dict[str, AccountConns] = field(default_factory=dict)
    seq: dict[str, int] = field(default_factory=dict)  # server id → seq of the last count applied
    connects: int = 0
    disconnects: int = 0
    reasons: Counter[str] = field(default_factory=Counter)
    last_event: float | None = None
    last_seen: float = 0.0  # the last event or count of this account
