"""Options that change account limits, validity and tags, named as nsc names them (permissions:
:mod:`accountd.cli.permopts`), the parsers behind them, and the code that applies them.

Numbers accept ``-1``/``unlimited`` and the units ``K M G T`` (1024-based, optional ``B``/``iB``:
``1M`` = ``1MiB`` = 1048576). Times (``--expiry``/``--start``): ``0`` (never), a relative
``30m 12h 7d 2w 3M 1y``, a date ``2027-01-31`` (UTC), an ISO 8601 time or Unix seconds. List
options repeat and also take comma-separated values.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any, Final, TypeVar

import click

from accountd.claims.models import AccountLimits, JetStreamLimits

__all__ = [
    "apply_limits",
    "apply_tags",
    "apply_validity",
    "cap_help",
    "limit_options",
    "number_option",
    "parse_duration_ns",
    "parse_number",
    "parse_time",
    "split_values",
    "stack",
    "tag_options",
    "validity_options",
]

_UNITS: Final = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}
_NUMBER: Final = re.compile(r"^(-?\d+)\s*([KMGT]?)(?:I?B)?$", re.I)
_RELATIVE: Final = re.compile(r"^(\d+)([smhdwMy])$")
_SECONDS: Final = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400, "M": 30 * 86400, "y": 365 * 86400}
_GO_DURATION: Final = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)")
_NS: Final = {"ns": 1, "us": 1_000, "µs": 1_000, "ms": 1_000_000, "s": 10**9, "m": 60 * 10**9, "h": 3600 * 10**9}


F = TypeVar("F", bound=Callable[..., Any])


def stack(*decorators: Callable[[Any], Any]) -> Callable[[F], F]:
    def apply(f: F) -> F:
        for d in reversed(decorators):
            f = d(f)
        return f

    return apply


def parse_number(text: str) -> int:
    value = text.strip()
    if value.lower() in ("unlimited", "-1"):
        return -1
    m = _NUMBER.match(value)
    if not m:
        raise click.BadParameter(f"{text!r} is not a number (examples: 100, -1, 512K, 1G)")
    return int(m.group(1)) * _UNITS[m.group(2).upper()]


def parse_time(text: str, now: float | None = None) -> int:
    """Unix seconds for ``--expiry``/``--start``; 0 means "not set"."""
    value = text.strip()
    t = int(time.time() if now is None else now)
    if value == "0":
        return 0
    m = _RELATIVE.match(value)
    if m:
        return t + int(m.group(1)) * _SECONDS[m.group(2)]
    if value.isdigit() and len(value) >= 9:
        return int(value)
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(
            f"{text!r} is not a time (examples: 0, 30d, 12h, 1y, 2027-01-31, 2027-01-31T12:00:00Z)"
        ) from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return int(when.timestamp())


def parse_duration_ns(text: str) -> int:
    """A Go-style duration (``500ms``, ``1m30s``) in nanoseconds."""
    value = text.strip()
    parts = _GO_DURATION.findall(value)
    if not parts or "".join(n + u for n, u in parts) != value:
        raise click.BadParameter(f"{text!r} is not a duration (examples: 500ms, 10s, 1m30s)")
    return int(sum(float(n) * _NS[u] for n, u in parts))


def split_values(values: Iterable[str]) -> list[str]:
    return [v.strip() for item in values for v in item.split(",") if v.strip()]


def cap_help(text: str) -> str:
    return text[:1].upper() + text[1:] + ("" if text.endswith(".") else ".")


def number_option(*names: str, help_text: str) -> Any:
    return click.option(*names, metavar="N", default=None, help=cap_help(help_text))


# --- accounts -------------------------------------------------------------------------------

_LIMITS: Final = [
    (("--conn", "--conns", "conn"), "conn", "max client connections (-1 unlimited, 0 none)"),
    (("--leaf-conns", "leaf"), "leaf", "max leafnode connections"),
    (("--subs", "--subscriptions", "subs"), "subs", "max subscriptions per client"),
    (("--data", "data"), "data", "max data in bytes (not enforced by nats-server)"),
    (("--payload", "payload"), "payload", "max message payload in bytes"),
    (("--imports", "imports"), "imports", "max imports"),
    (("--exports", "exports"), "exports", "max exports"),
]
_JS_LIMITS: Final = [
    ("--js-mem-storage", "mem_storage", "JetStream memory storage in bytes (-1 unlimited; 0 with disk 0 = off)"),
    ("--js-disk-storage", "disk_storage", "JetStream file storage in bytes"),
    ("--js-streams", "streams", "max streams"),
    ("--js-consumer", "consumer", "max consumers"),
    ("--js-max-ack-pending", "max_ack_pending", "max ack pending per consumer"),
    ("--js-max-mem-stream", "mem_max_stream_bytes", "max bytes of one memory stream"),
    ("--js-max-disk-stream", "disk_max_stream_bytes", "max bytes of one file stream"),
]


def limit_options() -> Callable[[F], F]:
    opts: list[Callable[[Any], Any]] = [number_option(*names, help_text=h) for names, _, h in _LIMITS]
    opts += [number_option(flag, flag.lstrip("-").replace("-", "_"), help_text=h) for flag, _, h in _JS_LIMITS]
    opts += [
        click.option("--wildcard-exports/--no-wildcard-exports", "wildcards", default=None,
                     help="Allow wildcard exports."),
        click.option("--disallow-bearer/--allow-bearer", "disallow_bearer", default=None,
                     help="Reject user JWTs that are bearer tokens."),
        click.option("--js-max-bytes-required/--no-js-max-bytes-required", "js_max_bytes_required",
                     default=None, help="Streams must set max bytes."),
        click.option("--js-tier", metavar="N", default=None,
                     help="Apply the --js-* limits to replication tier N (1 = R1, 3 = R3; 0 = the global limits, "
                          "the default). An account has either global or tiered limits."),
        click.option("--js-disable", is_flag=True, help="Turn JetStream off (all --js-* limits 0)."),
        click.option("--rm-js-tier", metavar="N", multiple=True,
                     help="Remove tier N's JetStream limits (0 = the global ones)."),
    ]
    return stack(*opts)


def apply_limits(limits: AccountLimits, opts: dict[str, Any]) -> list[str]:
    changes: list[str] = []
    for _, attr, _ in _LIMITS:
        if opts.get(attr) is not None:
            setattr(limits, attr, parse_number(opts[attr]))
            changes.append(f"{attr}={getattr(limits, attr)}")
    for key in ("wildcards", "disallow_bearer"):
        if opts.get(key) is not None:
            setattr(limits, key, bool(opts[key]))
            changes.append(f"{key}={getattr(limits, key)}")
    tier = _tier(opts["js_tier"]) if opts.get("js_tier") is not None else ""
    setting = opts.get("js_max_bytes_required") is not None or any(
        opts.get(flag.lstrip("-").replace("-", "_")) is not None for flag, _, _ in _JS_LIMITS)
    target: AccountLimits | JetStreamLimits = limits
    if setting and not opts.get("js_disable"):
        _check_tier_mix(limits, tier, [_tier(t) for t in opts.get("rm_js_tier") or ()])
    if tier:
        target = limits.tiered_limits.setdefault(tier, JetStreamLimits())
    if opts.get("js_disable"):
        for name in AccountLimits.JETSTREAM_FIELDS:
            setattr(limits, name, False if name == "max_bytes_required" else 0)
        limits.tiered_limits = {}
        changes.append("jetstream=off")
    for flag, attr, _ in _JS_LIMITS:
        key = flag.lstrip("-").replace("-", "_")
        if opts.get(key) is not None:
            setattr(target, attr, parse_number(opts[key]))
            changes.append(f"{tier + '.' if tier else ''}{attr}={getattr(target, attr)}")
    if opts.get("js_max_bytes_required") is not None:
        target.max_bytes_required = bool(opts["js_max_bytes_required"])
        changes.append(f"max_bytes_required={target.max_bytes_required}")
    for t in (_tier(t) for t in opts.get("rm_js_tier") or ()):
        if not t:
            for name in AccountLimits.JETSTREAM_FIELDS:
                setattr(limits, name, False if name == "max_bytes_required" else 0)
            changes.append("removed the global JetStream limits")
        elif limits.tiered_limits.pop(t, None) is not None:
            changes.append(f"removed tier {t}")
        else:
            raise click.BadParameter(f"the account has no JetStream tier {t}", param_hint="--rm-js-tier")
    return changes


def _tier(text: str) -> str:
    """nsc's tier number as the key of ``tiered_limits``: ``1`` (or ``R1``) → ``R1``; ``0`` → ``""`` (global)."""
    value = text.strip().upper().removeprefix("R")
    if not value.isdigit():
        raise click.BadParameter(f"{text!r} is not a replication tier (0, 1, 3, …)", param_hint="--js-tier")
    return f"R{int(value)}" if int(value) else ""


