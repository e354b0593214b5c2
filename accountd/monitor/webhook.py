"""``--alert-webhook URL``: every alert start and clear POSTed as JSON, in order, in the background.

:meth:`Webhook.send` only queues (a bounded queue: when it is full the oldest message is dropped and
counted), so a slow or dead receiver never holds up the monitor. One task delivers the queue in
order; a failed POST (a connection error, a timeout or a status other than 2xx) is retried with
exponential backoff — ``backoff``, twice that, … at most ``max_backoff`` seconds apart — and given
up after ``attempts`` tries; what happened is counted in ``accountd_alert_webhook_messages_total``
``{outcome="sent"|"retried"|"given_up"|"dropped"}``, beside ``accountd_alert_webhook_queue``. The body::

    {"status": "firing" | "resolved", "time": "…Z",
     "alert": {"rule": …, "subject": …, "since": "…Z", "message": …, "value": …}}
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import aiohttp
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from accountd import tasks
from accountd.monitor.alerts import Alert

__all__ = ["Webhook", "WebhookCollector"]

log = logging.getLogger("accountd.monitor.webhook")


class Webhook:
    def __init__(self, url: str, *, queue_size: int = 1000, timeout: float = 5.0, attempts: int = 8,
                 backoff: float = 0.5, max_backoff: float = 30.0) -> None:  # fmt: skip
        self.url = url
        self.timeout = timeout
        self.attempts = attempts
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.counters: Counter[str] = Counter()  # sent, retries, given_up, dropped
        self._queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(maxsize=queue_size)
        self._task: asyncio.Task[None] | None = None

    def notify(self, status: str, alert: Alert) -> None:
        """An :data:`~accountd.monitor.alerts.OnChange` callback: queue the message for ``alert``."""
        time = datetime.now(UTC).isoformat().replace("+00:00", "Z")
        self.send({"status": status, "time": time, "alert": alert.to_dict()})

    def send(self, doc: dict[str, Any]) -> None:
        """Queue ``doc``; never blocks (a full queue drops its oldest message)."""
        if self._queue.full():
            self._queue.get_nowait()
            self.counters["dropped"] += 1
        self._queue.put_nowait(doc)

    @property
    def depth(self) -> int:
        return self._queue.qsize()

    async def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="alert-webhook")

    async def stop(self) -> None:
        if self._task is not None:
            await tasks.stop(self._task)
            self._task = None

    async def _run(self) -> None:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.timeout)) as session:
            while True:
                doc = await self._queue.get()
                await self._deliver(session, doc)

    async def _deliver(self, session: aiohttp.ClientSession, doc: dict[str, Any]) -> None:
        delay = self.backoff
        for attempt in range(1, self.attempts + 1):
            try:
                async with session.post(self.url, json=doc) as resp:
                    if 200 <= resp.status < 300:
                        self.counters["sent"] += 1
                        return
                    problem = f"HTTP {resp.status}"
            except (aiohttp.ClientError, TimeoutError) as exc:
                problem = str(exc) or type(exc).__name__
            if attempt == self.attempts:
                break
            self.counters["retries"] += 1
            log.debug("alert webhook %s: %s; retrying in %.1f s", self.url, problem, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, self.max_backoff)
        self.counters["given_up"] += 1
        log.warning("alert webhook %s: gave up on a %s message after %d tries (%s)", self.url, doc.get("status"),
                    self.attempts, problem)  # fmt: skip


_OUTCOMES = {"sent": "sent", "retries": "retried", "given_up": "given_up", "dropped": "dropped"}
"""The metric's outcome label of each of :attr:`Webhook.counters`."""


class WebhookCollector:
    """The webhook's counters and queue depth for ``/metrics``."""

    def __init__(self, hook: Webhook) -> None:
        self.hook = hook

    def describe(self) -> list[Metric]:
        return []

    def collect(self) -> Iterator[Metric]:
        messages = CounterMetricFamily("accountd_alert_webhook_messages", "Alert webhook messages by outcome "
                                       "(retried counts failed tries that were tried again).", labels=["outcome"])
        for counter, outcome in _OUTCOMES.items():
            messages.add_metric([outcome], self.hook.counters[counter])
        yield messages
        yield GaugeMetricFamily("accountd_alert_webhook_queue", "Alert webhook messages waiting to be sent.",
                                value=self.hook.depth)
