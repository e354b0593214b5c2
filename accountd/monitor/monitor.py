"""The NATS side of the monitor: ``$SYS`` subscriptions and periodic PING discovery.

The nats-py connection belongs to the caller (a system-account user); :class:`Monitor` only
subscribes on it and unsubscribes again in :meth:`Monitor.stop`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable
from functools import partial
from typing import Any

from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from prometheus_client import CollectorRegistry

from accountd import tasks
from accountd.bus.replies import NoResponders
from accountd.bus.replies import collect_replies as bus_collect_replies
from accountd.monitor.drill import account_connections, server_detail
from accountd.monitor.events import (
    AccountConnsEvent,
    AccountStatzEvent,
    Event,
    MalformedEvent,
    StatszEvent,
    decode,
    decode_account_statz,
    decode_statsz,
    kind_of_subject,
)
from accountd.monitor.history import History
from accountd.monitor.metrics import MonitorCollector
from accountd.monitor.state import PSEUDO_ACCOUNTS, AccountNamer, MonitorState
from accountd.monitor.usage import (
    JetStreamUsage,
    LimitsOf,
    LimitUsage,
    compute_limit_usage,
    decode_jsz,
    merge_jetstream,
)
from accountd.natsclient import flushed

__all__ = ["EVENT_SUBJECTS", "Monitor", "collect_replies", "ping_servers"]

log = logging.getLogger("accountd.monitor")

EVENT_SUBJECTS = (
    "$SYS.ACCOUNT.*.CONNECT",
    "$SYS.ACCOUNT.*.DISCONNECT",
    # Every CONNS goes out twice, here and on $SYS.ACCOUNT.<acc>.SERVER.CONNS, with the same event id
    # (observed on 2.9.10 and 2.15.1): subscribe to the legacy subject only.
    "$SYS.SERVER.ACCOUNT.*.CONNS",
    "$SYS.SERVER.*.CLIENT.AUTH.ERR",
    "$SYS.ACCOUNT.*.LEAFNODE.CONNECT",
    "$SYS.SERVER.*.STATSZ",
    "$SYS.SERVER.*.SHUTDOWN",
)
SERVER_PING = "$SYS.REQ.SERVER.PING"
ACCOUNT_PING = "$SYS.REQ.ACCOUNT.PING.STATZ"
JSZ_PING = "$SYS.REQ.SERVER.PING.JSZ"
JSZ_OPTIONS = b'{"accounts": true, "streams": true}'

Listener = Callable[[Event], None]


async def collect_replies(
    nc: Client, subject: str, payload: bytes = b"", *, quiet: float = 0.25, timeout: float = 2.0
) -> list[Msg]:
    """Replies of every server to one request, until ``quiet`` seconds pass without one.

    No reply at all when the caller is not a system-account user (nats-server answers "no
    responders" at once).
    """
    try:
        return await bus_collect_replies(nc, subject, payload, quiet=quiet, timeout=timeout)
    except NoResponders:
        return []


async def ping_servers(nc: Client, *, quiet: float = 0.25, timeout: float = 2.0) -> tuple[list[StatszEvent], int]:
    """Ask every server for its stats: ``(replies, how many replies were malformed)``."""
    events, bad = [], 0
    for msg in await collect_replies(nc, SERVER_PING, quiet=quiet, timeout=timeout):
        try:
            events.append(decode_statsz(msg.subject, msg.data))
        except MalformedEvent:
            bad += 1
    return events, bad


class Monitor:
    """Subscribes to the ``$SYS`` events on ``nc`` and keeps :attr:`state` current.

    ``nc`` may also be given later, to :meth:`start` (the state and its views work meanwhile).

    ``ping_interval`` seconds apart (``None``: only once, at start) it asks every server for its
    stats and account connections. Server status ages out: ``stale`` after ``stale_after`` seconds
    of silence (default 2.5 intervals), ``gone`` after ``gone_after`` (default 6 intervals).
    Metrics are collected into :attr:`registry`; pass your own ``registry`` to share one.
    ``account_limits`` gives an account's limits from its JWT, for :meth:`limit_usage`.
    :attr:`history` keeps ``history_minutes`` of each server's stats and the connections of at most
    ``history_accounts`` accounts, one sample per ping interval.
    """

    def __init__(
        self,
        nc: Client | None = None,
        *,
        account_name: AccountNamer | None = None,
        account_limits: LimitsOf | None = None,
        ping_interval: float | None = 10.0,
        quiet: float = 0.25,
        ping_timeout: float = 2.0,
        recent: int = 200,
        stale_after: float | None = None,
        gone_after: float | None = None,
        forget_after: float = 3600.0,
        registry: CollectorRegistry | None = None,
        history_minutes: int = 60,
        history_accounts: int = 1000,
    ) -> None:
        self.nc = nc
        self.ping_interval = ping_interval
        self.quiet = quiet
        self.ping_timeout = ping_timeout
        base = ping_interval or 10.0
        self.state = MonitorState(
            account_name=account_name,
            recent=recent,
            stale_after=stale_after if stale_after is not None else 2.5 * base,
            gone_after=gone_after if gone_after is not None else 6 * base,
            forget_after=forget_after,
        )
        self.account_limits = account_limits
        self.history = History(history_minutes, step=base, max_accounts=history_accounts, clock=self.state.clock)
        self.jetstream: dict[str, JetStreamUsage] = {}  # account → use, from the last JSZ round
        self.registry = registry if registry is not None else CollectorRegistry()
        self.registry.register(MonitorCollector(self.state, self.limit_usage))
        self.pings = 0
        self._subs: list[Subscription] = []
        self._task: asyncio.Task[None] | None = None
        self._listeners: list[Listener] = []
        self._changed = asyncio.Condition()

    # ------------------------------------------------------------------------------------ lifecycle

    async def start(self, nc: Client | None = None) -> None:
        """Subscribe, then run the first discovery round in the background.

        nats-py re-subscribes by itself after a reconnect, so this runs once per connection.
        """
        if self.running:
            return
        if nc is not None:
            self.nc = nc
        if self.nc is None:
            raise RuntimeError("Monitor.start() needs a NATS connection")
        for subject in EVENT_SUBJECTS:
            self._subs.append(await self.nc.subscribe(subject, cb=self._on_event))
        await flushed(self.nc)
        self._task = asyncio.create_task(self._ping_loop(), name="monitor-ping")

    async def stop(self) -> None:
        """Unsubscribe and stop pinging; the connection stays open (it is the caller's)."""
        if self._task is not None:
            await tasks.stop(self._task)
            self._task = None
        for sub in self._subs:
            with contextlib.suppress(Exception):
                await sub.unsubscribe()
        self._subs.clear()

    @property
    def running(self) -> bool:
        """Subscribed (between :meth:`start` and :meth:`stop`)."""
        return bool(self._subs)

    async def __aenter__(self) -> Monitor:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # ------------------------------------------------------------------------------------ listeners

    def add_listener(self, listener: Listener) -> Callable[[], None]:
        """Call ``listener(event)`` for every event the state did not ignore; returns a remover."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    async def wait_until(self, predicate: Callable[[MonitorState], bool], timeout: float = 10.0) -> None:
        """Return once ``predicate(state)`` holds, checking after every event; TimeoutError if not."""
        async with self._changed:
            await asyncio.wait_for(self._changed.wait_for(lambda: predicate(self.state)), timeout)

    # ------------------------------------------------------------------------------------ discovery

    async def refresh(self) -> None:
        """One discovery round now: every server's stats and account connections."""
        if self.nc is None:
            raise RuntimeError("Monitor.refresh() needs a NATS connection")
        self.pings += 1
        servers, accounts, jsz = await asyncio.gather(
            collect_replies(self.nc, SERVER_PING, quiet=self.quiet, timeout=self.ping_timeout),
            collect_replies(self.nc, ACCOUNT_PING, quiet=self.quiet, timeout=self.ping_timeout),
            collect_replies(self.nc, JSZ_PING, JSZ_OPTIONS, quiet=self.quiet, timeout=self.ping_timeout),
        )
        for msg in servers:
            await self._handle("stats", partial(decode_statsz, msg.subject, msg.data))
        for msg in accounts:
            await self._handle("account_statz", partial(decode_account_statz, msg.subject, msg.data))
        self._fold_jetstream(jsz)

    def _fold_jetstream(self, replies: list[Msg]) -> None:
        per_server = []
        for msg in replies:
            try:
                doc = json.loads(msg.data)
                data = doc.get("data") if isinstance(doc, dict) else None
                if not isinstance(data, dict):
                    raise MalformedEvent("no data object")
                per_server.append((isinstance(data.get("meta_cluster"), dict), decode_jsz(data)))
            except (ValueError, MalformedEvent):  # JSON errors are ValueErrors too
                self.state.note_malformed("jsz")
        self.jetstream = merge_jetstream(per_server)

    # ------------------------------------------------------------------------------------ drill-down

    async def _collect(self, subject: str, payload: bytes) -> list[Msg]:
        if self.nc is None or not self.nc.is_connected:
            return []
        return await collect_replies(self.nc, subject, payload, quiet=self.quiet, timeout=self.ping_timeout)

    async def account_connections(self, account: str) -> dict[str, Any]:
        """The live connections of ``account`` on every server (``$SYS.REQ.ACCOUNT.<acc>.CONNZ``)."""
        return await account_connections(self._collect, account, self.state.malformed)

    async def server_detail(self, server_id: str) -> dict[str, Any]:
        """One server's stats, routes, gateways, leafnodes, JetStream and health, with its status."""
        doc = await server_detail(self._collect, server_id, self.state.malformed)
        record = self.state.servers.get(server_id)
        doc["status"] = self.state.status(record) if record else None
        doc["row"] = next((r for r in self.state.servers_view() if r["id"] == server_id), None)
        return doc

    # ---------------------------------------------------------------------------------------- usage

    def limit_usage(self) -> list[LimitUsage]:
        """Every tracked account's use of each of its finite limits (> 0), by account then limit.

        Empty without ``account_limits``; JetStream use is that of the last discovery round.
        """
        if self.account_limits is None:
            return []
        return compute_limit_usage(self.state.accounts_view(), self.account_limits, self.jetstream)

    async def _ping_loop(self) -> None:
        while True:
            if self.nc is not None and self.nc.is_connected:
                try:
                    await self.refresh()
                except Exception as exc:  # a failed round must not end the loop
                    log.warning("server discovery failed: %s", exc)
            if self.ping_interval is None:
                return
            await asyncio.sleep(self.ping_interval)

    # ------------------------------------------------------------------------------------- handling

    async def _on_event(self, msg: Msg) -> None:
        kind, _ = kind_of_subject(msg.subject)
        await self._handle(kind, partial(decode, msg.subject, msg.data))

    async def _handle(self, kind: str, decoder: Callable[[], Event]) -> None:
        try:
            event = decoder()
        except MalformedEvent as exc:
            self.state.note_malformed(kind)
            log.debug("skipped a malformed %s event: %s", kind or "unknown", exc)
        else:
            try:
                relevant = self.state.apply(event)
            except Exception:  # a bug here must not end the subscription
                log.exception("could not apply a %s event", kind)
                relevant = True
            if relevant:
                self._sample(event)
                self._notify(event)
        async with self._changed:
            self._changed.notify_all()

    def _sample(self, event: Event) -> None:
        """Add what ``event`` changed to :attr:`history`."""
        try:
            if isinstance(event, StatszEvent):
                record = self.state.servers.get(event.server.id)
                if record is None or record.stats is None:
                    return
                s, r = record.stats, record.rates()
                values = {"connections": s.connections, "subscriptions": s.subscriptions, "cpu": s.cpu, "mem": s.mem,
                          "slow_consumers": s.slow_consumers, **r}  # fmt: skip
                self.history.add_server(record.info.id, record.info.label, values, record.stats_at)
                self.history.forget_servers(self.state.servers)
            elif isinstance(event, AccountConnsEvent | AccountStatzEvent):
                accounts = [event.conns.account] if isinstance(event, AccountConnsEvent) else [
                    *{a.account for a in event.accounts}, *self.history.accounts]
                for account in dict.fromkeys(accounts):
                    if account not in PSEUDO_ACCOUNTS:
                        row = self.state.account_view(account)
                        self.history.add_account(account, row["name"], {"connections": row["connections"],
                                                                        "leafnodes": row["leafnodes"]})  # fmt: skip
        except Exception:  # history is a view: it must not break the monitor
            log.exception("could not sample a %s event", event.kind)

    def _notify(self, event: Event) -> None:
        for listener in list(self._listeners):
            try:
                listener(event)
            except Exception:
                log.exception("a monitor listener failed")
