"""accountd's own Prometheus metrics: HTTP, store, outbox, responder.

One collector reads the counters the components already keep, at scrape time, so the hot paths
pay for nothing but a dict increment (HTTP requests, counted by the one middleware).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, InfoMetricFamily
from prometheus_client.registry import Collector

from accountd import __version__

__all__ = ["AccountdCollector", "RequestCounts"]

RequestCounts = Counter[tuple[str, int]]
"""(method, status) → requests answered."""


class AccountdCollector(Collector):
    def __init__(
        self,
        requests: RequestCounts,
        store_stats: Callable[[], dict[str, Any]],
        service_stats: Callable[[], dict[str, Any]],
        outbox_stats: Callable[[], dict[str, Any]],
        responder_stats: Callable[[], dict[str, int]],
    ) -> None:
        self.requests = requests
        self.store_stats = store_stats
        self.service_stats = service_stats
        self.outbox_stats = outbox_stats
        self.responder_stats = responder_stats

    def collect(self) -> Iterator[Any]:
        info = InfoMetricFamily("accountd", "accountd build information")
        info.add_metric([], {"version": __version__})
        yield info

        http = CounterMetricFamily("accountd_http_requests", "HTTP requests answered", labels=["method", "status"])
        for (method, status), n in sorted(self.requests.items()):
            http.add_metric([method, str(status)], n)
        yield http

        store = self.store_stats()
        name = str(store.get("name", ""))
        for key, help_text in (("records", "live accounts in the store"), ("tombstones", "deleted accounts kept"),
                               ("pending", "changes not yet published")):
            if isinstance(store.get(key), int):
                gauge = GaugeMetricFamily(f"accountd_store_{key}", help_text, labels=["store"])
                gauge.add_metric([name], store[key])
                yield gauge
        for key in ("writes", "batches", "fsyncs"):
            if isinstance(store.get(key), int):
                counter = CounterMetricFamily(f"accountd_store_{key}", f"store {key}", labels=["store"])
                counter.add_metric([name], store[key])
                yield counter

        service = self.service_stats()
        writes = CounterMetricFamily("accountd_account_writes", "account write requests by outcome",
                                     labels=["outcome"])
        for outcome in ("puts", "unchanged", "stale", "rejected", "deletes"):
            writes.add_metric([outcome], service.get(outcome, 0))
        yield writes

        yield CounterMetricFamily("accountd_cache_hits", "GETs served from the cache of hot accounts",
                                  value=service.get("cache_hits", 0))
        yield CounterMetricFamily("accountd_cache_misses", "reads that went to the store",
                                  value=service.get("cache_misses", 0))
        yield CounterMetricFamily("accountd_cache_evictions", "accounts evicted from the cache",
                                  value=service.get("cache_evictions", 0))
        yield GaugeMetricFamily("accountd_cache_entries", "accounts in the cache",
                                value=service.get("cache_entries", 0))
        yield GaugeMetricFamily("accountd_cache_bytes", "bytes the cache holds (JWTs and their overhead)",
                                value=service.get("cache_bytes", 0))

        outbox = self.outbox_stats()
        yield GaugeMetricFamily("accountd_outbox_depth", "claim updates waiting to be published",
                                value=outbox.get("outbox_depth", 0))
        yield CounterMetricFamily("accountd_claim_updates_published", "claim updates published on NATS",
                                  value=outbox.get("published", 0))
        yield CounterMetricFamily("accountd_publish_failures", "failed attempts to publish the outbox",
                                  value=outbox.get("publish_failures", 0))
        yield GaugeMetricFamily("accountd_nats_connected", "1 while connected to NATS",
                                value=1 if outbox.get("connected") else 0)

        responder = CounterMetricFamily("accountd_sys_requests", "$SYS.REQ claims requests answered",
                                        labels=["kind"])
        for kind, n in sorted(self.responder_stats().items()):
            responder.add_metric([kind], n)
        yield responder
