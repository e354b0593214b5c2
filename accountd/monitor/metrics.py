"""Prometheus metrics read from :class:`~accountd.monitor.state.MonitorState` at scrape time.

Series of a server or account disappear when the monitor forgets it. Counters marked *seen*
count events since this process started (Prometheus handles the reset on restart); the
``nats_server_*_total`` counters are the server's own, reset when that server restarts.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from accountd.monitor.state import MonitorState
from accountd.monitor.usage import LimitUsage

__all__ = ["METRICS", "MonitorCollector"]

SERVER_LABELS = ["server", "server_id", "cluster"]
ACCOUNT_LABELS = ["account", "name"]

# name (without a counter's _total) → (type, help); the README lists the same table.
METRICS: dict[str, tuple[str, str]] = {
    "nats_server_info": ("gauge", "Always 1; labels name the server, its cluster and version."),
    "nats_server_up": ("gauge", "1 while the server answers (status up), 0 when stale or gone."),
    "nats_server_last_seen_timestamp_seconds": ("gauge", "When the server was last heard from (Unix time)."),
    "nats_server_connections": ("gauge", "Client connections open on the server."),
    "nats_server_subscriptions": ("gauge", "Subscriptions on the server."),
    "nats_server_active_accounts": ("gauge", "Accounts with activity on the server."),
    "nats_server_routes": ("gauge", "Cluster routes of the server."),
    "nats_server_cpu_percent": ("gauge", "CPU use of the server process (percent of one core)."),
    "nats_server_memory_bytes": ("gauge", "Resident memory of the server process."),
    "nats_server_accepted_connections": ("counter", "Connections the server accepted since it started."),
    "nats_server_received_messages": ("counter", "Messages the server received."),
    "nats_server_received_bytes": ("counter", "Bytes the server received."),
    "nats_server_sent_messages": ("counter", "Messages the server sent."),
    "nats_server_sent_bytes": ("counter", "Bytes the server sent."),
    "nats_server_slow_consumers": ("counter", "Slow consumers the server detected."),
    "nats_account_connections": ("gauge", "Client connections of the account, summed over live servers."),
    "nats_account_leafnodes": ("gauge", "Leafnode connections of the account, summed over live servers."),
    "nats_account_connects": ("counter", "Client connects seen for the account."),
    "nats_account_disconnects": ("counter", "Client disconnects seen for the account, by reason."),
    "nats_account_limit_usage_ratio": ("gauge", "Use of one limit of the account's JWT (conn, leaf, subs, "
                                       "mem_storage, disk_storage, streams, consumer): 1 is at the limit."),
    "nats_auth_errors": ("counter", "Authentication errors seen, by server."),
    "accountd_monitor_servers": ("gauge", "Servers the monitor knows, by status (up, stale, gone)."),
    "accountd_monitor_events": ("counter", "$SYS events and PING replies decoded, by kind."),
    "accountd_monitor_malformed_events": ("counter", "$SYS payloads skipped because they did not decode, by kind."),
}


def _family(name: str, labels: list[str]) -> GaugeMetricFamily | CounterMetricFamily:
    kind, doc = METRICS[name]
    if kind == "counter":
        return CounterMetricFamily(name, doc, labels=labels)
    return GaugeMetricFamily(name, doc, labels=labels)


class MonitorCollector:
    """A custom collector: register it on a ``CollectorRegistry``."""

    def __init__(self, state: MonitorState, limit_usage: Callable[[], list[LimitUsage]] | None = None) -> None:
        self.state = state
        self.limit_usage = limit_usage

    def describe(self) -> list[Metric]:
        return []  # nothing to check up front; series vary with what the monitor has seen

    def collect(self) -> Iterator[Metric]:
        yield from self._servers()
        yield from self._accounts()
        yield from self._monitor()

    def _servers(self) -> Iterator[Metric]:
        state = self.state
        now = state.clock()
        info = _family("nats_server_info", [*SERVER_LABELS, "version"])
        fams = {name: _family(name, SERVER_LABELS) for name in METRICS if name.startswith("nats_server_")}
        fams.pop("nats_server_info")
        for record in state.servers.values():
            labels = [record.info.label, record.info.id, record.info.cluster]
            info.add_metric([*labels, record.info.version], 1)
            fams["nats_server_up"].add_metric(labels, 1 if state.status(record, now) == "up" else 0)
            fams["nats_server_last_seen_timestamp_seconds"].add_metric(labels, record.last_seen)
            s = record.stats
            if s is None:
                continue
            values = {
                "nats_server_connections": s.connections,
                "nats_server_subscriptions": s.subscriptions,
                "nats_server_active_accounts": s.active_accounts,
                "nats_server_routes": s.routes,
                "nats_server_cpu_percent": s.cpu,
                "nats_server_memory_bytes": s.mem,
                "nats_server_accepted_connections": s.total_connections,
                "nats_server_received_messages": s.received.msgs,
                "nats_server_received_bytes": s.received.bytes,
                "nats_server_sent_messages": s.sent.msgs,
                "nats_server_sent_bytes": s.sent.bytes,
                "nats_server_slow_consumers": s.slow_consumers,
            }
            for name, value in values.items():
                fams[name].add_metric(labels, value)
        yield info
        yield from fams.values()

    def _accounts(self) -> Iterator[Metric]:
        conns = _family("nats_account_connections", ACCOUNT_LABELS)
        leafs = _family("nats_account_leafnodes", ACCOUNT_LABELS)
        connects = _family("nats_account_connects", ACCOUNT_LABELS)
        disconnects = _family("nats_account_disconnects", [*ACCOUNT_LABELS, "reason"])
        for row in self.state.accounts_view():
            labels = [row["account"], row["name"]]
            conns.add_metric(labels, row["connections"])
            leafs.add_metric(labels, row["leafnodes"])
            connects.add_metric(labels, row["connects"])
            for reason, n in row["disconnect_reasons"].items():
                disconnects.add_metric([*labels, reason], n)
        ratio = _family("nats_account_limit_usage_ratio", [*ACCOUNT_LABELS, "limit"])
        for u in self.limit_usage() if self.limit_usage is not None else []:
            ratio.add_metric([u.account, u.name, u.limit], u.ratio)
        auth = _family("nats_auth_errors", ["server"])
        for server, n in self.state.auth_errors_by_server.items():
            auth.add_metric([server], n)
        yield from (conns, leafs, connects, disconnects, ratio, auth)

    def _monitor(self) -> Iterator[Metric]:
        state = self.state
        servers = _family("accountd_monitor_servers", ["status"])
        totals = state.totals()
        for status in ("up", "stale", "gone"):
            servers.add_metric([status], totals[f"servers_{status}"])
        events = _family("accountd_monitor_events", ["kind"])
        for kind, n in sorted(state.received.items()):
            events.add_metric([kind], n)
        malformed = _family("accountd_monitor_malformed_events", ["kind"])
        for kind, n in sorted(state.malformed.items()):
            malformed.add_metric([kind], n)
        yield from (servers, events, malformed)
