"""Validation decides as nats-server does; every problem has its own code and sentence."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from accountd.claims import (
    AccountClaims,
    Export,
    Import,
    Issue,
    JetStreamLimits,
    KeyPair,
    Role,
    ScopedSigningKey,
    Trust,
    UserClaims,
    UserPermissionLimits,
    Validation,
    WeightedMapping,
    account_user_signers,
    check_account_token,
    check_times,
    create,
    decode_account,
    decode_user,
    decorate_jwt,
    encode,
    is_revoked,
    new_account,
    new_operator,
    new_user,
    validate_account,
    validate_operator,
    validate_user,
)

from .vectors import VECTOR_SETS

NOW = 1_800_000_000


@dataclass
class World:
    """An operator with a signing key, an account A with a signing key, as nsc sets them up."""

    operator: KeyPair
    operator_sk: KeyPair
    account: KeyPair
    account_sk: KeyPair
    trust: Trust
    strict: bool = False

    def account_claims(self, signer: KeyPair | None = None, **changes: Any) -> AccountClaims:
        claims = new_account(self.account.public_key, "A")
        claims.nats.signing_keys = [self.account_sk.public_key]
        for key, value in changes.items():
            setattr(claims, key, value)
        return decode_account(encode(claims, signer or self.operator_sk, now=NOW))

    def user_claims(self, signer: KeyPair | None = None, *, issuer_account: str | None = None,
                    iat: int = NOW, **changes: Any) -> UserClaims:
        signer = signer or self.account
        if issuer_account is None:
            issuer_account = self.account.public_key if signer is not self.account else ""
        claims = new_user(create(Role.USER).public_key, "U", issuer_account=issuer_account)
        for key, value in changes.items():
            setattr(claims, key, value)
        return decode_user(encode(claims, signer, now=iat))


def _world(strict: bool = False) -> World:
    operator, operator_sk = create(Role.OPERATOR), create(Role.OPERATOR)
    op = new_operator(operator.public_key, "OP")
    op.nats.signing_keys = [operator_sk.public_key]
    op.nats.strict_signing_key_usage = strict
    trust = Trust.from_jwts(encode(op, operator, now=NOW))
    return World(operator, operator_sk, create(Role.ACCOUNT), create(Role.ACCOUNT), trust, strict)


@pytest.fixture
def world() -> World:
    return _world()


def _only(validation: Validation) -> Issue:
    """The single issue of a validation (one behaviour per test)."""
    assert len(validation.issues) == 1, validation.issues
    return validation.issues[0]


def _codes(validation: Validation) -> set[str]:
    return {i.code for i in validation.issues}


# --- the reference vectors -----------------------------------------------------------------


@pytest.mark.parametrize("vector_set", VECTOR_SETS)
@pytest.mark.parametrize("name", ["A", "SYS"])
def test_every_vector_account_is_valid_under_its_operator(vector_set: str, name: str,
                                                          request: pytest.FixtureRequest) -> None:
    vectors = request.getfixturevalue(vector_set)
    trust = Trust.from_jwts(vectors.jwt("operator"))
    claims, validation = check_account_token(vectors.jwt(name), trust, subject=vectors.summary[
        "account" if name == "A" else "system_account"]["public_key"])
    assert claims is not None
    assert validation.issues == ()


@pytest.mark.parametrize("vector_set", VECTOR_SETS)
@pytest.mark.parametrize(("user", "account"), [("U", "A"), ("sys", "SYS")])
def test_every_vector_user_is_valid_for_its_account(vector_set: str, user: str, account: str,
                                                    request: pytest.FixtureRequest) -> None:
    vectors = request.getfixturevalue(vector_set)
    trust = Trust.from_jwts(vectors.jwt("operator"))
    validation = validate_user(decode_user(vectors.jwt(user)), decode_account(vectors.jwt(account)), trust)
    assert validation.issues == ()


def test_signing_vector_accounts_are_issued_by_the_operator_signing_key(signing: Any) -> None:
    operator_sk = signing.summary["operator_signing_key"]["public_key"]
    trust = Trust.from_jwts(signing.jwt("operator"))
    assert operator_sk in trust.account_signers()
    assert decode_account(signing.jwt("A")).iss == operator_sk
    assert decode_account(signing.jwt("A")).nats.limits.conn == 5


def test_signing_vector_user_is_signed_by_the_account_signing_key(signing: Any) -> None:
    account = decode_account(signing.jwt("A"))
    user = decode_user(signing.jwt("U"))
    assert user.iss in account.nats.signing_key_ids()
    assert user.nats.issuer_account == account.sub
    assert user.iss in account_user_signers(account, Trust.from_jwts(signing.jwt("operator")))


@pytest.mark.parametrize("vector_set", VECTOR_SETS)
def test_every_vector_operator_is_valid_and_names_the_system_account(vector_set: str,
                                                                     request: pytest.FixtureRequest) -> None:
    vectors = request.getfixturevalue(vector_set)
    trust = Trust.from_jwts(vectors.jwt("operator"))
    assert trust.system_account == vectors.summary["system_account"]["public_key"]
    assert validate_operator(trust.operator).issues == ()


def test_trust_reads_a_decorated_operator_jwt(basic: Any) -> None:
    trust = Trust.from_jwts(decorate_jwt(basic.jwt("operator"), "operator"))
    assert trust.identity_keys() == [basic.summary["operator"]["public_key"]]


# --- accounts: trust -------------------------------------------------------------------------


def test_account_signed_by_operator_identity_is_valid(world: World) -> None:
    assert validate_account(world.account_claims(world.operator), world.trust, now=NOW).issues == ()


def test_account_signed_by_operator_signing_key_is_valid(world: World) -> None:
    assert validate_account(world.account_claims(world.operator_sk), world.trust, now=NOW).issues == ()


def test_account_signed_by_an_unlisted_operator_key_is_unknown_signing_key(world: World) -> None:
    stranger = create(Role.OPERATOR)
    issue = _only(validate_account(world.account_claims(stranger), world.trust, now=NOW))
    assert (issue.code, issue.message) == (
        "unknown_signing_key",
        f"issuer {stranger.public_key} is neither a trusted operator nor one of its signing keys")


def test_self_signed_account_is_untrusted_issuer(world: World) -> None:
    claims = world.account_claims(world.account)
    validation = validate_account(claims, world.trust, now=NOW)
    assert not validation.ok
    issue = validation.blocking[0]
    assert (issue.code, issue.message) == (
        "untrusted_issuer", "account is self-signed; nats-server trusts operator-signed accounts only")


def test_account_signed_by_another_account_is_untrusted_issuer(world: World) -> None:
    other = create(Role.ACCOUNT)
    issue = _only(validate_account(world.account_claims(other), world.trust, now=NOW))
    assert (issue.code, issue.message) == ("untrusted_issuer", f"issuer {other.public_key} is not trusted")


def test_strict_operator_refuses_an_account_signed_by_its_identity_key() -> None:
    world = _world(strict=True)
    issue = _only(validate_account(world.account_claims(world.operator), world.trust, now=NOW))
    assert (issue.code, issue.message) == (
        "strict_signing_key", "operator requires issuer to be a signing key (strict_signing_key_usage)")


def test_strict_operator_accepts_an_account_signed_by_its_signing_key() -> None:
    world = _world(strict=True)
    assert validate_account(world.account_claims(world.operator_sk), world.trust, now=NOW).issues == ()


def test_strict_operator_identity_is_not_an_account_signer() -> None:
    world = _world(strict=True)
    assert world.trust.account_signers() == {world.operator_sk.public_key}
    assert not world.trust.is_operator_key(world.operator.public_key)
    assert world.trust.is_operator_key(world.operator_sk.public_key)


def test_account_for_another_subject_is_subject_mismatch(world: World) -> None:
    other = create(Role.ACCOUNT).public_key
    issue = _only(validate_account(world.account_claims(), world.trust, subject=other, now=NOW))
    assert (issue.code, issue.message) == (
        "subject_mismatch", f"JWT subject {world.account.public_key} does not match {other}")


# --- accounts: time ------------------------------------------------------------------------


def test_expired_account_is_expired(world: World) -> None:
    issue = _only(validate_account(world.account_claims(exp=NOW + 10), world.trust, now=NOW + 11))
    assert (issue.code, issue.message, issue.blocking, issue.time_check) == (
        "expired", f"claim is expired (exp {NOW + 10})", True, True)


def test_account_at_its_exp_second_is_not_yet_expired(world: World) -> None:
    assert validate_account(world.account_claims(exp=NOW + 10), world.trust, now=NOW + 10).ok


def test_account_before_nbf_is_not_yet_valid(world: World) -> None:
    issue = _only(validate_account(world.account_claims(nbf=NOW + 60), world.trust, now=NOW))
    assert (issue.code, issue.message, issue.blocking, issue.time_check) == (
        "not_yet_valid", f"claim is not yet valid (nbf {NOW + 60})", True, True)


def test_clock_skew_tolerates_a_just_expired_account(world: World) -> None:
    claims = world.account_claims(exp=NOW)
    assert not validate_account(claims, world.trust, now=NOW + 5).ok
    assert validate_account(claims, world.trust, now=NOW + 5, skew=5).ok


def test_clock_skew_tolerates_an_almost_valid_account(world: World) -> None:
    claims = world.account_claims(nbf=NOW + 5)
    assert not validate_account(claims, world.trust, now=NOW).ok
    assert validate_account(claims, world.trust, now=NOW, skew=5).ok


def test_time_issues_can_be_made_non_blocking(world: World) -> None:
    validation = validate_account(world.account_claims(exp=NOW), world.trust, now=NOW + 1, time_blocking=False)
    assert validation.ok and _codes(validation) == {"expired"}


def test_check_times_ignores_zero_exp_and_nbf(world: World) -> None:
    assert check_times(world.account_claims(), now=NOW * 10) == []


# --- accounts: structure -------------------------------------------------------------------


def test_import_with_an_invalid_type_is_a_structure_issue(world: World) -> None:
    claims = world.account_claims()
    claims.nats.imports = [Import(subject="x", account=create(Role.ACCOUNT).public_key, type="queue")]
    issue = _only(validate_account(claims, world.trust, now=NOW))
    assert (issue.code, issue.message) == ("structure", "import 'x' has an invalid type 'queue'")


def test_more_exports_than_the_limit_is_a_structure_issue(world: World) -> None:
    claims = world.account_claims()
    claims.nats.limits.exports = 1
    claims.nats.exports = [Export(subject="a", type="stream"), Export(subject="b", type="stream")]
    issue = _only(validate_account(claims, world.trust, now=NOW))
    assert (issue.code, issue.message) == ("structure", "account contains more exports than allowed (2>1)")


def test_flat_and_tiered_jetstream_limits_are_exclusive(world: World) -> None:
    claims = world.account_claims()
    claims.nats.limits.mem_storage = 1
    claims.nats.limits.tiered_limits = {"R1": JetStreamLimits(mem_storage=1)}
    issue = _only(validate_account(claims, world.trust, now=NOW))
    assert issue.message == "tiered JetStream limits and flat JetStream limits are exclusive"


def test_mapping_weights_over_100_are_a_structure_issue(world: World) -> None:
    claims = world.account_claims()
    claims.nats.mappings = {"a": [WeightedMapping(subject="b", weight=60), WeightedMapping(subject="c", weight=50)]}
    issue = _only(validate_account(claims, world.trust, now=NOW))
    assert issue.message == "mapping 'a': weights add up to 110 (over 100)"


def test_self_signed_account_with_limits_gets_a_non_blocking_warning(world: World) -> None:
    claims = world.account_claims(world.account)
    claims.nats.limits.conn = 5
    warning = next(i for i in validate_account(claims, world.trust, now=NOW).issues if i.code == "structure")
    assert not warning.blocking
    assert warning.message == "self-signed account has limits that will be ignored"


# --- check_account_token -------------------------------------------------------------------


def test_check_account_token_turns_a_decode_failure_into_an_issue(world: World) -> None:
    claims, validation = check_account_token("not.a.jwt", world.trust)
    assert claims is None and not validation.ok
    assert _codes(validation) == {"bad_encoding"}


def test_check_account_token_refuses_a_user_token(basic: Any) -> None:
    claims, validation = check_account_token(basic.jwt("U"), Trust.from_jwts(basic.jwt("operator")))
    issue = _only(validation)
    assert claims is None
    assert (issue.code, issue.message) == ("wrong_type", "expected account claims, got user")


def test_validation_is_falsy_when_blocked(world: World) -> None:
    _, validation = check_account_token("x", world.trust)
    assert not validation and not validation.ok and validation.blocking == validation.issues


# --- users ---------------------------------------------------------------------------------


def test_user_signed_by_the_account_is_valid(world: World) -> None:
    assert validate_user(world.user_claims(), world.account_claims(), world.trust, now=NOW).issues == ()


def test_user_signed_by_an_account_signing_key_is_valid(world: World) -> None:
    user = world.user_claims(world.account_sk)
    assert validate_user(user, world.account_claims(), world.trust, now=NOW).issues == ()


def test_user_signed_by_a_signing_key_without_issuer_account_is_missing_issuer_account(world: World) -> None:
    user = world.user_claims(world.account_sk, issuer_account="")
    validation = validate_user(user, world.account_claims(), world.trust, now=NOW)
    issue = _only(validation)
    assert (issue.code, issue.message) == (
        "missing_issuer_account", "user is signed by a signing key but has no issuer_account")


def test_user_signed_by_a_key_the_account_does_not_list_is_unknown_signing_key(world: World) -> None:
    stranger = create(Role.ACCOUNT)
    issue = _only(validate_user(world.user_claims(stranger), world.account_claims(), world.trust, now=NOW))
    assert (issue.code, issue.message) == (
        "unknown_signing_key",
        f"user issuer {stranger.public_key} is not a signing key of account {world.account.public_key}")


def test_user_of_another_account_is_subject_mismatch(world: World) -> None:
    other = create(Role.ACCOUNT)
    user = world.user_claims(other, issuer_account="")
    issue = _only(validate_user(user, world.account_claims(), world.trust, now=NOW))
    assert (issue.code, issue.message) == (
        "subject_mismatch", f"user belongs to account {other.public_key}, not {world.account.public_key}")


def test_scoped_user_with_permissions_is_refused(world: World) -> None:
    account = world.account_claims()
    account.nats.signing_keys = [ScopedSigningKey(key=world.account_sk.public_key, role="app",
                                                  template=UserPermissionLimits())]
    user = world.user_claims(world.account_sk)  # new_user's -1 limits count as limits
    issue = _only(validate_user(user, account, world.trust, now=NOW))
    assert (issue.code, issue.message) == (
        "scoped_user_has_permissions", "user signed by a scoped signing key must not carry permissions or limits")


def test_scoped_user_with_the_empty_shape_is_valid(world: World) -> None:
    account = world.account_claims()
    account.nats.signing_keys = [ScopedSigningKey(key=world.account_sk.public_key, role="app",
                                                  template=UserPermissionLimits())]
    claims = new_user(create(Role.USER).public_key, "U", issuer_account=world.account.public_key)
    claims.nats.clear_for_scope()
    user = decode_user(encode(claims, world.account_sk, now=NOW))
    assert validate_user(user, account, world.trust, now=NOW).issues == ()


def test_user_signed_by_the_account_of_a_strict_operator_signing_key_is_refused() -> None:
    world = _world(strict=True)
    issue = _only(validate_user(world.user_claims(), world.account_claims(world.operator_sk), world.trust, now=NOW))
    assert (issue.code, issue.message) == (
        "strict_signing_key",
        "account was issued under strict signing key usage; users must be signed by an account signing key")


def test_expired_user_is_expired(world: World) -> None:
    issue = _only(validate_user(world.user_claims(exp=NOW + 1), world.account_claims(), world.trust, now=NOW + 2))
    assert (issue.code, issue.message) == ("expired", f"claim is expired (exp {NOW + 1})")


def test_not_yet_valid_user_is_not_yet_valid(world: World) -> None:
    issue = _only(validate_user(world.user_claims(nbf=NOW + 9), world.account_claims(), world.trust, now=NOW))
    assert (issue.code, issue.message) == ("not_yet_valid", f"claim is not yet valid (nbf {NOW + 9})")


def test_user_of_an_untrusted_account_is_refused(world: World) -> None:
    validation = validate_user(world.user_claims(), world.account_claims(world.account), world.trust, now=NOW)
    assert _codes(validation) == {"untrusted_issuer"}


# --- revocations ---------------------------------------------------------------------------


def test_user_revoked_at_its_iat_is_revoked(world: World) -> None:
    user = world.user_claims(iat=NOW - 100)
    account = world.account_claims()
    account.nats.revocations = {user.sub: user.iat}  # >=: the same second counts
    issue = _only(validate_user(user, account, world.trust, now=NOW))
    assert (issue.code, issue.message) == ("revoked", f"user {user.sub} has been revoked")


def test_user_issued_after_its_revocation_is_not_revoked(world: World) -> None:
    user = world.user_claims(iat=NOW - 100)
    account = world.account_claims()
    account.nats.revocations = {user.sub: user.iat - 1}
    assert validate_user(user, account, world.trust, now=NOW).issues == ()


def test_wildcard_revocation_revokes_every_older_user(world: World) -> None:
    user = world.user_claims(iat=NOW - 100)
    account = world.account_claims()
    account.nats.revocations = {"*": NOW - 100}
    assert _codes(validate_user(user, account, world.trust, now=NOW)) == {"revoked"}


def test_is_revoked_applies_the_greater_or_equal_rule(world: World) -> None:
    account = world.account_claims()
    account.nats.revocations = {"UX": 100, "*": 50}
    assert is_revoked(account, "UX", 100) and is_revoked(account, "UX", 99)
    assert not is_revoked(account, "UX", 101)
    assert is_revoked(account, "UY", 50) and not is_revoked(account, "UY", 51)


def test_user_naming_another_issuer_account_is_subject_mismatch(world: World) -> None:
    other = create(Role.ACCOUNT).public_key
    user = world.user_claims(world.account_sk, issuer_account=other)
    issue = _only(validate_user(user, world.account_claims(), world.trust, now=NOW))
    assert (issue.code, issue.message) == (
        "subject_mismatch", f"user belongs to account {other}, not {world.account.public_key}")
