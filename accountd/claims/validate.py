"""Decide about JWTs as nats-server does (SPEC §4), returning every problem as an :class:`Issue`.

* :class:`Trust` — the trusted operators: their identity keys (unless
  ``strict_signing_key_usage``) and signing keys.
* :func:`validate_account` — issuer trust, strict mode, subject, time checks, structure.
* :func:`validate_user` — the user against its account: signer, ``issuer_account``, scoped keys,
  revocations, time checks, structure.
* :func:`check_account_token` — decode + validate in one step; decode failures become issues.
"""

from __future__ import annotations

import ipaddress
import re
import time
import zoneinfo
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final
from urllib.parse import urlparse

from accountd.claims.codec import decode_account, decode_operator
from accountd.claims.errors import DecodeError, Issue
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
from accountd.types import OperatorKey

__all__ = [
    "Trust",
    "Validation",
    "account_user_signers",
    "check_account_token",
    "check_times",
    "extract_jwt",
    "is_revoked",
    "structure_issues",
    "validate_account",
    "validate_operator",
    "validate_user",
]

CONNECTION_TYPES: Final = frozenset(
    {"STANDARD", "WEBSOCKET", "LEAFNODE", "LEAFNODE_WS", "MQTT", "MQTT_WS", "IN_PROCESS"}
)
_TIME: Final = re.compile(r"^([01]\d|2[0-3]):[0-5]\d:[0-5]\d$")
_JWT_IN_TEXT: Final = re.compile(r"eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")
_MAX_INFO: Final = 8 * 1024


