"""Live state built from ``$SYS`` events: servers, account connections, recent events, auth errors.

Pure and synchronous: :meth:`MonitorState.apply` takes a decoded event, the ``*_view`` methods
return JSON-ready dicts (what ``/-/monitor/*``, the CLI and the status page show).

Connection counts come from CONNS events and account STATZ replies, which carry each server's
absolute count for an account; CONNECT/DISCONNECT only feed the event ring and the counters
(adding ±1 as well would double count: CONNS is published just *before* CONNECT, observed on 2.15.1).
Every message a server sends carries ``server.seq``, one counter for all its internal messages
(observed on 2.9.10 and 2.15.1), so an older snapshot never overwrites a newer count.

Accounts are known only from events and STATZ replies (which list accounts with connections, not
every account a server could load), never from a list of stored accounts; names come from the
``account_name`` callback one row at a time. An account without connections and without events
for ``forget_after`` seconds is forgotten, so the state holds the accounts in use, not all of them.
"""

from __future__ import annotations

import time
from collections import Counter, deque
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

from accountd.monitor.events import (
    AccountConnsEvent,
    AccountStatzEvent,
    AuthErrorEvent,
    ConnectEvent,
    DisconnectEvent,
    Event,
    LeafnodeConnectEvent,
    ShutdownEvent,
    StatszEvent,
)
from accountd.monitor.records import AccountRecord, ServerRecord
from accountd.monitor.shapes import AccountConns, ServerInfo

__all__ = ["AccountNamer", "AccountRecord", "MonitorState", "ServerRecord"]

JSON = dict[str, Any]
AccountNamer = Callable[[str], str | None]

# Not real accounts: "$G" holds clients while they authenticate (2.9.10 even sends CONNS for it and
# never the 0 afterwards, observed), and an auth failure also sends DISCONNECT on $SYS.ACCOUNT.$G
# (observed on 2.9.10 and 2.15.1); "N/A" and "" appear on auth errors.
PSEUDO_ACCOUNTS = frozenset({"", "$G", "N/A"})


