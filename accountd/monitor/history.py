"""The last hour (``--monitor-history`` minutes) of each server's stats and each account's connections,
in bounded memory.

Every series is a ring of at most ``minutes * 60 / step + 1`` samples ``(t, value)``: samples
arrive from STATSZ (every 10–30 s), the monitor's PINGs and CONNS events, so a sample within the
same ``step`` as the last one replaces it instead of adding one. At most ``max_accounts`` accounts
have series; a new one beyond that replaces the account updated longest ago. A server's series go
when the monitor forgets the server.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Iterable
from typing import Any

__all__ = ["ACCOUNT_SERIES", "SERVER_SERIES", "History", "Ring"]

JSON = dict[str, Any]

SERVER_SERIES = ("connections", "subscriptions", "in_msgs", "out_msgs", "in_bytes", "out_bytes", "cpu", "mem",
                 "slow_consumers")  # fmt: skip
"""Per server; ``in_*``/``out_*`` are per second (between two stats samples), the rest as reported."""
ACCOUNT_SERIES = ("connections", "leafnodes")


class Ring:
    """A fixed-size series of ``(t, value)``, one sample per ``step`` seconds at most."""

    __slots__ = ("samples", "step")

    def __init__(self, capacity: int, step: float) -> None:
        self.samples: deque[tuple[float, float]] = deque(maxlen=capacity)
        self.step = step

    def add(self, t: float, value: float) -> None:
        if self.samples and math.floor(self.samples[-1][0] / self.step) == math.floor(t / self.step):
            self.samples[-1] = (t, value)  # the same slot: the newer value wins
        elif not self.samples or t > self.samples[-1][0]:
            self.samples.append((t, value))

    def since(self, t: float) -> list[list[float]]:
        return [[round(at, 3), v] for at, v in self.samples if at >= t]

    def __len__(self) -> int:
        return len(self.samples)


class _Entity:
    __slots__ = ("label", "series", "updated")

    def __init__(self, label: str, names: Iterable[str], capacity: int, step: float) -> None:
        self.label = label
        self.series = {name: Ring(capacity, step) for name in names}
        self.updated = 0.0


class History:
    """Series of servers (by id) and accounts (by public key); ``clock`` returns Unix seconds."""

    def __init__(self, minutes: int = 60, *, step: float = 10.0, max_accounts: int = 1000,
                 clock: Callable[[], float] = time.time) -> None:  # fmt: skip
        if minutes < 1 or step <= 0 or max_accounts < 0:
            raise ValueError("minutes >= 1, step > 0 and max_accounts >= 0, please")
        self.minutes = minutes
        self.step = step
        self.max_accounts = max_accounts
        self.capacity = math.ceil(minutes * 60 / step) + 1
        self.clock = clock
        self.servers: dict[str, _Entity] = {}
        self.accounts: OrderedDict[str, _Entity] = OrderedDict()  # least recently updated first

    # ------------------------------------------------------------------------------------ samples

    def add_server(self, server_id: str, label: str, values: dict[str, float | None], t: float | None = None) -> None:
        """One sample of a server's :data:`SERVER_SERIES` (a ``None`` value is skipped: no rate yet)."""
        t = self.clock() if t is None else t
        entity = self.servers.get(server_id)
        if entity is None:
            entity = self.servers[server_id] = _Entity(label, SERVER_SERIES, self.capacity, self.step)
        entity.label = label
        self._add(entity, values, t)

    def forget_servers(self, keep: Iterable[str]) -> None:
        """Drop the series of servers not in ``keep`` (those the monitor no longer knows)."""
        wanted = set(keep)
        for server_id in [s for s in self.servers if s not in wanted]:
            del self.servers[server_id]

    def add_account(self, account: str, label: str, values: dict[str, float | None], t: float | None = None) -> None:
        """One sample of an account's :data:`ACCOUNT_SERIES`."""
        t = self.clock() if t is None else t
        entity = self.accounts.get(account)
        if entity is None:
            if self.max_accounts == 0:
                return
            while len(self.accounts) >= self.max_accounts:
                self.accounts.popitem(last=False)
            entity = self.accounts[account] = _Entity(label, ACCOUNT_SERIES, self.capacity, self.step)
        else:
            self.accounts.move_to_end(account)
        entity.label = label or entity.label
        self._add(entity, values, t)

    @staticmethod
    def _add(entity: _Entity, values: dict[str, float | None], t: float) -> None:
        entity.updated = t
        for name, value in values.items():
            ring = entity.series.get(name)
            if ring is not None and value is not None:
                ring.add(t, float(value))

    # --------------------------------------------------------------------------------------- view

    def view(self, *, server: str = "", account: str = "", minutes: int | None = None) -> JSON:
        """``{"minutes", "step", "capacity", "servers": {id: {"name", "series": {name: [[t, v], …]}}},
        "accounts": {key: {"name", "series": …}}}``; ``server``/``account`` (id or name, key or name)
        pick one; with only ``server`` no accounts are listed, with only ``account`` no servers."""
        span = self.minutes if minutes is None else max(1, min(minutes, self.minutes))
        since = self.clock() - span * 60

        def pick(entities: dict[str, _Entity], wanted: str) -> JSON:
            return {key: {"name": e.label, "series": {n: r.since(since) for n, r in e.series.items()}}
                    for key, e in entities.items() if not wanted or wanted in (key, e.label)}  # fmt: skip

        return {
            "minutes": span,
            "step": self.step,
            "capacity": self.capacity,
            "servers": pick(self.servers, server) if server or not account else {},
            "accounts": pick(self.accounts, account) if account or not server else {},
        }
