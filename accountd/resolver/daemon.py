"""``accountd resolver``: a :class:`Resolver` plus periodic fleet survey and repair.

Every ``interval`` seconds (and once at start): walk the fleet page by page (a
:class:`~accountd.resolver.walk.FleetWalk`), compare each page with accountd and repair what
drifted there, log one line per repair (a problem that cannot be repaired is logged when it first
appears, not every round), and publish the result as ``GET /state`` (JSON) and ``GET /metrics``
(Prometheus: the resolver's series and ``accountd_fleet_*``). ``GET /healthz`` is 200 while the
NATS connection is up. What a round keeps is bounded: the counts of every account, and at most
``keep`` rows (drifted ones first) and ``keep`` repairs for ``/state``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from bisect import bisect_left
from collections import Counter, deque
from collections.abc import Callable, Iterator
from typing import Any

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from accountd import tasks
from accountd.claims import KeyPair, Trust
from accountd.natsclient import NatsTLS
from accountd.resolver.errors import AccountNotFound, ResolverError
from accountd.resolver.fleet import FleetReport, Status, compare
from accountd.resolver.repair import Repair, Repairer
from accountd.resolver.resolver import Resolver
from accountd.resolver.walk import PAGE, FleetWalk, accountd_lists

__all__ = ["FleetDaemon"]

log = logging.getLogger("accountd.resolver.daemon")


class FleetDaemon:
    def __init__(
        self,
        trust: Trust,
        *,
        url: str | None,
        nats: list[str],
        creds: str | None,
        tls: NatsTLS | None = None,
        token: str | None = None,
        interval: float = 30.0,
        signer: KeyPair | None = None,
        quiet: float = 0.25,
        timeout: float = 2.0,
        listen: tuple[str, int] | None = None,
        registry: CollectorRegistry | None = None,
        name: str = "accountd-resolver",
        page: int = PAGE,
        keep: int = 1000,
    ) -> None:
        self.trust = trust
        self.page = page
        self.keep = keep
        self.interval = interval
        self.quiet = quiet
        self.timeout = timeout
        self.listen = listen
        self.registry = registry if registry is not None else CollectorRegistry()
        self.resolver = Resolver(trust, url=url, nats=nats, creds=creds, tls=tls, token=token, lookup="newest",
                                 registry=self.registry, name=name)  # fmt: skip
        self.repairer = Repairer(self.resolver.nc, self._jwt_for, self._absent, signer=signer, quiet=quiet,
                                 timeout=timeout)  # fmt: skip
        self.registry.register(_FleetCollector(self))
        self.rounds: Counter[str] = Counter()
        self.repairs_total: Counter[tuple[str, str]] = Counter()
        self.report: FleetReport | None = None
        self.last_repairs: list[Repair] = []
        """The first ``keep`` repairs of the last round."""
        self.last_repairs_total = 0
        self.recent: deque[dict[str, Any]] = deque(maxlen=200)
        self.last_error = ""
        self.last_round_at = 0.0
        self.last_round_seconds = 0.0
        self.last_round_pages = 0
        self.last_round_largest_page = 0
        """The most accounts one page of the last round held (at most ``page``)."""
        self._reported: set[tuple[str, str, str, str]] = set()
        self._listed: dict[str, str] = {}
        """account → the jti accountd listed, for the page being repaired."""
        self._servers: set[str] = set()
        self._task: asyncio.Task[None] | None = None
        self._runner: web.AppRunner | None = None
        self._kick = asyncio.Event()
        self._changed = asyncio.Condition()
        self.address: tuple[str, int] | None = None

    # ------------------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        await self.resolver.start()
        if self.listen is not None:
            self._runner = web.AppRunner(self.app(), access_log=None)
            await self._runner.setup()
            site = web.TCPSite(self._runner, self.listen[0], self.listen[1], reuse_address=True)
            await site.start()
            sockets = getattr(site._server, "sockets", None)  # the bound port when port 0 was asked
            self.address = sockets[0].getsockname()[:2] if sockets else self.listen
            log.info("state and metrics on http://%s:%d/state and /metrics", *self.address)
        self._task = asyncio.create_task(self._loop(), name="fleet-loop")

    async def close(self) -> None:
        await tasks.stop(self._task)
        if self._runner is not None:
            await self._runner.cleanup()
        await self.resolver.close()

    def kick(self) -> None:
        """Run a round now instead of waiting for the interval."""
        self._kick.set()

    async def wait_for(self, predicate: Callable[[FleetDaemon], bool], timeout: float) -> None:
        """Return once ``predicate(self)`` holds, checked after every round; TimeoutError if not."""
        async with self._changed:
            async with asyncio.timeout(timeout):
                await self._changed.wait_for(lambda: predicate(self))

    async def _loop(self) -> None:
        while True:
            if await self.resolver.wait_live(timeout=self.interval):
                try:
                    await self.run_once()
                except Exception as exc:  # a failed round must not end the loop
                    self.rounds["failed"] += 1
                    self.last_error = str(exc) or type(exc).__name__
                    log.exception("fleet round failed")
            self._kick.clear()
            await tasks.wait_event(self._kick, self.interval)

    # ------------------------------------------------------------------------------ one round

    async def run_once(self) -> tuple[FleetReport, list[Repair]]:
        """Walk, compare and repair, page by page. Returns the round's sum (bounded, see
        :meth:`FleetReport.add`) and its first ``keep`` repairs. Raises when accountd or NATS
        cannot be asked."""
        started = time.monotonic()
        nc = self.resolver.nc()
        if nc is None or not nc.is_connected:
            raise ResolverError("not connected to NATS", "nats_unavailable")
        walk = FleetWalk(nc, self.resolver.http, system_account=self.trust.system_account, quiet=self.quiet,
                         timeout=self.timeout, cache_servers=self.repairer.cache_servers, page=self.page)  # fmt: skip
        await walk.start()
        self._servers = set(walk.servers)
        total = walk.report()
        kept: list[Repair] = []
        count = pages = 0
        skipped: set[tuple[str, str, str, str]] = set()
        try:
            async for page in walk.pages():
                report = compare(page)
                self._listed = {a: h.jti for a, h in page.accountd.accounts.items()}
                repairs = await self.repairer.repair(report, walk.system_account,
                                                     accountd_empty=walk.accountd_empty)  # fmt: skip
                self._log(repairs, skipped)
                for r in repairs:
                    self.repairs_total[(r.action, r.outcome)] += 1
                    if r.outcome != "skipped":
                        self.recent.appendleft({"time": time.time(), **r.to_dict()})
                kept += repairs[: self.keep - len(kept)]
                count += len(repairs)
                total.add(report, self.keep)
                pages += 1
        finally:
            self._listed = {}
        self._reported = skipped
        self.report = total
        self.last_repairs = kept
        self.last_repairs_total = count
        self.rounds["ok"] += 1
        self.last_error = ""
        self.last_round_at = time.time()
        self.last_round_seconds = time.monotonic() - started
        self.last_round_pages = pages
        self.last_round_largest_page = walk.largest_page
        async with self._changed:
            self._changed.notify_all()
        return total, kept

    def _log(self, repairs: list[Repair], skipped: set[tuple[str, str, str, str]]) -> None:
        """One line per repair; a skipped one only when the round before did not skip it too."""
        for r in repairs:
            if r.outcome == "skipped":
                skipped.add(r.key())
                if r.key() not in self._reported:
                    log.warning("%s", r.line())
            elif r.outcome == "failed":
                log.warning("%s", r.line())
            else:
                log.info("%s", r.line())

    async def _jwt_for(self, account: str) -> str:
        """accountd's current JWT, validated; re-fetched when the cached one is not the listed one."""
        claims = await self.resolver.get(account)
        listed = self._listed.get(account, "")
        if listed and claims.jti != listed:
            await self.resolver.refresh(account)
        token = self.resolver.jwt(account)
        if token is None:
            raise ResolverError("accountd's reply may not be stored (Cache-Control: no-store)")
        return token

    async def _absent(self, accounts: list[str]) -> set[str]:
        """Those of ``accounts`` accountd does not hold, asked again now; when it cannot be told, none."""
        if self.resolver.http is not None:
            http = self.resolver.http
            limit = asyncio.Semaphore(32)

            async def gone(account: str) -> bool:
                async with limit:
                    try:
                        await http.fetch(account)
                    except AccountNotFound:
                        return True
                    except ResolverError:
                        return False
                    return False

            found = await asyncio.gather(*(gone(a) for a in accounts))
            return {a for a, g in zip(accounts, found, strict=True) if g}
        nc = self.resolver.nc()
        if nc is None:
            return set()
        lists = await accountd_lists(nc, self._servers, quiet=self.quiet, timeout=self.timeout)
        if lists is None:
            return set()
        return {a for a in accounts if not any(_holds(keys, a) for keys in lists)}

    # ------------------------------------------------------------------------------ views

    def state(self) -> dict[str, Any]:
        unrepaired = [r.to_dict() for r in self.last_repairs if r.outcome != "repaired"]
        return {
            "interval": self.interval,
            "rounds": dict(self.rounds),
            "last_round": None if not self.last_round_at else {
                "time": self.last_round_at, "seconds": round(self.last_round_seconds, 3),
                "pages": self.last_round_pages, "largest_page": self.last_round_largest_page},
            "last_error": self.last_error,
            "fleet": self.report.to_dict() if self.report else None,
            "repairs": {"last_round": [r.to_dict() for r in self.last_repairs],
                        "last_round_total": self.last_repairs_total, "recent": list(self.recent),
                        "unrepaired": unrepaired},
            "resolver": self.resolver.state(),
        }  # fmt: skip

    def app(self) -> web.Application:
        async def state(request: web.Request) -> web.Response:
            return web.json_response(self.state(), dumps=_dumps)

        async def metrics(request: web.Request) -> web.Response:
            return web.Response(body=generate_latest(self.registry), headers={"Content-Type": CONTENT_TYPE_LATEST})

        async def healthz(request: web.Request) -> web.Response:
            return web.Response(status=200 if self.resolver.live else 503, text="ok\n" if self.resolver.live else
                                "not connected to NATS\n")  # fmt: skip

        app = web.Application()
        app.router.add_get("/state", state)
        app.router.add_get("/metrics", metrics)
        app.router.add_get("/healthz", healthz)
        return app