class MonitorState:
    """Everything the monitor knows. ``clock`` returns Unix seconds (tests pass a fake one)."""

    def __init__(
        self,
        *,
        account_name: AccountNamer | None = None,
        recent: int = 200,
        stale_after: float = 30.0,
        gone_after: float = 90.0,
        forget_after: float = 3600.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.account_name = account_name
        self.stale_after = stale_after
        self.gone_after = gone_after
        self.forget_after = forget_after
        self.clock = clock
        self.started = clock()
        self.servers: dict[str, ServerRecord] = {}
        self.accounts: dict[str, AccountRecord] = {}
        self.recent: deque[ConnectEvent] = deque(maxlen=recent)
        self.auth_errors: deque[AuthErrorEvent] = deque(maxlen=recent)
        self.auth_errors_by_server: Counter[str] = Counter()
        self.received: Counter[str] = Counter()
        self.malformed: Counter[str] = Counter()
        self.leafnode_connects = 0
        self.ignored = 0
        self._swept = self.started

    # ------------------------------------------------------------------------------------- updates

    def note_malformed(self, kind: str) -> None:
        self.malformed[kind or "unknown"] += 1

    @staticmethod
    def ignores(event: Event) -> bool:
        """Client and CONNS events of pseudo-accounts: not real clients, or already an auth error."""
        kinds = (AccountConnsEvent, ConnectEvent)
        return isinstance(event, kinds) and not isinstance(event, AuthErrorEvent) and event.account in PSEUDO_ACCOUNTS

    def apply(self, event: Event) -> bool:
        """Fold one decoded event into the state; False if it was ignored (see :meth:`ignores`)."""
        if self.ignores(event):
            self.ignored += 1
            return False
        now = self.clock()
        self.received[event.kind] += 1
        self._forget(now)
        if isinstance(event, ShutdownEvent):
            record = self.servers.get(event.server.id)
            if record is not None:
                record.shutdown = True
            return True
        self._see_server(event.server, now)
        if isinstance(event, StatszEvent):
            record = self.servers[event.server.id]
            if event.server.seq and event.server.seq < record.stats_seq:
                return True  # a PING reply that was overtaken by a STATSZ
            if record.stats is not None:
                record.previous = (record.stats_at, record.stats)
            record.stats, record.stats_at, record.stats_seq = event.stats, now, event.server.seq
        elif isinstance(event, AuthErrorEvent):
            self.auth_errors.append(event)
            self.auth_errors_by_server[event.server.label] += 1
        elif isinstance(event, ConnectEvent):  # and DisconnectEvent
            self._client_event(event, now)
        elif isinstance(event, AccountConnsEvent):
            self._set_conns(event.server, event.conns, now)
        elif isinstance(event, AccountStatzEvent):
            # A full snapshot of this server: accounts it no longer lists have no clients there.
            listed = {a.account for a in event.accounts}
            for acc in self.accounts.values():
                if acc.account not in listed and acc.seq.get(event.server.id, 0) <= event.server.seq:
                    acc.by_server.pop(event.server.id, None)
            for conns in event.accounts:
                self._set_conns(event.server, conns, now)
        elif isinstance(event, LeafnodeConnectEvent):
            self.leafnode_connects += 1
        return True

    def _see_server(self, info: ServerInfo, now: float) -> None:
        record = self.servers.get(info.id)
        if record is None:
            # A restarted server comes back with a new id under the same name: drop the old one.
            if info.name:
                for old_id, old in list(self.servers.items()):
                    if old.info.name == info.name:
                        self._drop_server(old_id)
            self.servers[info.id] = ServerRecord(info=info, first_seen=now, last_seen=now)
        else:
            record.info, record.last_seen, record.shutdown = info, now, False

    def _drop_server(self, server_id: str) -> None:
        self.servers.pop(server_id, None)
        for record in self.accounts.values():
            record.by_server.pop(server_id, None)
            record.seq.pop(server_id, None)

    def _forget(self, now: float) -> None:
        for server_id, record in list(self.servers.items()):
            if now - record.last_seen > self.forget_after:
                self._drop_server(server_id)
        if now - self._swept >= min(60.0, self.forget_after / 10):  # a sweep is O(accounts): not per event
            self._swept = now
            live = self._live_servers(now)
            idle = [a for a, r in self.accounts.items()
                    if now - r.last_seen > self.forget_after and not r.by_server.keys() & live]  # fmt: skip
            for account in idle:
                del self.accounts[account]

    def _account(self, account: str, now: float) -> AccountRecord:
        record = self.accounts.get(account)
        if record is None:
            record = self.accounts[account] = AccountRecord(account)
        record.last_seen = now
        return record

    def _set_conns(self, server: ServerInfo, conns: AccountConns, now: float) -> None:
        if conns.account in PSEUDO_ACCOUNTS:  # account STATZ lists $G too
            return
        record = self._account(conns.account, now)
        server_id = server.id
        if server.seq and server.seq < record.seq.get(server_id, 0):
            return  # older than the count we have
        record.seq[server_id] = server.seq
        if conns.name:
            record.reported_name = conns.name
        if conns.total_conns or conns.conns or conns.leafnodes:
            record.by_server[server_id] = conns
        else:
            record.by_server.pop(server_id, None)

    def _client_event(self, event: ConnectEvent, now: float) -> None:
        record = self._account(event.account, now)
        record.last_event = now
        if isinstance(event, DisconnectEvent):
            record.disconnects += 1
            record.reasons[event.reason or "unknown"] += 1
        else:
            record.connects += 1
        self.recent.append(event)

    # --------------------------------------------------------------------------------------- views

    def status(self, record: ServerRecord, now: float | None = None) -> str:
        """``up``, ``stale`` (not heard from for ``stale_after``) or ``gone`` (shut down, or silent)."""
        age = (self.clock() if now is None else now) - record.last_seen
        if record.shutdown or age > self.gone_after:
            return "gone"
        return "stale" if age > self.stale_after else "up"

    def name_of(self, account: str) -> str:
        """The account's name: accountd's own first, else what the server reported (2.11+)."""
        if self.account_name is not None:
            try:
                known = self.account_name(account)
            except Exception:  # a naming callback must never break monitoring
                known = None
            if known:
                return known
        record = self.accounts.get(account)
        return record.reported_name if record else ""

    def _live_servers(self, now: float) -> set[str]:
        return {sid for sid, rec in self.servers.items() if self.status(rec, now) != "gone"}

    def servers_view(self) -> list[JSON]:
        now = self.clock()
        rows = [self._server_row(rec, now) for rec in self.servers.values()]
        rows.sort(key=lambda r: (r["cluster"], r["name"], r["id"]))
        return rows

    def _server_row(self, rec: ServerRecord, now: float) -> JSON:
        info, s = rec.info, rec.stats
        return {
            "id": info.id,
            "name": info.label,
            "host": info.host,
            "version": info.version,
            "cluster": info.cluster,
            "domain": info.domain,
            "jetstream": info.jetstream,
            "status": self.status(rec, now),
            "last_seen": _iso(rec.last_seen),
            "age_seconds": round(now - rec.last_seen, 1),
            "start": s.to_dict()["start"] if s else None,
            "connections": s.connections if s else None,
            "total_connections": s.total_connections if s else None,
            "subscriptions": s.subscriptions if s else None,
            "active_accounts": s.active_accounts if s else None,
            "cpu": s.cpu if s else None,
            "mem": s.mem if s else None,
            "cores": s.cores if s else None,
            "in_msgs": s.received.msgs if s else None,
            "in_bytes": s.received.bytes if s else None,
            "out_msgs": s.sent.msgs if s else None,
            "out_bytes": s.sent.bytes if s else None,
            "slow_consumers": s.slow_consumers if s else None,
            "routes": s.routes if s else None,
            "rates": rec.rates(),
        }

    def accounts_view(self) -> list[JSON]:
        live = self._live_servers(self.clock())
        rows = [self._account_row(rec, live) for rec in self.accounts.values()]
        rows.sort(key=lambda r: (-r["connections"], r["name"] or "~", r["account"]))
        return rows

    def account_view(self, account: str) -> JSON:
        """One account's row of :meth:`accounts_view`; zeros for an account not seen (no clients)."""
        return self._account_row(self.accounts.get(account) or AccountRecord(account), self._live_servers(self.clock()))

    def _account_row(self, rec: AccountRecord, live: set[str]) -> JSON:
        here = {sid: c for sid, c in rec.by_server.items() if sid in live}
        subs = [c.num_subscriptions for c in here.values() if c.num_subscriptions is not None]
        return {
            "account": rec.account,
            "name": self.name_of(rec.account),
            "connections": sum(c.conns for c in here.values()),
            "leafnodes": sum(c.leafnodes for c in here.values()),
            "subscriptions": sum(subs) if subs else None,
            "servers": {self.servers[sid].info.label: c.conns + c.leafnodes for sid, c in here.items()},
            "connects": rec.connects,
            "disconnects": rec.disconnects,
            "disconnect_reasons": dict(rec.reasons),
            "last_event": _iso(rec.last_event),
        }

    def totals(self) -> JSON:
        accounts = self.accounts_view()
        statuses = Counter(self.status(rec) for rec in self.servers.values())
        return {
            "servers": len(self.servers),
            "servers_up": statuses["up"],
            "servers_stale": statuses["stale"],
            "servers_gone": statuses["gone"],
            "accounts": sum(1 for a in accounts if a["connections"] or a["leafnodes"]),
            "connections": sum(a["connections"] for a in accounts),
            "leafnodes": sum(a["leafnodes"] for a in accounts),
            "connects": sum(a["connects"] for a in accounts),
            "disconnects": sum(a["disconnects"] for a in accounts),
            "auth_errors": sum(self.auth_errors_by_server.values()),
            "events": sum(self.received.values()),
            "malformed": sum(self.malformed.values()),
        }

    def row(self, event: Event) -> JSON:
        """One event as ``/-/monitor/*``, the status page and ``accountd events --json`` show it.

        Keys common to every kind: ``kind, time, server, server_id, account, account_name``.
        """
        row: JSON = {
            "kind": event.kind,
            "time": _iso(event.time),
            "server": event.server.label,
            "server_id": event.server.id,
            "account": event.account,
        }
        if isinstance(event, ConnectEvent):  # and its subclasses
            c = event.client
            claimed = c.claimed()
            row["client"] = {
                "id": c.id, "name": c.name, "host": c.host, "lang": c.lang, "version": c.version,
                "kind": c.kind, "type": c.client_type,
            }  # fmt: skip
            row["user"] = c.user or claimed.get("user", "")
            row["user_name"] = claimed.get("name", "")
            if isinstance(event, AuthErrorEvent):
                # The account is not known yet ($G): show what the presented JWT claims instead.
                row["account"] = claimed.get("issuer_account") or claimed.get("issuer", "")
                row["claimed"] = claimed
            if isinstance(event, DisconnectEvent):
                row["reason"] = event.reason
                row["rtt_ms"] = round(c.rtt_ns / 1e6, 3) if c.rtt_ns else None
        elif isinstance(event, AccountConnsEvent):
            row.update(conns=event.conns.conns, leafnodes=event.conns.leafnodes, total_conns=event.conns.total_conns)
        elif isinstance(event, StatszEvent):
            row["stats"] = event.stats.to_dict()
        elif isinstance(event, AccountStatzEvent):
            row["accounts"] = [a.to_dict() for a in event.accounts]
        row["account_name"] = self.name_of(row["account"]) if row["account"] else ""
        return row

    def events_view(self, limit: int = 100, accounts: Iterable[str] = (), kinds: Iterable[str] = ()) -> list[JSON]:
        """Recent connects and disconnects, newest first, optionally filtered by account key or name."""
        wanted = set(accounts)
        wanted_kinds = set(kinds)
        rows = []
        for event in reversed(self.recent):
            if wanted_kinds and event.kind not in wanted_kinds:
                continue
            row = self.row(event)
            if wanted and not wanted & {row["account"], row["account_name"]}:
                continue
            rows.append(row)
            if len(rows) >= limit:
                break
        return rows

    def auth_errors_view(self, limit: int = 100, account: str = "") -> list[JSON]:
        """Newest first; with ``account``, those whose credentials claim that account (key or name)."""
        rows = (self.row(e) for e in reversed(self.auth_errors))
        return [r for r in rows if not account or account in (r["account"], r["account_name"])][:limit]


def _iso(t: datetime | float | None) -> str | None:
    if t is None:
        return None
    if isinstance(t, float | int):
        t = datetime.fromtimestamp(t, UTC)
    return t.isoformat().replace("+00:00", "Z")
