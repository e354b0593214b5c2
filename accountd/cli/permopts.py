"""Permission options for users and scoped signing-key templates, named as nsc names them.

Used by ``add user``, ``edit user`` and ``edit signing-key``; they change a ``User`` or a
``UserPermissionLimits`` template alike.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, Final

import click

from accountd.claims.models import ResponsePermission, TimeRange, User, UserPermissionLimits
from accountd.cli.claimopts import F, cap_help, number_option, parse_duration_ns, parse_number, split_values, stack

__all__ = ["apply_permissions", "permission_changes_requested", "permission_options"]

_CLOCK: Final = re.compile(r"^([01]\d|2[0-3]):[0-5]\d:[0-5]\d$")


def permission_options() -> Callable[[F], F]:
    def many(flag: str, help_text: str, metavar: str = "SUBJECT") -> Any:
        return click.option(flag, multiple=True, metavar=metavar, help=cap_help(help_text))

    return stack(
        many("--allow-pub", "allow publishing to SUBJECT"),
        many("--allow-sub", "allow subscribing to SUBJECT (may be 'subject queue')"),
        many("--allow-pubsub", "allow publishing and subscribing"),
        many("--deny-pub", "deny publishing to SUBJECT"),
        many("--deny-sub", "deny subscribing to SUBJECT"),
        many("--deny-pubsub", "deny publishing and subscribing"),
        many("--rm", "remove SUBJECT from every allow/deny list"),
        click.option("--allow-pub-response", metavar="N", type=int, default=None,
                     help="Allow N responses to requests received (reply subjects)."),
        click.option("--response-ttl", metavar="DURATION", default=None, help="How long responses are allowed (5s)."),
        click.option("--rm-response-perms", is_flag=True, help="Remove the response permission."),
        many("--source-network", "only connections from this CIDR", "CIDR"),
        many("--rm-source-network", "remove a source network", "CIDR"),
        many("--conn-type", "allowed connection type (STANDARD, WEBSOCKET, LEAFNODE, MQTT, …)", "TYPE"),
        many("--rm-conn-type", "remove an allowed connection type", "TYPE"),
        many("--time", "allowed time range HH:MM:SS-HH:MM:SS", "RANGE"),
        many("--rm-time", "remove an allowed time range (its start HH:MM:SS)", "START"),
        click.option("--locale", metavar="ZONE", default=None, help="Time zone of --time (IANA name)."),
        number_option("--subs", "user_subs", help_text="max subscriptions (-1 unlimited)"),
        number_option("--data", "user_data", help_text="max data in bytes"),
        number_option("--payload", "user_payload", help_text="max message payload in bytes"),
        click.option("--bearer/--no-bearer", "bearer", default=None, help="A bearer token: no nonce signature."),
    )


def _add(lst: list[str], values: list[str]) -> bool:
    new = [v for v in values if v not in lst]
    lst.extend(new)
    return bool(new)


def apply_permissions(
    target: User | UserPermissionLimits, opts: dict[str, Any], *, sort_src: bool = False
) -> list[str]:
    """Apply the permission options; the subject lists are sorted as nsc sorts them, and
    ``sort_src`` sorts the source networks too (nsc's ``edit user`` does, its ``add user`` not)."""
    changes: list[str] = []
    both_allow, both_deny = split_values(opts.get("allow_pubsub") or ()), split_values(opts.get("deny_pubsub") or ())
    plan = [
        (target.pub.allow, split_values(opts.get("allow_pub") or ()) + both_allow, "pub.allow"),
        (target.sub.allow, split_values(opts.get("allow_sub") or ()) + both_allow, "sub.allow"),
        (target.pub.deny, split_values(opts.get("deny_pub") or ()) + both_deny, "pub.deny"),
        (target.sub.deny, split_values(opts.get("deny_sub") or ()) + both_deny, "sub.deny"),
    ]
    for lst, values, label in plan:
        if _add(lst, values):
            changes.append(f"{label}+={','.join(values)}")
    for subject in split_values(opts.get("rm") or ()):
        for lst in (target.pub.allow, target.pub.deny, target.sub.allow, target.sub.deny):
            while subject in lst:
                lst.remove(subject)
        changes.append(f"removed {subject}")
    for lst in (target.pub.allow, target.pub.deny, target.sub.allow, target.sub.deny):
        lst.sort()
    if opts.get("rm_response_perms"):
        target.resp = None
        changes.append("resp removed")
    if opts.get("allow_pub_response") is not None or opts.get("response_ttl"):
        resp = target.resp or ResponsePermission(max=1, ttl=0)
        if opts.get("allow_pub_response") is not None:
            resp.max = int(opts["allow_pub_response"])
        if opts.get("response_ttl"):
            resp.ttl = parse_duration_ns(opts["response_ttl"])
        target.resp = resp
        changes.append(f"resp max={resp.max} ttl={resp.ttl}ns")
    if _add(target.src, split_values(opts.get("source_network") or ())):
        changes.append("src")
    for cidr in split_values(opts.get("rm_source_network") or ()):
        if cidr in target.src:
            target.src.remove(cidr)
            changes.append(f"removed src {cidr}")
    if sort_src:
        target.src.sort()
    if _add(target.allowed_connection_types, [t.upper() for t in split_values(opts.get("conn_type") or ())]):
        changes.append("allowed_connection_types")
    for ct in split_values(opts.get("rm_conn_type") or ()):
        if ct.upper() in target.allowed_connection_types:
            target.allowed_connection_types.remove(ct.upper())
            changes.append(f"removed connection type {ct.upper()}")
    for rng in split_values(opts.get("time") or ()):
        start, _, end = rng.partition("-")
        if not (_CLOCK.match(start) and _CLOCK.match(end)):
            raise click.BadParameter(f"{rng!r} is not HH:MM:SS-HH:MM:SS", param_hint="--time")
        target.times.append(TimeRange(start=start, end=end))
        changes.append(f"time {rng}")
    for start in split_values(opts.get("rm_time") or ()):
        target.times = [t for t in target.times if t.start != start]
        changes.append(f"removed time {start}")
    if opts.get("locale") is not None:
        target.times_location = opts["locale"]
        changes.append(f"times_location={target.times_location}")
    for key, attr in (("user_subs", "subs"), ("user_data", "data"), ("user_payload", "payload")):
        if opts.get(key) is not None:
            setattr(target, attr, parse_number(opts[key]))
            changes.append(f"{attr}={getattr(target, attr)}")
    if opts.get("bearer") is not None:
        target.bearer_token = bool(opts["bearer"])
        changes.append(f"bearer_token={target.bearer_token}")
    return changes


def permission_changes_requested(opts: dict[str, Any]) -> bool:
    keys = ("allow_pub", "allow_sub", "allow_pubsub", "deny_pub", "deny_sub", "deny_pubsub", "rm",
            "allow_pub_response", "response_ttl", "rm_response_perms", "source_network", "rm_source_network",
            "conn_type", "rm_conn_type", "time", "rm_time", "locale", "user_subs", "user_data",
            "user_payload", "bearer")
    return any(opts.get(k) not in (None, (), False) for k in keys)
