"""System-events monitoring: who is connected, which servers are healthy, who failed to log in.

A :class:`Monitor` subscribes to the ``$SYS`` events on a system-account connection and keeps a
:class:`MonitorState`; :func:`add_monitor_routes` shows it over HTTP (JSON, ``/metrics``, a status
page); ``accountd events``, ``accountd servers`` and ``accountd top`` show it on the command line.

    shapes.py   the JSON objects inside events (server, client, stats…), unknown fields kept
    events.py   typed events decoded from nats-server's JSON (2.9 … 2.15)
    records.py  what is known of one server and of one account
    state.py    live state and its JSON views
    history.py  the last hour of server stats and account connections, in fixed-size rings
    usage.py    limits against usage (LimitUsage), JetStream use from PING.JSZ
    drill.py    one account's connections (CONNZ), one server's page (STATSZ, ROUTEZ, …, HEALTHZ)
    alerts.py   the alert rules, GET /-/monitor/alerts, accountd_alert
    webhook.py  alerts POSTed to --alert-webhook, retried, never blocking
    monitor.py  the subscriptions and the periodic PING discovery
    metrics.py  the Prometheus collector
    page.py     the status page (static/ holds its template, CSS and JS)
    accounts_page.py  the accounts pages (every account; one account), rendered by their scripts
    web.py      the aiohttp routes
"""

from accountd.monitor.accounts_page import add_account_pages
from accountd.monitor.events import Event, MalformedEvent, decode, decode_statsz
from accountd.monitor.metrics import METRICS, MonitorCollector
from accountd.monitor.monitor import EVENT_SUBJECTS, Monitor, collect_replies, ping_servers
from accountd.monitor.state import MonitorState
from accountd.monitor.web import add_monitor_routes, attach

__all__ = [
    "EVENT_SUBJECTS",
    "METRICS",
    "Event",
    "MalformedEvent",
    "Monitor",
    "MonitorCollector",
    "MonitorState",
    "add_account_pages",
    "add_monitor_routes",
    "attach",
    "collect_replies",
    "decode",
    "decode_statsz",
    "ping_servers",
]
