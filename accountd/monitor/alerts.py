"""Alert rules over what the monitor knows, evaluated every few seconds and on every relevant event.

An :class:`Alert` is keyed by ``(rule, subject)``; it *starts* the first evaluation its condition
holds and *clears* the first one it does not. :class:`Alerts` keeps the firing ones, tells
``on_change`` about each start and clear (``accountd serve`` hands them to the webhook), and exports
``accountd_alert{rule,subject}`` (1 while firing) on the monitor's registry.

=====================  ==========================  ================================================
rule                   subject                     fires while
=====================  ==========================  ================================================
``server_stale``       server name                 no STATSZ or other message for ``stale_after``
``server_gone``        server name                 SHUTDOWN, or silent for ``gone_after``
``health``             server name                 ``$SYS.REQ.SERVER.PING.HEALTHZ`` says not ok
``auth_errors``        ``server:N`` / ``account:A``  ``auth_errors_per_minute`` or more failed
                                                   logins in the last ``auth_window`` seconds
``limit``              account key                 some limit of its JWT used ``limit_ratio`` or more
``slow_consumers``     server name                 the server's slow-consumer counter rose within
                                                   the last ``slow_window`` seconds
``fleet_stale``        server name                 it holds an older JWT than accountd of an account
                                                   that changed recently (see below)
=====================  ==========================  ================================================

The fleet rule does not walk every account (that is ``accountd fleet``'s job): it follows the
``$SYS.ACCOUNT.*.CLAIMS.UPDATE`` messages accountd publishes, and ``fleet_grace`` seconds after one
asks the servers which JWT of that account they hold (``…ACCOUNT.<id>.INFO``), at most
``fleet_batch`` accounts a round, re-asking those still stale until ``fleet_keep`` seconds passed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from aiohttp import web
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from prometheus_client.core import GaugeMetricFamily, Metric

from accountd import tasks
from accountd.monitor.events import AuthErrorEvent, Event
from accountd.monitor.monitor import Monitor, collect_replies
from accountd.natsclient import flushed
from accountd.resolver.fleet import Held
from accountd.resolver.replies import parse_envelope

__all__ = ["Alert", "AlertSettings", "Alerts", "OnChange", "add_alert_routes"]

log = logging.getLogger("accountd.monitor.alerts")

HEALTHZ_PING = "$SYS.REQ.SERVER.PING.HEALTHZ"
CLAIMS_UPDATES = "$SYS.ACCOUNT.*.CLAIMS.UPDATE"
MAX_KEYS = 10_000  # auth-error windows kept (a forger can claim any number of accounts)


@dataclass(frozen=True, slots=True)
class Alert:
    rule: str
    subject: str
    since: float
    message: str
    value: float

    def to_dict(self) -> dict[str, Any]:
        return {"rule": self.rule, "subject": self.subject, "since": _iso(self.since), "message": self.message,
                "value": self.value}  # fmt: skip


OnChange = Callable[[str, Alert], None]
"""``on_change(status, alert)``: ``status`` is ``firing`` when it starts, ``resolved`` when it clears."""


@dataclass(frozen=True, slots=True)
class AlertSettings:
    interval: float = 5.0
    auth_errors_per_minute: int = 10
    auth_window: float = 60.0
    limit_ratio: float = 0.8
    slow_window: float = 300.0
    health_interval: float = 15.0
    fleet_grace: float = 10.0
    fleet_batch: int = 20
    fleet_keep: float = 900.0


class Alerts:
    """The rules over ``monitor``; :meth:`start` runs them until :meth:`stop`."""

    def __init__(self, monitor: Monitor, settings: AlertSettings | None = None, *,
                 on_change: OnChange | None = None, clock: Callable[[], float] = time.time,
                 current: Callable[[str], Awaitable[Held | None]] | None = None) -> None:  # fmt: skip
        """``current(account)``: accountd's own version of an account (serve passes its store's);
        without it, the version a claim update carried is taken as accountd's."""
        self.monitor = monitor
        self.current = current
        self.settings = settings or AlertSettings()
        self.on_change = on_change
        self.clock = clock
        self.firing: dict[tuple[str, str], Alert] = {}
        self.evaluations = 0
        self._auth: dict[str, deque[float]] = {}
        self._slow: dict[str, deque[tuple[float, int]]] = {}
        self._health: dict[str, str] = {}  # server name → what HEALTHZ said when not ok
        self._changed: dict[str, tuple[Held, float]] = {}  # account → accountd's JWT, when it changed
        self._fleet: dict[str, dict[str, Held]] = {}  # server name → account → the older JWT it holds
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._sub: Subscription | None = None
        self._remove: Callable[[], None] | None = None
        monitor.registry.register(_Collector(self))

    # ------------------------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        if self._task is not None:
            return
        self._remove = self.monitor.add_listener(self._on_event)
        if self.monitor.nc is not None and self.monitor.nc.is_connected:
            await self._watch_claims()
        self._task = asyncio.create_task(self._loop(), name="monitor-alerts")

    async def stop(self) -> None:
        if self._remove is not None:
            self._remove()
            self._remove = None
        if self._task is not None:
            await tasks.stop(self._task)
            self._task = None
        if self._sub is not None:
            with contextlib.suppress(Exception):
                await self._sub.unsubscribe()
            self._sub = None

    def _on_event(self, event: Event) -> None:
        if isinstance(event, AuthErrorEvent):
            now = self.clock()
            claimed = event.client.claimed()
            account = claimed.get("issuer_account") or claimed.get("issuer") or ""
            for key in (f"server:{event.server.label}", f"account:{account}" if account else ""):
                if key:
                    if key not in self._auth and len(self._auth) >= MAX_KEYS:
                        self._auth.pop(next(iter(self._auth)))
                    self._auth.setdefault(key, deque(maxlen=max(1000, 4 * self.settings.auth_errors_per_minute)))
                    self._auth[key].append(now)
        self._wake.set()

    async def _loop(self) -> None:
        last_round = -float("inf")
        while True:
            # Not asyncio.wait_for: on 3.11 it can swallow stop()'s cancel when the event is set meanwhile.
            await tasks.wait_event(self._wake, self.settings.interval)
            self._wake.clear()
            nc = self.monitor.nc
            if nc is not None and nc.is_connected and self.clock() - last_round >= self.settings.health_interval:
                last_round = self.clock()
                try:
                    await self._watch_claims()
                    await asyncio.gather(self.check_health(), self.check_fleet())
                except Exception as exc:  # a failed round must not end the loop
                    log.warning("alert round failed: %s", exc)
            try:
                self.evaluate()
            except Exception:
                log.exception("evaluating the alert rules failed")
            await asyncio.sleep(0.2)  # coalesce a burst of events into one evaluation

    # ------------------------------------------------------------------------------------ evaluation

    def evaluate(self) -> list[Alert]:
        """Apply every rule now; report starts and clears to ``on_change``; the firing alerts."""
        self.evaluations += 1
        now = self.clock()
        found = dict(self._conditions(now))
        for key in [k for k in self.firing if k not in found]:
            self._tell("resolved", self.firing.pop(key))
        for (rule, subject), (message, value) in found.items():
            was = self.firing.get((rule, subject))
            self.firing[(rule, subject)] = Alert(rule, subject, was.since if was else now, message, value)
            if was is None:
                self._tell("firing", self.firing[(rule, subject)])
        return self.view()

    def view(self) -> list[Alert]:
        return sorted(self.firing.values(), key=lambda a: (a.rule, a.subject))

    def _tell(self, status: str, alert: Alert) -> None:
        log.log(logging.WARNING if status == "firing" else logging.INFO, "alert %s: %s %s: %s", status, alert.rule,
                alert.subject, alert.message)  # fmt: skip
        if self.on_change is not None:
            try:
                self.on_change(status, alert)
            except Exception:
                log.exception("an alert callback failed")

    def _conditions(self, now: float) -> Iterator[tuple[tuple[str, str], tuple[str, float]]]:
        s, state = self.settings, self.monitor.state
        for rec in list(state.servers.values()):
            status, age = state.status(rec, now), round(now - rec.last_seen, 1)
            name = rec.info.label
            if status == "stale":
                yield ("server_stale", name), (f"{name}: no word for {age:g} s", age)
            elif status == "gone":
                why = "shut down" if rec.shutdown else f"silent for {age:g} s"
                yield ("server_gone", name), (f"{name}: {why}", age)
            if rec.stats is not None and status != "gone":
                rise = self._slow_rise(rec.info.id, rec.stats_at, rec.stats.slow_consumers, now)
                if rise > 0:
                    yield ("slow_consumers", name), (f"{name}: {rise} new slow consumers in the last "
                                                     f"{s.slow_window:g} s", float(rise))  # fmt: skip
        for name, said in self._health.items():
            yield ("health", name), (f"{name}: health check says {said}", 0.0)
        for key, times in list(self._auth.items()):
            while times and now - times[0] > s.auth_window:
                times.popleft()
            if not times:
                del self._auth[key]
            elif len(times) >= s.auth_errors_per_minute:
                kind, _, who = key.partition(":")
                label = f"{state.name_of(who) or who}" if kind == "account" else who
                logins = "failed login" if len(times) == 1 else "failed logins"
                yield ("auth_errors", key), (f"{len(times)} {logins} in {s.auth_window:g} s "
                                             f"{'on' if kind == 'server' else 'claiming'} {label}",
                                             float(len(times)))  # fmt: skip
        over: dict[str, list[tuple[float, str]]] = {}
        for u in self.monitor.limit_usage():
            if u.ratio >= s.limit_ratio:
                over.setdefault(u.account, []).append(
                    (u.ratio, f"{u.limit} {u.used:g} of {u.maximum:g} ({u.ratio:.0%})")
                )
        for account, items in over.items():
            name = state.name_of(account) or account
            yield ("limit", account), (f"{name}: " + ", ".join(text for _, text in items), max(r for r, _ in items))
        for server, held in self._fleet.items():
            if held:
                some = ", ".join(h.name or h.account for h in list(held.values())[:5])
                yield ("fleet_stale", server), (f"{server} holds an older JWT than accountd of {len(held)} "
                                                f"account(s): {some}", float(len(held)))  # fmt: skip

    def _slow_rise(self, server_id: str, at: float, count: int, now: float) -> int:
        samples = self._slow.setdefault(server_id, deque(maxlen=512))
        if not samples or samples[-1][0] != at:
            if samples and count < samples[-1][1]:
                samples.clear()  # the server restarted: its counter begins again
            samples.append((at, count))
        while len(samples) > 1 and now - samples[0][0] > self.settings.slow_window:
            samples.popleft()
        return count - samples[0][1]

    # ------------------------------------------------------------------------------------ requests

    async def _watch_claims(self) -> None:
        if self._sub is None and self.monitor.nc is not None:
            self._sub = await self.monitor.nc.subscribe(CLAIMS_UPDATES, cb=self._on_claims)
            await flushed(self.monitor.nc)

    async def check_health(self) -> None:
        """Ask every server's HEALTHZ now (the loop does every ``health_interval``)."""
        assert self.monitor.nc is not None
        health: dict[str, str] = {}
        for msg in await collect_replies(self.monitor.nc, HEALTHZ_PING, quiet=self.monitor.quiet,
                                         timeout=self.monitor.ping_timeout):  # fmt: skip
            env = parse_envelope(msg.data)
            if env is None or not env.server_id:
                self.monitor.state.note_malformed("healthz")
                continue
            data = env.data if isinstance(env.data, dict) else {}
            status = str(data.get("status", "")) if env.ok else "error"
            if status != "ok":
                health[env.server_name or env.server_id] = status + (
                    f" ({data['error']})" if data.get("error") else f" ({env.message})" if env.message else ""
                )
        self._health = health

    async def _on_claims(self, msg: Msg) -> None:
        held = Held.of_jwt(msg.data.decode(errors="replace"))
        if held is None:
            return
        if held.account not in self._changed and len(self._changed) >= 10 * self.settings.fleet_batch:
            self._changed.pop(next(iter(self._changed)))
        self._changed[held.account] = (held, self.clock())

    async def check_fleet(self) -> None:
        """Ask the servers about the accounts that changed at least ``fleet_grace`` seconds ago, now."""
        now, s = self.clock(), self.settings
        for account in [a for a, (_, t) in self._changed.items() if now - t > s.fleet_keep]:
            del self._changed[account]
            for held in self._fleet.values():
                held.pop(account, None)
        due = [(a, h) for a, (h, t) in self._changed.items() if now - t >= s.fleet_grace][: s.fleet_batch]
        servers = {sid: rec.info.label for sid, rec in self.monitor.state.servers.items()}
        for account, announced in due:
            current = await self.current(account) if self.current is not None else announced
            if current is None:  # not an account accountd holds: nothing to be behind on
                del self._changed[account]
                continue
            assert self.monitor.nc is not None
            replies = await collect_replies(
                self.monitor.nc,
                f"$SYS.REQ.ACCOUNT.{account}.INFO",
                quiet=self.monitor.quiet,
                timeout=self.monitor.ping_timeout,
            )
            stale = False
            for env in filter(None, (parse_envelope(m.data) for m in replies)):
                name = servers.get(env.server_id)
                if name is None:
                    continue  # accountd, or a server the monitor does not know yet
                jwt = env.data.get("jwt") if env.ok and isinstance(env.data, dict) else None
                theirs = Held.of_jwt(str(jwt)) if jwt else None
                if theirs is not None and theirs.jti != current.jti and theirs.iat <= current.iat:
                    self._fleet.setdefault(name, {})[account] = theirs
                    stale = True
                else:
                    self._fleet.get(name, {}).pop(account, None)
            if not stale:
                del self._changed[account]  # in step everywhere it is loaded: no need to ask again
        self._fleet = {name: held for name, held in self._fleet.items() if held}


def add_alert_routes(app: web.Application, alerts: Alerts) -> None:
    """``GET /-/monitor/alerts``: ``{"alerts": [{"rule", "subject", "since", "message", "value"}]}``."""

    async def handler(request: web.Request) -> web.Response:
        return web.json_response({"alerts": [a.to_dict() for a in alerts.view()]})

    app.router.add_get("/-/monitor/alerts", handler)


class _Collector:
    def __init__(self, alerts: Alerts) -> None:
        self.alerts = alerts

    def describe(self) -> list[Metric]:
        return []

    def collect(self) -> Iterator[Metric]:
        family = GaugeMetricFamily(
            "accountd_alert", "1 while the alert of this rule and subject is firing.", labels=["rule", "subject"]
        )
        for alert in self.alerts.view():
            family.add_metric([alert.rule, alert.subject], 1)
        yield family


def _iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).isoformat().replace("+00:00", "Z")