def extract_jwt(text: str | bytes) -> str:
    """The JWT inside ``text``: bare, surrounded by whitespace, or in an armored block."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", errors="replace")
    match = _JWT_IN_TEXT.search(text)
    if not match:
        raise DecodeError("bad_encoding", "no JWT found")
    return match.group(0)


@dataclass(frozen=True, slots=True)
class Validation:
    """The outcome of a validation: every issue found, blocking or not."""

    issues: tuple[Issue, ...] = ()

    @property
    def ok(self) -> bool:
        return not any(i.blocking for i in self.issues)

    @property
    def blocking(self) -> tuple[Issue, ...]:
        return tuple(i for i in self.issues if i.blocking)

    def codes(self) -> list[str]:
        return [i.code for i in self.issues]

    def __bool__(self) -> bool:
        return self.ok


@dataclass(frozen=True)
class Trust:
    """The trusted operators, as nats-server derives them from its ``operator`` setting."""

    operators: tuple[OperatorClaims, ...]

    @classmethod
    def from_jwts(cls, *tokens: str) -> Trust:
        return cls(tuple(decode_operator(extract_jwt(t)) for t in tokens))

    @property
    def operator(self) -> OperatorClaims:
        return self.operators[0]

    @property
    def system_account(self) -> str:
        return self.operators[0].nats.system_account if self.operators else ""

    def account_signers(self) -> frozenset[str]:
        """Keys that may issue account JWTs: identity keys (unless strict) and signing keys."""
        keys: set[str] = set()
        for op in self.operators:
            if not op.nats.strict_signing_key_usage:
                keys.add(op.sub)
            keys.update(op.nats.signing_keys)
        return frozenset(keys)

    def operator_of(self, key: str) -> OperatorClaims | None:
        for op in self.operators:
            if key == op.sub or key in op.nats.signing_keys:
                return op
        return None

    def is_operator_key(self, key: str, *, identity_ok: bool = True) -> bool:
        """True if ``key`` is a trusted operator key (identity only if allowed and not strict)."""
        op = self.operator_of(key)
        if op is None:
            return False
        if key == op.sub:
            return identity_ok and not op.nats.strict_signing_key_usage
        return True

    def identity_keys(self) -> list[OperatorKey]:
        return [OperatorKey(op.sub) for op in self.operators]


def check_times(claims: Claims, *, now: float | None = None, skew: int = 0, blocking: bool = True) -> list[Issue]:
    """``exp``/``nbf``: expired when ``now > exp``, not yet valid when ``nbf > now`` (± skew)."""
    t = time.time() if now is None else now
    issues = []
    if claims.exp > 0 and t - skew > claims.exp:
        issues.append(Issue("expired", f"claim is expired (exp {claims.exp})", blocking, True))
    if claims.nbf > 0 and claims.nbf > t + skew:
        issues.append(Issue("not_yet_valid", f"claim is not yet valid (nbf {claims.nbf})", blocking, True))
    return issues


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


def validate_operator(claims: OperatorClaims) -> Validation:
    issues = []
    if not is_operator_key(claims.sub):
        issues.append(Issue("invalid_key", "operator subject must be an operator key"))
    return Validation(tuple(issues + structure_issues(claims)))


def validate_account(
    claims: AccountClaims,
    trust: Trust,
    *,
    subject: str | None = None,
    now: float | None = None,
    skew: int = 0,
    time_blocking: bool = True,
) -> Validation:
    """Would nats-server accept this account JWT (``verifyAccountClaims``, SPEC §4.2)?"""
    issues: list[Issue] = []
    if not is_account_key(claims.sub):
        issues.append(Issue("invalid_key", f"account subject {claims.sub!r} is not an account key"))
    if subject is not None and claims.sub != subject:
        issues.append(Issue("subject_mismatch", f"JWT subject {claims.sub} does not match {subject}"))
    op = trust.operator_of(claims.iss)
    if op is None:
        if public_role(claims.iss) is Role.OPERATOR:
            issues.append(Issue(
                "unknown_signing_key",
                f"issuer {claims.iss} is neither a trusted operator nor one of its signing keys",
            ))
        elif claims.iss == claims.sub:
            message = "account is self-signed; nats-server trusts operator-signed accounts only"
            issues.append(Issue("untrusted_issuer", message))
        else:
            issues.append(Issue("untrusted_issuer", f"issuer {claims.iss} is not trusted"))
    elif claims.iss == op.sub and op.nats.strict_signing_key_usage:
        issues.append(Issue(
            "strict_signing_key",
            "operator requires issuer to be a signing key (strict_signing_key_usage)",
        ))
    issues += check_times(claims, now=now, skew=skew, blocking=time_blocking)
    issues += structure_issues(claims)
    return Validation(tuple(issues))


def check_account_token(
    token: str | bytes,
    trust: Trust,
    *,
    subject: str | None = None,
    now: float | None = None,
    skew: int = 0,
) -> tuple[AccountClaims | None, Validation]:
    """Decode and validate an account JWT; decode failures are returned as issues."""
    try:
        claims = decode_account(token)
    except DecodeError as exc:
        return None, Validation((Issue(exc.code, exc.message),))
    return claims, validate_account(claims, trust, subject=subject, now=now, skew=skew)


def account_user_signers(account: AccountClaims, trust: Trust | None = None) -> set[str]:
    """Keys that may sign users of ``account`` (SPEC §4.3).

    Its signing keys, plus its own key — unless the account was issued by a signing key of a
    strict operator, in which case users must be signed by account signing keys.
    """
    keys = set(account.nats.signing_key_ids())
    op = trust.operator_of(account.iss) if trust else None
    strict_issued = op is not None and op.nats.strict_signing_key_usage and account.iss != op.sub
    if not strict_issued:
        keys.add(account.sub)
    return keys


def is_revoked(account: AccountClaims, user: str, iat: int) -> bool:
    """``revocations[user] >= iat`` or ``revocations["*"] >= iat`` (note ``>=``)."""
    revs = account.nats.revocations
    return any(k in revs and revs[k] >= iat for k in (user, "*"))


def validate_user(
    claims: UserClaims,
    account: AccountClaims,
    trust: Trust | None = None,
    *,
    now: float | None = None,
    skew: int = 0,
) -> Validation:
    """Would nats-server let this user authenticate against ``account`` (SPEC §4.3, minus nonce)?"""
    issues = check_times(claims, now=now, skew=skew)
    if public_role(claims.sub) is not Role.USER:
        issues.append(Issue("invalid_key", f"user subject {claims.sub!r} is not a user key"))
    # The server finds the user's account by issuer_account, else by iss (SPEC §4.3).
    owner = claims.nats.issuer_account or claims.iss
    if owner != account.sub:
        if not claims.nats.issuer_account and claims.iss in account.nats.signing_key_ids():
            issues.append(Issue(
                "missing_issuer_account",
                "user is signed by a signing key but has no issuer_account",
            ))
        else:
            issues.append(Issue("subject_mismatch", f"user belongs to account {owner}, not {account.sub}"))
    elif claims.iss != account.sub:
        if claims.iss not in account.nats.signing_key_ids():
            issues.append(Issue(
                "unknown_signing_key",
                f"user issuer {claims.iss} is not a signing key of account {account.sub}",
            ))
        elif account.nats.scoped_key(claims.iss) is not None and claims.nats.has_permissions_or_limits():
            issues.append(Issue(
                "scoped_user_has_permissions",
                "user signed by a scoped signing key must not carry permissions or limits",
            ))
    elif claims.iss not in account_user_signers(account, trust):
        issues.append(Issue(
            "strict_signing_key",
            "account was issued under strict signing key usage; users must be signed by an account signing key",
        ))
    if trust is not None:
        issues += [i for i in validate_account(account, trust, now=now, skew=skew).issues if i.blocking]
    if is_revoked(account, claims.sub, claims.iat):
        issues.append(Issue("revoked", f"user {claims.sub} has been revoked"))
    issues += structure_issues(claims)
    return Validation(tuple(issues))


def unique(issues: Iterable[Issue]) -> tuple[Issue, ...]:
    seen: dict[tuple[str, str], Issue] = {}
    for i in issues:
        seen.setdefault((i.code, i.message), i)
    return tuple(seen.values())
