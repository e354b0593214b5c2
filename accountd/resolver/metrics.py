"""The resolver's counters and their Prometheus view.

:class:`ResolverStats` is plain data the resolver bumps on its hot paths (no locks, no label
lookups); :class:`ResolverCollector` turns it into metric families at scrape time. Register the
collector on your own ``CollectorRegistry`` (the resolver does so on the one it is given).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

__all__ = ["METRICS", "ResolverCollector", "ResolverStats"]

# name (without a counter's _total) → (type, help)
METRICS: dict[str, tuple[str, str]] = {
    "accountd_resolver_cached_accounts": ("gauge", "Accounts held in the resolver cache."),
    "accountd_resolver_cache_hits": ("counter", "get() answered from the cache."),
    "accountd_resolver_cache_misses": ("counter", "get() that had to fetch."),
    "accountd_resolver_fetches": ("counter", "Fetches from the account server, by source and outcome."),
    "accountd_resolver_updates_received": ("counter", "Claim updates received on $SYS.*.CLAIMS.UPDATE."),
    "accountd_resolver_updates_applied": ("counter", "Claim updates validated and applied to the cache."),
    "accountd_resolver_updates_rejected": ("counter", "Claim updates refused, by reason."),
    "accountd_resolver_updates_skipped": ("counter", "Claim updates ignored: account not held, or unchanged."),
    "accountd_resolver_evictions": ("counter", "Accounts removed from the cache, by reason."),
    "accountd_resolver_revalidations": ("counter", "Cached accounts re-checked with the account server, by outcome."),
    "accountd_resolver_callback_errors": ("counter", "Update or eviction callbacks that raised."),
    "accountd_resolver_nats_connected": ("gauge", "1 while the update subscription is live."),
}


@dataclass
class ResolverStats:
    hits: int = 0
    misses: int = 0
    updates_received: int = 0
    updates_applied: int = 0
    callback_errors: int = 0
    fetches: Counter[tuple[str, str]] = field(default_factory=Counter)
    """(source, outcome) → count; outcome ``ok``, ``not_modified``, ``not_found``, ``invalid``, ``failed``."""
    updates_rejected: Counter[str] = field(default_factory=Counter)
    updates_skipped: Counter[str] = field(default_factory=Counter)
    evictions: Counter[str] = field(default_factory=Counter)
    revalidations: Counter[str] = field(default_factory=Counter)

    def fetch_count(self, source: str | None = None) -> int:
        """Fetches that reached the account server (any outcome), optionally of one source."""
        return sum(n for (src, _), n in self.fetches.items() if source is None or src == source)

    def to_dict(self) -> dict[str, Any]:
        return {
            "hits": self.hits,
            "misses": self.misses,
            "fetches": {f"{src}:{outcome}": n for (src, outcome), n in sorted(self.fetches.items())},
            "updates_received": self.updates_received,
            "updates_applied": self.updates_applied,
            "updates_rejected": dict(sorted(self.updates_rejected.items())),
            "updates_skipped": dict(sorted(self.updates_skipped.items())),
            "evictions": dict(sorted(self.evictions.items())),
            "revalidations": dict(sorted(self.revalidations.items())),
            "callback_errors": self.callback_errors,
        }


def _family(name: str, labels: list[str] | None = None) -> GaugeMetricFamily | CounterMetricFamily:
    kind, doc = METRICS[name]
    if kind == "counter":
        return CounterMetricFamily(name, doc, labels=labels or [])
    return GaugeMetricFamily(name, doc, labels=labels or [])


class ResolverCollector:
    """Reads :class:`ResolverStats` (and two live gauges) when Prometheus scrapes."""

    def __init__(self, stats: ResolverStats, cached: Callable[[], int], connected: Callable[[], bool]) -> None:
        self.stats = stats
        self.cached = cached
        self.connected = connected

    def describe(self) -> list[Metric]:
        return []

    def collect(self) -> Iterator[Metric]:
        s = self.stats
        gauge = _family("accountd_resolver_cached_accounts")
        gauge.add_metric([], self.cached())
        connected = _family("accountd_resolver_nats_connected")
        connected.add_metric([], 1 if self.connected() else 0)
        yield from (gauge, connected)
        for name, value in (
            ("accountd_resolver_cache_hits", s.hits),
            ("accountd_resolver_cache_misses", s.misses),
            ("accountd_resolver_updates_received", s.updates_received),
            ("accountd_resolver_updates_applied", s.updates_applied),
            ("accountd_resolver_callback_errors", s.callback_errors),
        ):
            fam = _family(name)
            fam.add_metric([], value)
            yield fam
        fetches = _family("accountd_resolver_fetches", ["source", "outcome"])
        for (source, outcome), n in sorted(s.fetches.items()):
            fetches.add_metric([source, outcome], n)
        yield fetches
        for name, counter in (
            ("accountd_resolver_updates_rejected", s.updates_rejected),
            ("accountd_resolver_updates_skipped", s.updates_skipped),
            ("accountd_resolver_evictions", s.evictions),
        ):
            fam = _family(name, ["reason"])
            for reason, n in sorted(counter.items()):
                fam.add_metric([reason], n)
            yield fam
        reval = _family("accountd_resolver_revalidations", ["outcome"])
        for outcome, n in sorted(s.revalidations.items()):
            reval.add_metric([outcome], n)
        yield reval
