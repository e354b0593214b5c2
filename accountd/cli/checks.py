"""What ``accountd validate`` checks in a home (like ``nsc validate``, over the whole home).

Per operator: its own JWT (structure, self-signed, times); every account against the operator as
nats-server judges it (trusted issuer — a signing key the operator no longer lists is an error —,
strict mode, times, structure, JetStream on the system account); every import (a public one needs
a matching export of a local exporter, a private one an activation that is for this account, for
that subject, unexpired, unrevoked and signed by the exporter or one of its signing keys); every
user against its account (signer still listed, strict mode, times, structure; revoked, stale creds).
JWTs that expire within ``soon`` seconds are warnings.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from accountd.claims.codec import decode
from accountd.claims.creds import parse_creds
from accountd.claims.errors import ClaimsError, Issue
from accountd.claims.models import AccountClaims, ActivationClaims, Claims, Import, OperatorClaims
from accountd.claims.subjects import contained_in
from accountd.claims.validate import Trust, check_times, validate_account, validate_operator, validate_user
from accountd.cli.activations import activation_problems
from accountd.cli.describe import when
from accountd.nsc.home import Home
from accountd.nsc.store import OperatorDir

__all__ = ["Problem", "check_operator"]

_SOFT = frozenset({"revoked"})
"""Issues that are a deliberate state rather than a fault: warnings."""


@dataclass(frozen=True)
class Problem:
    level: str
    """``error`` or ``warning``."""
    operator: str
    account: str | None
    user: str | None
    kind: str
    """``operator``, ``account``, ``import``, ``user`` or ``server``."""
    code: str
    message: str

    def where(self) -> str:
        parts = [f"operator {self.operator}"]
        if self.account:
            parts.append(f"account {self.account}")
        if self.user:
            parts.append(f"user {self.user}")
        return " / ".join(parts)

    def to_json(self) -> dict[str, Any]:
        return {"level": self.level, "operator": self.operator, "account": self.account, "user": self.user,
                "kind": self.kind, "code": self.code, "message": self.message}


class _Report:
    def __init__(self, operator: str, soon: int, now: float) -> None:
        self.operator, self.soon, self.now = operator, soon, now
        self.problems: list[Problem] = []

    def add(self, level: str, kind: str, code: str, message: str, account: str | None = None,
            user: str | None = None) -> None:
        self.problems.append(Problem(level, self.operator, account, user, kind, code, message))

    def issues(self, issues: tuple[Issue, ...] | list[Issue], kind: str, account: str | None = None,
               user: str | None = None) -> None:
        for i in issues:
            level = "error" if i.blocking and i.code not in _SOFT else "warning"
            self.add(level, kind, i.code, i.message, account, user)

    def expiry(self, claims: Claims, kind: str, account: str | None = None, user: str | None = None) -> None:
        if claims.exp and self.now <= claims.exp <= self.now + self.soon:
            self.add("warning", kind, "expires_soon", f"the {kind} JWT expires at {when(claims.exp)}", account, user)


def _check_import(r: _Report, name: str, acct: AccountClaims, imp: Import, local: dict[str, tuple[str, AccountClaims]],
                  names: dict[str, str]) -> None:
    what = f"{imp.type} import {imp.subject!r} from {names.get(imp.account, imp.account)}"
    exporter_name, exporter = local.get(imp.account, (None, None))
    if imp.token:
        try:
            act = decode(imp.token)
        except ClaimsError as exc:
            r.add("error", "import", "bad_activation", f"{what}: the activation cannot be read: {exc.message}", name)
            return
        if not isinstance(act, ActivationClaims):
            r.add("error", "import", "bad_activation", f"{what}: the token is not an activation", name)
            return
        for problem in activation_problems(act, acct.sub, imp.account, imp.subject, imp.type, exporter, names=names,
                                           now=r.now):
            r.add("error", "import", "activation", f"{what}: {problem}", name)
        r.expiry(act, "activation", name)
        return
    if exporter is None:
        r.add("warning", "import", "exporter_unknown",
              f"{what}: the exporting account is not in this home, so its export cannot be checked", name)
        return
    export = next((e for e in exporter.nats.exports if e.type == imp.type and contained_in(imp.subject, e.subject)),
                  None)
    if export is None:
        r.add("error", "import", "not_exported", f"{what}: account {exporter_name!r} does not export it", name)
    elif export.token_req:
        r.add("error", "import", "activation_required",
              f"{what}: the export {export.subject!r} is private and the import has no activation", name)


def _check_users(h: Home, r: _Report, opdir: OperatorDir, name: str, acct: AccountClaims, trust: Trust) -> int:
    own = {(i.code, i.message) for i in validate_account(acct, trust, now=r.now).issues if i.blocking}
    users = opdir.users(name)
    for user in users:
        u = opdir.user(name, user)
        issues = [i for i in validate_user(u.claims, acct, trust, now=r.now).issues if (i.code, i.message) not in own]
        r.issues(issues, "user", name, user)
        r.expiry(u.claims, "user", name, user)
        path = h.keystore.creds_path(opdir.name, name, user)
        if path.is_file():
            try:
                stale = parse_creds(path).jwt != u.token
            except (ClaimsError, OSError):
                stale = True
            if stale:
                r.add("warning", "user", "stale_creds", f"{path} does not hold the user's current JWT; rewrite it "
                      f"with `accountd generate creds --account {name} --name {user} -o {path}`", name, user)
    return len(users)


def check_operator(h: Home, opdir: OperatorDir, *, soon: int, now: float | None = None) -> tuple[list[Problem],
                                                                                                  dict[str, int]]:
    """Every problem of one operator's tree, and how many accounts and users were checked."""
    r = _Report(opdir.name, soon, time.time() if now is None else now)
    op: OperatorClaims = opdir.operator().claims
    r.issues(validate_operator(op).issues, "operator")
    r.issues(check_times(op, now=r.now), "operator")
    r.expiry(op, "operator")
    if op.iss != op.sub and op.iss not in op.nats.signing_keys:
        r.add("error", "operator", "untrusted_issuer",
              "the operator is not issued by itself or one of its signing keys")
    trust = Trust((op,))
    local = {(e := opdir.account(n)).public_key: (n, e.claims) for n in opdir.accounts()}
    names = {key: n for key, (n, _) in local.items()}
    if op.nats.system_account and op.nats.system_account not in local:
        r.add("warning", "operator", "system_account_missing",
              f"the system account {op.nats.system_account} is not in this home")
    users = 0
    for _key, (name, acct) in sorted(local.items(), key=lambda kv: kv[1][0]):
        r.issues(validate_account(acct, trust, now=r.now).issues, "account", name)
        r.expiry(acct, "account", name)
        if acct.sub == op.nats.system_account and (acct.nats.limits.jetstream_flat().enabled() or any(
                t.enabled() for t in acct.nats.limits.tiered_limits.values())):
            r.add("error", "account", "jetstream_on_system_account",
                  "JetStream should not be enabled for the system account", name)
        for imp in acct.nats.imports:
            _check_import(r, name, acct, imp, local, names)
        users += _check_users(h, r, opdir, name, acct, trust)
    return r.problems, {"accounts": len(local), "users": users}
