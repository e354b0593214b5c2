"""Go's structural ``Validate`` rules, per claim type (the part that is not about trust).

Subjects, URLs, imports and exports, limits counts, mappings, permissions, CIDRs, times, key
roles: each problem becomes an :class:`~accountd.claims.errors.Issue` with a Go-style sentence.
"""

from __future__ import annotations

import ipaddress
import re
import zoneinfo
from typing import Final
from urllib.parse import urlparse

from accountd.claims.errors import Issue
from accountd.claims.keys import Role, is_account_key, is_operator_key, public_role
from accountd.claims.models import (
    AccountClaims,
    Claims,
    Export,
    Import,
    OperatorClaims,
    Permission,
    UserClaims,
)
from accountd.claims.subjects import export_overlaps, import_overlaps

__all__ = ["CONNECTION_TYPES", "structure_issues"]

CONNECTION_TYPES: Final = frozenset(
    {"STANDARD", "WEBSOCKET", "LEAFNODE", "LEAFNODE_WS", "MQTT", "MQTT_WS", "IN_PROCESS"}
)
_TIME: Final = re.compile(r"^([01]\d|2[0-3]):[0-5]\d:[0-5]\d$")
_MAX_INFO: Final = 8 * 1024


def _subject_problem(subject: str) -> str | None:
    if not subject:
        return "subject cannot be empty"
    if any(c.isspace() for c in subject):
        return f"subject {subject!r} cannot contain spaces"
    tokens = subject.split(".")
    if any(not t for t in tokens):
        return f"subject {subject!r} has an empty token"
    if ">" in tokens[:-1]:
        return f"subject {subject!r}: '>' must be the last token"
    return None


def _has_wildcard(subject: str) -> bool:
    return any(t in ("*", ">") for t in subject.split("."))


def _url_problem(url: str, what: str) -> str | None:
    parsed = urlparse(url)
    if not parsed.scheme or not parsed.netloc:
        return f"{what} {url!r} must have a scheme and a host"
    return None


def _permission_issues(perm: Permission, what: str, *, queue_ok: bool) -> list[Issue]:
    issues = []
    for subject in [*perm.allow, *perm.deny]:
        parts = subject.split(" ")
        if len(parts) == 2 and queue_ok:
            subject = parts[0]
        problem = _subject_problem(subject)
        if problem:
            issues.append(Issue("structure", f"{what}: {problem}"))
    return issues


def _import_issues(imp: Import, sub: str) -> list[Issue]:
    out = []
    if imp.type not in ("stream", "service"):
        out.append(Issue("structure", f"import {imp.subject!r} has an invalid type {imp.type!r}"))
    if not imp.account:
        out.append(Issue("structure", f"import {imp.subject!r} has no account to import from"))
    elif not is_account_key(imp.account):
        out.append(Issue("invalid_key", f"import {imp.subject!r}: account {imp.account!r} is not an account key"))
    problem = _subject_problem(imp.subject)
    if problem:
        out.append(Issue("structure", f"import: {problem}"))
    if imp.to and imp.local_subject:
        out.append(Issue("structure", f"import {imp.subject!r}: 'to' and 'local_subject' are exclusive"))
    if imp.share and imp.type != "service":
        out.append(Issue("structure", f"import {imp.subject!r}: share is only valid for services"))
    if imp.allow_trace and imp.type != "stream":
        out.append(Issue("structure", f"import {imp.subject!r}: allow_trace is only valid for streams"))
    if imp.account == sub:
        out.append(Issue("structure", f"import {imp.subject!r} imports from its own account"))
    return out


def _export_issues(exp: Export, wildcards: bool) -> list[Issue]:
    out = []
    if exp.type not in ("stream", "service"):
        out.append(Issue("structure", f"export {exp.subject!r} has an invalid type {exp.type!r}"))
    problem = _subject_problem(exp.subject)
    if problem:
        out.append(Issue("structure", f"export: {problem}"))
    if exp.type == "stream" and (exp.response_type or exp.response_threshold or exp.service_latency):
        out.append(Issue("structure", f"export {exp.subject!r}: response settings are only valid for services"))
    if exp.response_type and exp.response_type not in ("Singleton", "Stream", "Chunked"):
        out.append(Issue("structure", f"export {exp.subject!r}: invalid response type {exp.response_type!r}"))
    if exp.service_latency is not None:
        s = exp.service_latency.sampling
        if not (s == "headers" or (isinstance(s, int) and not isinstance(s, bool) and 1 <= s <= 100)):
            out.append(Issue("structure", f"export {exp.subject!r}: latency sampling must be 1..100 or headers"))
        problem = _subject_problem(exp.service_latency.results)
        if problem:
            out.append(Issue("structure", f"export {exp.subject!r}: latency results {problem}"))
    if exp.account_token_position:
        tokens = exp.subject.split(".")
        pos = exp.account_token_position
        if pos > len(tokens) or tokens[pos - 1] != "*":
            out.append(Issue("structure", f"export {exp.subject!r}: account token position {pos} is not a '*'"))
    if not wildcards and _has_wildcard(exp.subject):
        out.append(Issue("structure", f"export {exp.subject!r}: wildcard exports are not allowed"))
    if exp.info_url:
        problem = _url_problem(exp.info_url, "info_url")
        if problem:
            out.append(Issue("structure", f"export {exp.subject!r}: {problem}"))
    return out


