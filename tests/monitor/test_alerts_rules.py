"""The server rules with a fake clock and hand-written STATSZ: stale, then gone, then back; slow
consumers rising, then quiet for the window."""

from __future__ import annotations

import json

from accountd.monitor import Monitor, MonitorState
from accountd.monitor.alerts import Alert, Alerts, AlertSettings
from accountd.monitor.events import decode_statsz

from .payloads import N1, SERVER_215, statsz


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def setup() -> tuple[Clock, Monitor, Alerts, list[tuple[str, str, str]]]:
    clock = Clock()
    monitor = Monitor(ping_interval=None)
    monitor.state = MonitorState(clock=clock, stale_after=30, gone_after=90)
    changes: list[tuple[str, str, str]] = []

    def record(status: str, alert: Alert) -> None:
        changes.append((status, alert.rule, alert.subject))

    return clock, monitor, Alerts(monitor, AlertSettings(slow_window=300), on_change=record, clock=clock), changes


def stats(monitor: Monitor, slow: int = 0) -> None:
    doc = json.loads(statsz(SERVER_215))
    doc["statsz"]["slow_consumers"] = slow
    monitor.state.apply(decode_statsz(f"$SYS.SERVER.{N1}.STATSZ", json.dumps(doc).encode()))


def test_a_silent_server_is_stale_then_gone_and_clears_when_it_speaks() -> None:
    clock, monitor, alerts, changes = setup()
    stats(monitor)
    assert alerts.evaluate() == []
    clock.now += 31
    (stale,) = alerts.evaluate()
    assert (stale.rule, stale.subject, stale.value) == ("server_stale", "n1", 31.0)
    assert stale.message == "n1: no word for 31 s"
    clock.now += 60
    assert [(a.rule, a.since) for a in alerts.evaluate()] == [("server_gone", clock.now)]
    stats(monitor)
    assert alerts.evaluate() == []
    assert changes == [("firing", "server_stale", "n1"), ("resolved", "server_stale", "n1"),
                       ("firing", "server_gone", "n1"), ("resolved", "server_gone", "n1")]  # fmt: skip


def test_slow_consumers_rising_fire_until_the_window_passes_without_a_rise() -> None:
    clock, monitor, alerts, changes = setup()
    stats(monitor, slow=2)
    assert alerts.evaluate() == []
    clock.now += 10
    stats(monitor, slow=5)
    (slow,) = alerts.evaluate()
    assert (slow.rule, slow.subject, slow.value) == ("slow_consumers", "n1", 3.0)
    for _ in range(15):  # no new slow consumer for more than the window: it clears
        clock.now += 25
        stats(monitor, slow=5)
        alerts.evaluate()
    assert alerts.view() == []
    assert changes == [("firing", "slow_consumers", "n1"), ("resolved", "slow_consumers", "n1")]