def _holds(keys: list[str], account: str) -> bool:
    """``account`` is in the sorted list ``keys``."""
    i = bisect_left(keys, account)
    return i < len(keys) and keys[i] == account


def _dumps(doc: Any) -> str:
    return json.dumps(doc, indent=2, default=str)


class _FleetCollector:
    def __init__(self, daemon: FleetDaemon) -> None:
        self.daemon = daemon

    def describe(self) -> list[Metric]:
        return []

    def collect(self) -> Iterator[Metric]:
        d = self.daemon
        report = d.report
        servers = GaugeMetricFamily("accountd_fleet_servers", "nats-servers that answered the last survey.")
        servers.add_metric([], len(report.servers) if report else 0)
        accounts = GaugeMetricFamily("accountd_fleet_accounts", "Accounts compared in the last survey.")
        accounts.add_metric([], report.compared if report else 0)
        cells = GaugeMetricFamily("accountd_fleet_cells", "Account × server pairs of the last survey, by status.",
                                  labels=["status"])  # fmt: skip
        counts = report.counts() if report else Counter()
        for status in Status:
            cells.add_metric([str(status)], counts.get(str(status), 0))
        rounds = CounterMetricFamily("accountd_fleet_rounds", "Survey-and-repair rounds, by outcome.",
                                     labels=["outcome"])  # fmt: skip
        for outcome in ("ok", "failed"):
            rounds.add_metric([outcome], d.rounds.get(outcome, 0))
        repairs = CounterMetricFamily("accountd_fleet_repairs", "Repairs attempted, by action and outcome.",
                                      labels=["action", "outcome"])  # fmt: skip
        for (action, outcome), n in sorted(d.repairs_total.items()):
            repairs.add_metric([action, outcome], n)
        last = GaugeMetricFamily("accountd_fleet_last_round_timestamp_seconds", "When the last round finished.")
        last.add_metric([], d.last_round_at)
        took = GaugeMetricFamily("accountd_fleet_round_duration_seconds", "How long the last round took.")
        took.add_metric([], d.last_round_seconds)
        yield from (servers, accounts, cells, rounds, repairs, last, took)
