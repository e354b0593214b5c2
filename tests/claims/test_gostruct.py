"""Decoding JSON into claim structures as Go does: types, zero values, case and unknown keys."""

from __future__ import annotations

from typing import Any

import pytest

from accountd.claims import (
    AccountClaims,
    AccountLimits,
    DecodeError,
    Export,
    KeyPair,
    Permission,
    Role,
    User,
    create,
    decode_account,
    encode,
    new_account,
)

from .tokens import payload_bytes, payload_of, sign_payload

NOW = 1_800_000_000


def _account_payload(**limits: Any) -> dict[str, Any]:
    return {"iat": NOW, "iss": create(Role.OPERATOR).public_key, "sub": create(Role.ACCOUNT).public_key,
            "nats": {"limits": limits, "type": "account", "version": 2}}


def _decode_error(data: dict[str, Any], cls: Any = AccountClaims) -> DecodeError:
    with pytest.raises(DecodeError) as exc:
        cls.from_go(data)
    return exc.value


def test_ints_stay_ints_through_a_round_trip() -> None:
    operator: KeyPair = create(Role.OPERATOR)
    claims = new_account(create(Role.ACCOUNT).public_key)
    claims.nats.limits.disk_storage = 1 << 40
    token = encode(claims, operator, now=NOW)
    assert b'"disk_storage":1099511627776' in payload_bytes(token)
    limits = decode_account(token).nats.limits
    assert type(limits.disk_storage) is int and type(limits.conn) is int


def test_float_where_an_int_belongs_is_a_decode_error() -> None:
    err = _decode_error(_account_payload(conn=1.0))
    assert (err.code, err.message) == ("bad_encoding", "nats.limits.conn: expected an integer, got float")


def test_bool_where_an_int_belongs_is_a_decode_error() -> None:
    err = _decode_error(_account_payload(subs=True))
    assert (err.code, err.message) == ("bad_encoding", "nats.limits.subs: expected an integer, got bool")


def test_int_beyond_int64_is_a_decode_error() -> None:
    err = _decode_error(_account_payload(data=1 << 63))
    assert (err.code, err.message) == ("bad_encoding", f"nats.limits.data: integer {1 << 63} does not fit in int64")


def test_string_where_a_bool_belongs_is_a_decode_error() -> None:
    err = _decode_error(_account_payload(wildcards="true"))
    assert (err.code, err.message) == ("bad_encoding", "nats.limits.wildcards: expected a boolean, got str")


def test_number_where_a_string_belongs_is_a_decode_error() -> None:
    payload = _account_payload()
    payload["name"] = 5
    err = _decode_error(payload)
    assert (err.code, err.message) == ("bad_encoding", "name: expected a string, got int")


def test_object_where_a_list_belongs_is_a_decode_error() -> None:
    payload = _account_payload()
    payload["nats"]["exports"] = {"subject": "x"}
    err = _decode_error(payload)
    assert (err.code, err.message) == ("bad_encoding", "nats.exports: expected a list, got dict")


def test_bad_element_of_a_list_is_named_by_index() -> None:
    payload = _account_payload()
    payload["nats"]["exports"] = [{"subject": "x"}, {"subject": 1}]
    err = _decode_error(payload)
    assert err.message == "nats.exports[1].subject: expected a string, got int"


def test_bad_value_in_a_map_is_named_by_key() -> None:
    payload = _account_payload()
    payload["nats"]["revocations"] = {"*": "yesterday"}
    err = _decode_error(payload)
    assert err.message == "nats.revocations.*: expected an integer, got str"


def test_unknown_signing_key_kind_is_a_decode_error() -> None:
    payload = _account_payload()
    payload["nats"]["signing_keys"] = [{"kind": "server_scope", "key": "A"}]
    err = _decode_error(payload)
    assert err.message == "nats.signing_keys[0]: unknown signing key kind 'server_scope'"


def test_decode_of_a_non_object_names_the_struct() -> None:
    err = _decode_error([], AccountLimits)  # type: ignore[arg-type]
    assert err.message == "AccountLimits: expected an object, got list"


def test_absent_limits_decode_to_go_zero_values_not_unlimited() -> None:
    # SPEC §3.12: an account JWT without limits means conn 0 (nobody connects) to nats-server.
    limits = AccountClaims.from_go(_account_payload()).nats.limits
    assert (limits.conn, limits.subs, limits.payload, limits.wildcards) == (0, 0, 0, False)
    assert limits == AccountLimits.from_go({})


def test_absent_user_limits_decode_to_zero() -> None:
    user = User.from_go({"pub": {}, "sub": {}})
    assert (user.subs, user.data, user.payload) == (0, 0, 0)


def test_json_null_decodes_to_the_zero_value() -> None:
    limits = AccountLimits.from_go({"conn": None, "tiered_limits": None, "wildcards": None})
    assert (limits.conn, limits.tiered_limits, limits.wildcards) == (0, {}, False)
    assert Export.from_go({"service_latency": None, "revocations": None}).service_latency is None


def test_keys_match_case_insensitively() -> None:
    limits = AccountLimits.from_go({"Conn": 5, "SUBS": 7})
    assert (limits.conn, limits.subs, limits.extra) == (5, 7, {})


def test_last_of_two_matching_keys_wins() -> None:
    assert AccountLimits.from_go({"conn": 5, "Conn": 6}).conn == 6
    assert AccountLimits.from_go({"Conn": 6, "conn": 5}).conn == 5


def test_src_accepts_a_comma_separated_string() -> None:
    assert User.from_go({"src": "10.0.0.0/8, 192.168.1.1/32"}).src == ["10.0.0.0/8", "192.168.1.1/32"]


def test_unknown_keys_are_kept_in_order_and_written_back_last() -> None:
    perm = Permission.from_go({"allow": ["a"], "future": 1, "deny": ["b"], "later": {"x": 2}})
    assert perm.extra == {"future": 1, "later": {"x": 2}}
    assert list(perm.to_go()) == ["allow", "deny", "future", "later"]


def test_decoded_lists_are_not_shared_with_the_input() -> None:
    data = {"allow": ["a"]}
    perm = Permission.from_go(data)
    perm.allow.append("b")
    assert data == {"allow": ["a"]}


def test_from_go_of_to_go_is_identity_for_a_signed_account() -> None:
    operator = create(Role.OPERATOR)
    claims = new_account(create(Role.ACCOUNT).public_key, "A")
    token = encode(claims, operator, now=NOW)
    assert AccountClaims.from_go(payload_of(token)) == claims
    assert AccountClaims.from_go(claims.to_go()) == claims


def test_signed_payload_with_a_float_limit_is_refused_by_decode() -> None:
    operator = create(Role.OPERATOR)
    payload = _account_payload(conn=5.5)
    payload["iss"] = operator.public_key
    with pytest.raises(DecodeError) as exc:
        decode_account(sign_payload(payload, operator))
    assert exc.value.message == "nats.limits.conn: expected an integer, got float"
