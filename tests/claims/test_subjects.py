"""Subject containment and Go's overlap rules for exports and imports."""

from __future__ import annotations

import pytest

from accountd.claims import Export, Import, Role, create, new_account
from accountd.claims.structure import structure_issues
from accountd.claims.subjects import contained_in, export_overlaps, import_overlaps


@pytest.mark.parametrize(("subject", "other", "inside"), [
    ("a.b", "a.b", True), ("a.b", "a.*", True), ("a.b.c", "a.>", True), ("a", "a.>", False),
    ("a.*", "a.b", False), ("a.b.c", "a.*", False), ("a.>", "a.*", True), ("a.b", "a.b.c", False),
])
def test_contained_in_is_gos(subject: str, other: str, inside: bool) -> None:
    """Token by token, as Go compares (so "a.>" counts as inside "a.*": its second token is one token)."""
    assert contained_in(subject, other) is inside


def test_an_export_inside_another_of_its_kind_is_gos_blocking_issue() -> None:
    exports = [Export(subject="api.>", type="service"), Export(subject="api.orders", type="service"),
               Export(subject="api.orders", type="stream")]
    assert export_overlaps(exports) == ["service export subject 'api.>' already exports 'api.orders'"]
    claims = new_account(create(Role.ACCOUNT).public_key, "A")
    claims.nats.exports = exports
    issues = structure_issues(claims)
    assert any(i.blocking and "already exports" in i.message for i in issues)


def test_service_imports_may_not_overlap_where_they_land() -> None:
    src = create(Role.ACCOUNT).public_key
    imports = [Import(subject="svc.a.>", account=src, type="service"),
               Import(subject="other.x", account=src, type="service", local_subject="svc.a.x"),
               Import(subject="feed.>", account=src, type="stream"),
               Import(subject="feed.>", account=src, type="stream")]
    assert import_overlaps(imports) == ["overlapping subject namespace for 'svc.a.x' and 'svc.a.>'"]
    assert import_overlaps([Import(subject="q.$1", account=src, type="service", local_subject="l.$1"),
                            Import(subject="l.x", account=src, type="service")]) == \
        ["overlapping subject namespace for 'l.x' and 'l.*'"]
