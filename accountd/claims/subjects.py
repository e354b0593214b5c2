"""Subject containment, and the overlap rules Go's jwt library applies to exports and imports.

:func:`contained_in` is Go's ``Subject.IsContainedIn``. An account may not export, per kind, a
subject inside another export of that kind (``Exports.Validate``), nor import two services whose
local subjects overlap (``Imports.Validate``): nats-server would refuse the account JWT.
"""

from __future__ import annotations

from accountd.claims.models import Export, Import

__all__ = ["contained_in", "export_overlaps", "import_overlaps", "local_subject"]


def contained_in(subject: str, other: str) -> bool:
    """Every message on ``subject`` also matches ``other`` (Go's ``Subject.IsContainedIn``)."""
    mine, theirs = subject.split("."), other.split(".")
    if len(mine) > len(theirs) and theirs[-1] != ">":
        return False
    if len(mine) < len(theirs):
        return False
    for i, token in enumerate(theirs):
        if i == len(theirs) - 1 and token == ">":
            return True
        if token not in (mine[i], "*"):
            return False
    return True


def export_overlaps(exports: list[Export]) -> list[str]:
    """Go's sentences for exports inside another export of the same kind (blocking in Go)."""
    found: dict[tuple[str, str], str] = {}
    for i, e in enumerate(exports):
        for j, other in enumerate(exports):
            if i != j and e.type == other.type and contained_in(e.subject, other.subject):
                found.setdefault((other.type, other.subject), e.subject)
    return [f"{kind} export subject {outer!r} already exports {inner!r}"
            for (kind, outer), inner in sorted(found.items())]


def local_subject(imp: Import) -> str:
    """Where a service import lands in the importing account: ``to``, else ``local_subject`` (its
    ``$N`` references as ``*``), else the remote subject — as Go's ``Imports.Validate`` takes it."""
    if imp.to:
        return imp.to
    if imp.local_subject:
        return ".".join("*" if t.startswith("$") else t for t in imp.local_subject.split("."))
    return imp.subject


def import_overlaps(imports: list[Import]) -> list[str]:
    """Go's sentences for service imports whose local subjects overlap."""
    seen: list[str] = []
    out: list[str] = []
    for imp in imports:
        if imp.type != "service":
            continue
        sub = local_subject(imp)
        for k in seen:
            if k == sub:
                out.append(f"overlapping subject namespace for {sub!r}")
            elif contained_in(sub, k) or contained_in(k, sub):
                out.append(f"overlapping subject namespace for {sub!r} and {k!r}")
        seen.append(sub)
    return out