def _check_tier_mix(limits: AccountLimits, tier: str, removing: list[str]) -> None:
    """nsc's rule: an account has global or tiered JetStream limits, not both (Go drops the global ones)."""
    flat = limits.jetstream_flat()
    global_set = "" not in removing and any(getattr(flat, f) for f in AccountLimits.JETSTREAM_FIELDS)
    tiers = sorted(t for t in limits.tiered_limits if t not in removing)
    if tier and global_set:
        raise click.UsageError("cannot set a JetStream tier limit when the account has global JetStream limits; "
                               "remove them with --rm-js-tier 0 (or --js-disable) first")
    if not tier and tiers:
        raise click.UsageError(f"cannot set a global JetStream limit when the account has tiered limits "
                               f"({', '.join(tiers)}); pass --js-tier N, or remove them with --rm-js-tier N")


# --- common ---------------------------------------------------------------------------------------


def validity_options() -> Callable[[F], F]:
    return stack(
        click.option("--expiry", metavar="WHEN", default=None, help="Valid until (0 = never, 30d, 2027-01-31, …)."),
        click.option("--start", metavar="WHEN", default=None, help="Valid from (0 = now, 1h, 2027-01-01, …)."),
    )


def apply_validity(claims: Any, opts: dict[str, Any]) -> list[str]:
    changes = []
    if opts.get("expiry") is not None:
        claims.exp = parse_time(opts["expiry"])
        changes.append(f"exp={claims.exp}")
    if opts.get("start") is not None:
        claims.nbf = parse_time(opts["start"])
        changes.append(f"nbf={claims.nbf}")
    return changes


def tag_options() -> Callable[[F], F]:
    return stack(
        click.option("--tag", multiple=True, metavar="TAG", help="Add a tag (lower-cased, as Go does)."),
        click.option("--rm-tag", multiple=True, metavar="TAG", help="Remove a tag."),
    )


def apply_tags(tags: list[str], opts: dict[str, Any]) -> list[str]:
    changes = []
    for tag in split_values(opts.get("tag") or ()):
        t = tag.strip().lower()
        if t not in tags:
            tags.append(t)
            changes.append(f"tag+={t}")
    for tag in split_values(opts.get("rm_tag") or ()):
        t = tag.strip().lower()
        if t in tags:
            tags.remove(t)
            changes.append(f"tag-={t}")
    tags.sort()  # nsc sorts tags after every change (genericclaimparams)
    return changes