def _account_structure(claims: AccountClaims) -> list[Issue]:
    out: list[Issue] = []
    acc = claims.nats
    lim = acc.limits
    if lim.imports >= 0 and len(acc.imports) > lim.imports:
        out.append(Issue("structure", f"account contains more imports than allowed ({len(acc.imports)}>{lim.imports})"))
    if lim.exports >= 0 and len(acc.exports) > lim.exports:
        out.append(Issue("structure", f"account contains more exports than allowed ({len(acc.exports)}>{lim.exports})"))
    for imp in acc.imports:
        out += _import_issues(imp, claims.sub)
    for exp in acc.exports:
        out += _export_issues(exp, lim.wildcards or lim.exports == -1)
    out += [Issue("structure", text) for text in export_overlaps(acc.exports)]
    out += [Issue("structure", text) for text in import_overlaps(acc.imports)]
    if lim.tiered_limits:
        if lim.jetstream_flat().enabled():
            out.append(Issue("structure", "tiered JetStream limits and flat JetStream limits are exclusive"))
        if "" in lim.tiered_limits:
            out.append(Issue("structure", "JetStream tier name cannot be empty"))
    for key in acc.signing_key_ids():
        if not is_account_key(key):
            out.append(Issue("invalid_key", f"signing key {key!r} is not an account key"))
    for user in acc.revocations:
        if user != "*" and public_role(user) is not Role.USER:
            out.append(Issue("invalid_key", f"revocation key {user!r} is not a user key"))
    out += _permission_issues(acc.default_permissions.pub, "default pub permission", queue_ok=False)
    out += _permission_issues(acc.default_permissions.sub, "default sub permission", queue_ok=True)
    for source, targets in acc.mappings.items():
        problem = _subject_problem(source)
        if problem:
            out.append(Issue("structure", f"mapping: {problem}"))
        totals: dict[str, int] = {}
        for t in targets:
            weight = t.weight or 100
            if not 0 <= t.weight <= 100:
                out.append(Issue("structure", f"mapping {source!r}: weight {t.weight} must be 1..100"))
            totals[t.cluster] = totals.get(t.cluster, 0) + weight
        for cluster, total in totals.items():
            if total > 100:
                where = f" in cluster {cluster!r}" if cluster else ""
                out.append(Issue("structure", f"mapping {source!r}: weights add up to {total}{where} (over 100)"))
    auth = acc.authorization
    if auth is not None:
        if auth.allowed_accounts and not auth.auth_users:
            out.append(Issue("structure", "authorization: allowed accounts without auth users"))
        for key in auth.auth_users:
            if public_role(key) is not Role.USER:
                out.append(Issue("invalid_key", f"authorization: {key!r} is not a user key"))
    if acc.trace is not None:
        if _has_wildcard(acc.trace.dest):
            out.append(Issue("structure", "trace destination cannot contain wildcards"))
        if acc.trace.sampling and not 1 <= acc.trace.sampling <= 100:
            out.append(Issue("structure", "trace sampling must be 1..100"))
    if acc.cluster_traffic not in ("", "system", "owner"):
        out.append(Issue("structure", f"cluster_traffic {acc.cluster_traffic!r} must be 'system' or 'owner'"))
    if len(acc.description) > _MAX_INFO:
        out.append(Issue("structure", "description is longer than 8 KiB"))
    if acc.info_url:
        problem = _url_problem(acc.info_url, "info_url")
        if problem:
            out.append(Issue("structure", problem))
    if claims.iss == claims.sub and lim.conn != -1:
        out.append(Issue("structure", "self-signed account has limits that will be ignored", blocking=False))
    return out


def _user_structure(claims: UserClaims) -> list[Issue]:
    u = claims.nats
    out = _permission_issues(u.pub, "pub permission", queue_ok=False)
    out += _permission_issues(u.sub, "sub permission", queue_ok=True)
    for cidr in u.src:
        try:
            ipaddress.ip_network(cidr, strict=False)
        except ValueError:
            out.append(Issue("structure", f"src {cidr!r} is not a CIDR"))
    for tr in u.times:
        if not _TIME.match(tr.start) or not _TIME.match(tr.end):
            out.append(Issue("structure", f"time range {tr.start!r}-{tr.end!r} must be HH:MM:SS"))
    if u.times_location:
        try:
            zoneinfo.ZoneInfo(u.times_location)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            out.append(Issue("structure", f"times_location {u.times_location!r} is not a time zone"))
    if u.allowed_connection_types and not CONNECTION_TYPES & set(u.allowed_connection_types):
        out.append(Issue("structure", "allowed_connection_types names no known connection type"))
    if u.issuer_account and not is_account_key(u.issuer_account):
        out.append(Issue("invalid_key", f"issuer_account {u.issuer_account!r} is not an account key"))
    return out


def _operator_structure(claims: OperatorClaims) -> list[Issue]:
    op = claims.nats
    out = []
    for key in op.signing_keys:
        if not is_operator_key(key):
            out.append(Issue("invalid_key", f"signing key {key!r} is not an operator key"))
    if op.system_account and not is_account_key(op.system_account):
        out.append(Issue("invalid_key", f"system_account {op.system_account!r} is not an account key"))
    if op.account_server_url:
        problem = _url_problem(op.account_server_url, "account_server_url")
        if problem:
            out.append(Issue("structure", problem))
    for url in op.operator_service_urls:
        if urlparse(url).scheme not in ("nats", "tls", "ws", "wss"):
            out.append(Issue("structure", f"operator service url {url!r} must be nats://, tls://, ws:// or wss://"))
    if op.assert_server_version and not re.match(r"^\d+\.\d+\.\d+$", op.assert_server_version):
        out.append(Issue("structure", f"assert_server_version {op.assert_server_version!r} is not major.minor.update"))
    return out


def structure_issues(claims: Claims) -> list[Issue]:
    """Go's per-claim ``Validate`` rules (the structural, non-trust part)."""
    if isinstance(claims, AccountClaims):
        return _account_structure(claims)
    if isinstance(claims, UserClaims):
        return _user_structure(claims)
    if isinstance(claims, OperatorClaims):
        return _operator_structure(claims)
    return []
