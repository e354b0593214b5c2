"""What changed between two versions of an account's claims — the one diff of accountd.

:func:`diff_accounts` names the changes a service acting on an update cares about: limits,
signing keys, revocations, exports and imports; everything else that changed is listed by field
name in :attr:`AccountDiff.other`, with its values in :attr:`AccountDiff.other_values`. The
resolver's callbacks get it, ``push --diff`` prints :meth:`AccountDiff.lines`, and the history
routes and pages of ``accountd serve`` show it.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from typing import Any, Final

from accountd.claims.models import AccountClaims, AccountLimits, Export, Import, ScopedSigningKey

__all__ = ["AccountDiff", "diff_accounts"]

_LIMIT_FIELDS: Final = tuple(
    f.name for f in dataclasses.fields(AccountLimits) if f.name not in ("tiered_limits", "extra")
)
_HANDLED: Final = frozenset(
    {"limits", "signing_keys", "revocations", "exports", "imports", "type", "version", "extra"}
)
_NATS_OTHER: Final = tuple(
    f.name for f in dataclasses.fields(AccountClaims().nats) if f.name not in _HANDLED
)
_TOP_OTHER: Final = ("name", "exp", "nbf", "aud")


@dataclass(frozen=True, slots=True)
class AccountDiff:
    """The difference ``old`` → ``new`` of one account. Empty collections mean "unchanged".

    Exports are named ``"<type> <subject>"``, imports ``"<type> <account> <subject>"``.
    """

    account: str
    old_jti: str
    new_jti: str
    limits: dict[str, tuple[Any, Any]] = field(default_factory=dict)
    """Changed limits: name → (old, new); JetStream tiers appear as ``tiered_limits.<tier>``."""
    signing_keys_added: tuple[str, ...] = ()
    signing_keys_removed: tuple[str, ...] = ()
    signing_keys_changed: tuple[str, ...] = ()
    """Keys present in both whose scope (role, template, description) changed."""
    revocations_added: dict[str, int] = field(default_factory=dict)
    """New revocations and moved ones (user or ``*`` → new cut-off time)."""
    revocations_removed: tuple[str, ...] = ()
    exports_added: tuple[str, ...] = ()
    exports_removed: tuple[str, ...] = ()
    exports_changed: tuple[str, ...] = ()
    imports_added: tuple[str, ...] = ()
    imports_removed: tuple[str, ...] = ()
    imports_changed: tuple[str, ...] = ()
    other: tuple[str, ...] = ()
    """Other changed fields, by name (``name``, ``exp``, ``default_permissions``, ``mappings``…)."""
    other_values: dict[str, tuple[Any, Any]] = field(default_factory=dict)
    """The values of :attr:`other` (name → (old, new)), as Go's JSON shows them."""

    @property
    def changed(self) -> bool:
        return bool(
            self.limits or self.signing_keys_added or self.signing_keys_removed or self.signing_keys_changed
            or self.revocations_added or self.revocations_removed or self.exports_added or self.exports_removed
            or self.exports_changed or self.imports_added or self.imports_removed or self.imports_changed
            or self.other
        )  # fmt: skip

    @property
    def exports_or_imports_changed(self) -> bool:
        return bool(self.exports_added or self.exports_removed or self.exports_changed
                    or self.imports_added or self.imports_removed or self.imports_changed)  # fmt: skip

    def summary(self) -> str:
        """One line for a log: ``limits conn -1→1; signing keys +1 -0; revocations +2``."""
        parts = []
        if self.limits:
            parts.append("limits " + ", ".join(f"{k} {o}→{n}" for k, (o, n) in self.limits.items()))
        if self.signing_keys_added or self.signing_keys_removed or self.signing_keys_changed:
            text = f"signing keys +{len(self.signing_keys_added)} -{len(self.signing_keys_removed)}"
            if self.signing_keys_changed:
                text += f" ~{len(self.signing_keys_changed)}"
            parts.append(text)
        if self.revocations_added or self.revocations_removed:
            parts.append(f"revocations +{len(self.revocations_added)} -{len(self.revocations_removed)}")
        for what in ("exports", "imports"):
            added, removed, changed = (getattr(self, f"{what}_{k}") for k in ("added", "removed", "changed"))
            if added or removed or changed:
                parts.append(f"{what} +{len(added)} -{len(removed)} ~{len(changed)}")
        if self.other:
            parts.append("other " + ", ".join(self.other))
        return "; ".join(parts) or "no change"

    def lines(self) -> list[str]:
        """Every change as a line for people: ``limits.conn: -1 -> 5``, ``export added: service api.>``."""
        out = [f"limits.{k}: {_show(o)} -> {_show(n)}" for k, (o, n) in self.limits.items()]
        out += [f"signing key added: {k}" for k in self.signing_keys_added]
        out += [f"signing key removed: {k}" for k in self.signing_keys_removed]
        out += [f"signing key scope changed: {k}" for k in self.signing_keys_changed]
        out += [f"revocation added: {k} (before {v})" for k, v in self.revocations_added.items()]
        out += [f"revocation removed: {k}" for k in self.revocations_removed]
        for what in ("export", "import"):
            for how in ("added", "removed", "changed"):
                out += [f"{what} {how}: {item}" for item in getattr(self, f"{what}s_{how}")]
        out += [f"{k}: {_show(o)} -> {_show(n)}" for k, (o, n) in self.other_values.items()]
        return out

    def to_dict(self) -> dict[str, Any]:
        doc: dict[str, Any] = {"account": self.account, "old_jti": self.old_jti, "new_jti": self.new_jti}
        for f in dataclasses.fields(self):
            if f.name in doc:
                continue
            value = getattr(self, f.name)
            if f.name in ("limits", "other_values"):
                value = {k: {"old": o, "new": n} for k, (o, n) in value.items()}
            doc[f.name] = list(value) if isinstance(value, tuple) else value
        return doc


