"""The companion resolver: account claims for Python services, and a fleet kept in step.

A :class:`Resolver` resolves account JWTs the way nats-server does — from a bounded cache, else
from the account server over HTTP or a NATS LOOKUP — validates them against the trusted
operators, and follows ``$SYS`` claim updates, calling back with what changed. The
:class:`FleetDaemon` (``accountd resolver``) runs one and repairs drift: it asks every
nats-server which JWT it holds, compares with accountd and re-sends or deletes what differs.

    errors.py    ResolverError, AccountNotFound, InvalidAccount, FetchFailed
    cache.py     the LRU of validated entries, with expiry times
    diff.py      what changed between two versions of an account
    fetch.py     HTTP (retries, ETag, Cache-Control) and NATS LOOKUP fetchers
    updates.py   how a claim update is judged (nats-server's rules plus rollback protection)
    metrics.py   counters and their Prometheus collector
    feed.py      the claim-update subscriptions on an owned or a caller's NATS connection
    loader.py    fetching, validating and revalidating an account for the Resolver
    resolver.py  the Resolver
    replies.py   collecting replies from many servers; nats-server's reply envelope
    fleet.py     what the servers hold compared with accountd (pure)
    walk.py      asking the servers, page by page of accountd's accounts
    repair.py    re-sending current JWTs and forwarding deletions
    daemon.py    the daemon: a walk + repair every interval, /state, /metrics
"""

from accountd.resolver.cache import AccountCache, Entry
from accountd.resolver.daemon import FleetDaemon
from accountd.resolver.diff import AccountDiff, diff_accounts
from accountd.resolver.errors import AccountNotFound, FetchFailed, InvalidAccount, ResolverError
from accountd.resolver.fetch import Fetched, HttpFetcher, NatsFetcher, accounts_url
from accountd.resolver.fleet import AccountdView, FleetReport, Status, Survey, compare
from accountd.resolver.metrics import ResolverStats
from accountd.resolver.repair import Repair, Repairer
from accountd.resolver.resolver import UPDATE_SUBJECTS, EvictCallback, Resolver, UpdateCallback
from accountd.resolver.updates import REJECT_REASONS, SKIP_REASONS, Verdict, judge_update
from accountd.resolver.walk import FleetWalk

__all__ = [
    "REJECT_REASONS",
    "SKIP_REASONS",
    "UPDATE_SUBJECTS",
    "AccountCache",
    "AccountDiff",
    "AccountNotFound",
    "AccountdView",
    "Entry",
    "EvictCallback",
    "FetchFailed",
    "Fetched",
    "FleetDaemon",
    "FleetReport",
    "FleetWalk",
    "HttpFetcher",
    "InvalidAccount",
    "NatsFetcher",
    "Repair",
    "Repairer",
    "Resolver",
    "ResolverError",
    "ResolverStats",
    "Status",
    "Survey",
    "UpdateCallback",
    "Verdict",
    "accounts_url",
    "compare",
    "diff_accounts",
    "judge_update",
]
