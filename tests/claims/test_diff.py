"""What changed between two versions of an account."""

from __future__ import annotations

from accountd.claims import AccountClaims, Export, Import, JetStreamLimits, Role, ScopedSigningKey, create, new_account
from accountd.claims.diff import diff_accounts


def _pair() -> tuple[AccountClaims, AccountClaims]:
    old = new_account(create(Role.ACCOUNT).public_key, "A")
    old.jti, old.iat = "J1", 100
    new = AccountClaims.from_go(old.to_go())
    new.jti, new.iat = "J2", 200
    return old, new


def test_identical_claims_have_an_empty_diff() -> None:
    old, new = _pair()
    diff = diff_accounts(old, new)
    assert not diff.changed
    assert diff.summary() == "no change"
    assert (diff.old_jti, diff.new_jti) == ("J1", "J2")


def test_changed_limits_are_named_with_old_and_new_values() -> None:
    old, new = _pair()
    new.nats.limits.conn = 1
    new.nats.limits.subs = 10
    new.nats.limits.tiered_limits = {"R1": JetStreamLimits(disk_storage=1024)}
    diff = diff_accounts(old, new)
    assert diff.limits["conn"] == (-1, 1)
    assert diff.limits["subs"] == (-1, 10)
    assert diff.limits["tiered_limits.R1"] == (None, {"disk_storage": 1024})
    assert diff.summary().startswith("limits ")


def test_signing_keys_added_removed_and_rescoped() -> None:
    old, new = _pair()
    kept, dropped, added = (create(Role.ACCOUNT).public_key for _ in range(3))
    old.nats.signing_keys = [ScopedSigningKey(key=kept, role="a"), dropped]
    new.nats.signing_keys = [ScopedSigningKey(key=kept, role="b"), added]
    diff = diff_accounts(old, new)
    assert diff.signing_keys_added == (added,)
    assert diff.signing_keys_removed == (dropped,)
    assert diff.signing_keys_changed == (kept,)


def test_revocations_added_moved_and_removed() -> None:
    old, new = _pair()
    u1, u2, u3 = (create(Role.USER).public_key for _ in range(3))
    old.nats.revocations = {u1: 10, u2: 20}
    new.nats.revocations = {u1: 15, u3: 30, "*": 5}
    diff = diff_accounts(old, new)
    assert diff.revocations_added == {u1: 15, u3: 30, "*": 5}
    assert diff.revocations_removed == (u2,)


def test_exports_and_imports_by_subject() -> None:
    old, new = _pair()
    other = create(Role.ACCOUNT).public_key
    old.nats.exports = [Export(subject="a.>", type="stream"), Export(subject="svc", type="service")]
    new.nats.exports = [Export(subject="a.>", type="stream", description="now documented"),
                        Export(subject="b.>", type="stream")]
    old.nats.imports = [Import(subject="x", account=other, type="service")]
    diff = diff_accounts(old, new)
    assert diff.exports_added == ("stream b.>",)
    assert diff.exports_removed == ("service svc",)
    assert diff.exports_changed == ("stream a.>",)
    assert diff.imports_removed == (f"service {other} x",)
    assert diff.exports_or_imports_changed


def test_other_fields_are_listed_by_name() -> None:
    old, new = _pair()
    new.name = "RENAMED"
    new.exp = 999
    new.nats.description = "new text"
    new.nats.mappings = {"a": []}
    diff = diff_accounts(old, new)
    assert set(diff.other) == {"name", "exp", "description", "mappings"}
    assert diff.to_dict()["other"] == list(diff.other)


def test_lines_for_people_name_every_change_with_its_values() -> None:
    old, new = _pair()
    new.nats.limits.conn = 5
    new.name = "B"
    new.nats.tags = ["tier:gold"]
    new.nats.exports = [Export(name="api", subject="api.>", type="service")]
    new.nats.signing_keys = [create(Role.ACCOUNT).public_key]
    lines = diff_accounts(old, new).lines()
    assert lines[0] == "limits.conn: -1 -> 5"
    assert f"signing key added: {new.nats.signing_keys[0]}" in lines
    assert "export added: service api.>" in lines
    assert 'name: "A" -> "B"' in lines and 'tags: [] -> ["tier:gold"]' in lines
    assert diff_accounts(old, old).lines() == []
    assert diff_accounts(old, new).to_dict()["other_values"]["name"] == {"old": "A", "new": "B"}