def _show(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def _go(value: Any) -> Any:
    """A value as Go's JSON shows it (structs through ``to_go``, lists and maps of them too)."""
    if hasattr(value, "to_go"):
        return value.to_go()
    if isinstance(value, list):
        return [_go(v) for v in value]
    if isinstance(value, dict):
        return {k: _go(v) for k, v in value.items()}
    return value


def _limits(old: AccountLimits, new: AccountLimits) -> dict[str, tuple[Any, Any]]:
    out: dict[str, tuple[Any, Any]] = {}
    for name in _LIMIT_FIELDS:
        a, b = getattr(old, name), getattr(new, name)
        if a != b:
            out[name] = (a, b)
    if old.tiered_limits != new.tiered_limits:
        for tier in sorted(set(old.tiered_limits) | set(new.tiered_limits)):
            a_tier, b_tier = old.tiered_limits.get(tier), new.tiered_limits.get(tier)
            if a_tier != b_tier:
                out[f"tiered_limits.{tier}"] = (
                    a_tier.to_go() if a_tier is not None else None,
                    b_tier.to_go() if b_tier is not None else None,
                )
    return out


def _keyed(items: list[Any], key: Any) -> dict[str, Any]:
    return {key(i): i for i in items}


def _export_key(e: Export) -> str:
    return f"{e.type} {e.subject}"


def _import_key(i: Import) -> str:
    return f"{i.type} {i.account} {i.subject}"


def _compare(old: dict[str, Any], new: dict[str, Any]) -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]:
    added = tuple(sorted(k for k in new if k not in old))
    removed = tuple(sorted(k for k in old if k not in new))
    changed = tuple(sorted(k for k in new if k in old and new[k] != old[k]))
    return added, removed, changed


def _signing_key_id(k: str | ScopedSigningKey) -> str:
    return k if isinstance(k, str) else k.key


def diff_accounts(old: AccountClaims, new: AccountClaims) -> AccountDiff:
    """Compare two versions of one account (``old`` may be the same object: an empty diff)."""
    a, b = old.nats, new.nats
    # Equal lists and maps are the common case of an update: skip the keyed comparisons then.
    same: tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]] = ((), (), ())
    sk = same if a.signing_keys == b.signing_keys else _compare(
        _keyed(a.signing_keys, _signing_key_id), _keyed(b.signing_keys, _signing_key_id))
    if a.revocations == b.revocations:
        revs_added: dict[str, int] = {}
        revs_removed: tuple[str, ...] = ()
    else:
        revs_added = {k: v for k, v in b.revocations.items() if a.revocations.get(k) != v}
        revs_removed = tuple(sorted(k for k in a.revocations if k not in b.revocations))
    ex = same if a.exports == b.exports else _compare(_keyed(a.exports, _export_key), _keyed(b.exports, _export_key))
    im = same if a.imports == b.imports else _compare(_keyed(a.imports, _import_key), _keyed(b.imports, _import_key))
    values = {n: (_go(getattr(old, n)), _go(getattr(new, n))) for n in _TOP_OTHER if getattr(old, n) != getattr(new, n)}
    values.update({n: (_go(getattr(a, n)), _go(getattr(b, n))) for n in _NATS_OTHER if getattr(a, n) != getattr(b, n)})
    other = list(values)
    if a.extra != b.extra:
        other.append("unknown fields")
        values["unknown fields"] = (_go(a.extra), _go(b.extra))
    return AccountDiff(
        account=new.sub,
        old_jti=old.jti,
        new_jti=new.jti,
        limits={} if a.limits == b.limits else _limits(a.limits, b.limits),
        signing_keys_added=sk[0],
        signing_keys_removed=sk[1],
        signing_keys_changed=sk[2],
        revocations_added=revs_added,
        revocations_removed=revs_removed,
        exports_added=ex[0],
        exports_removed=ex[1],
        exports_changed=ex[2],
        imports_added=im[0],
        imports_removed=im[1],
        imports_changed=im[2],
        other=tuple(other),
        other_values=values,
    )
