"""Claim models: encode → decode gives equal claims for every field, in Go's shapes and orders."""

from __future__ import annotations

import json
from typing import Any

import pytest

from accountd.claims import (
    AccountClaims,
    Authorization,
    Export,
    GenericClaims,
    Import,
    JetStreamLimits,
    KeyPair,
    OperatorClaims,
    Permission,
    Permissions,
    ResponsePermission,
    Role,
    ScopedSigningKey,
    ServiceLatency,
    TimeRange,
    Trace,
    UserClaims,
    UserPermissionLimits,
    WeightedMapping,
    create,
    decode,
    decode_account,
    encode,
    new_account,
    new_operator,
    new_user,
)
from accountd.claims.models import Activation, ActivationClaims

from .tokens import payload_bytes, payload_of

NOW = 1_800_000_000


@pytest.fixture
def operator() -> KeyPair:
    return create(Role.OPERATOR)


@pytest.fixture
def account() -> KeyPair:
    return create(Role.ACCOUNT)


def _round_trip(claims: Any, signer: KeyPair) -> Any:
    token = encode(claims, signer, now=NOW)
    decoded = decode(token)
    assert type(decoded) is type(claims)
    return decoded


# --- operator ------------------------------------------------------------------------------


def test_operator_round_trips_with_every_field(operator: KeyPair) -> None:
    claims = new_operator(operator.public_key, "OP")
    claims.nats.signing_keys = [create(Role.OPERATOR).public_key, create(Role.OPERATOR).public_key]
    claims.nats.account_server_url = "http://127.0.0.1:9090/jwt/v1"
    claims.nats.operator_service_urls = ["nats://127.0.0.1:4222", "tls://nats.example:4443"]
    claims.nats.system_account = create(Role.ACCOUNT).public_key
    claims.nats.assert_server_version = "2.10.0"
    claims.nats.strict_signing_key_usage = True
    claims.nats.tags = ["env:prod"]
    claims.aud, claims.exp, claims.nbf = "audience", NOW + 3600, NOW - 60
    assert _round_trip(claims, operator) == claims


def test_operator_signing_keys_keep_insertion_order(operator: KeyPair) -> None:
    keys = sorted(create(Role.OPERATOR).public_key for _ in range(3))[::-1]
    claims = new_operator(operator.public_key, "OP")
    claims.nats.signing_keys = list(keys)
    assert payload_of(encode(claims, operator, now=NOW))["nats"]["signing_keys"] == keys


def test_operator_default_shape_matches_go(operator: KeyPair) -> None:
    claims = new_operator(operator.public_key, "OP")
    encode(claims, operator, now=NOW)
    expected = (
        f'{{"jti":"{claims.jti}","iat":{NOW},"iss":"{operator.public_key}","name":"OP",'
        f'"sub":"{operator.public_key}","nats":{{"type":"operator","version":2}}}}'
    )
    assert payload_bytes(encode(claims, operator, now=NOW)).decode() == expected


# --- account -------------------------------------------------------------------------------


def _full_account(account: KeyPair) -> AccountClaims:
    claims = new_account(account.public_key, "ORDERS")
    acc = claims.nats
    acc.limits.subs, acc.limits.data, acc.limits.payload = 1000, 1 << 30, 1 << 20
    acc.limits.imports, acc.limits.exports, acc.limits.wildcards = 10, 10, False
    acc.limits.disallow_bearer, acc.limits.conn, acc.limits.leaf = True, 100, 5
    acc.limits.mem_storage, acc.limits.disk_storage = 1 << 30, 10 << 30
    acc.limits.streams, acc.limits.consumer, acc.limits.max_ack_pending = 10, 100, 1000
    acc.limits.mem_max_stream_bytes, acc.limits.disk_max_stream_bytes = 1 << 20, 1 << 30
    acc.limits.max_bytes_required = True
    acc.imports = [
        Import(name="billing", subject="billing.events", account=create(Role.ACCOUNT).public_key,
               type="stream", allow_trace=True),
        Import(name="lookup", subject="lookup.svc", account=create(Role.ACCOUNT).public_key,
               local_subject="my.lookup", type="service", share=True, token="eyJ.activation.token"),
    ]
    acc.exports = [
        Export(name="orders", subject="orders.*.created", type="stream", token_req=True,
               revocations={create(Role.ACCOUNT).public_key: NOW - 1}, account_token_position=2,
               advertise=True, allow_trace=True, description="new orders", info_url="https://docs.example/o"),
        Export(name="status", subject="orders.status", type="service", response_type="Stream",
               response_threshold=2_000_000_000,
               service_latency=ServiceLatency(sampling=50, results="latency.orders")),
        Export(name="headers", subject="orders.headers", type="service",
               service_latency=ServiceLatency(sampling="headers", results="latency.headers")),
    ]
    template = UserPermissionLimits(
        pub=Permission(allow=["{{name()}}.>"], deny=["$SYS.>"]),
        sub=Permission(allow=["_INBOX.>", "orders.* workers"]),
        resp=ResponsePermission(max=1, ttl=5_000_000_000),
        src=["10.0.0.0/8"], times=[TimeRange(start="08:00:00", end="17:00:00")], times_location="UTC",
        subs=10, data=-1, payload=1024, bearer_token=False, allowed_connection_types=["STANDARD"],
    )
    acc.signing_keys = [
        create(Role.ACCOUNT).public_key,
        ScopedSigningKey(key=create(Role.ACCOUNT).public_key, role="worker", template=template,
                         description="workers"),
    ]
    acc.revocations = {create(Role.USER).public_key: NOW - 10, "*": NOW - 100}
    acc.default_permissions = Permissions(
        pub=Permission(allow=["orders.>"]), sub=Permission(deny=["secret.>"]),
        resp=ResponsePermission(max=5, ttl=1_000_000_000),
    )
    acc.mappings = {
        "orders.new": [WeightedMapping(subject="orders.v2.new", weight=90),
                       WeightedMapping(subject="orders.v1.new", weight=10, cluster="east")],
        "a.b": [WeightedMapping(subject="c.d")],
    }
    acc.authorization = Authorization(auth_users=[create(Role.USER).public_key], allowed_accounts=["*"],
                                      xkey="XAB3NANV3M6N7AHSQP2U5FRWKKUT7EG2ZXXABV4XVXYQRJGM4S2CZGHT")
    acc.trace = Trace(dest="trace.orders", sampling=25)
    acc.cluster_traffic = "owner"
    acc.description = "Order processing"
    acc.info_url = "https://wiki.example/orders"
    acc.tags = ["team:orders", "env:prod"]
    claims.exp = NOW + 86400
    return claims


def test_account_round_trips_with_every_field(operator: KeyPair, account: KeyPair) -> None:
    claims = _full_account(account)
    assert _round_trip(claims, operator) == claims


def test_account_with_tiered_jetstream_limits_round_trips(operator: KeyPair, account: KeyPair) -> None:
    claims = new_account(account.public_key, "JS")
    claims.nats.limits.tiered_limits = {
        "R3": JetStreamLimits(mem_storage=-1, disk_storage=1 << 30, streams=5, consumer=-1, max_bytes_required=True),
        "R1": JetStreamLimits(mem_storage=1 << 20, disk_storage=-1),
    }
    decoded = _round_trip(claims, operator)
    assert decoded == claims
    assert list(decoded.nats.limits.tiered_limits) == ["R1", "R3"]


def test_account_limits_keep_minus_one_for_unlimited(operator: KeyPair, account: KeyPair) -> None:
    limits = payload_of(encode(new_account(account.public_key), operator, now=NOW))["nats"]["limits"]
    assert limits == {"subs": -1, "data": -1, "payload": -1, "imports": -1, "exports": -1, "wildcards": True,
                      "conn": -1, "leaf": -1}


def test_new_account_default_shape_matches_go(operator: KeyPair, account: KeyPair) -> None:
    token = encode(new_account(account.public_key, "A"), operator, now=NOW)
    nats = payload_bytes(token).decode().split('"nats":', 1)[1]
    assert nats == (
        '{"limits":{"subs":-1,"data":-1,"payload":-1,"imports":-1,"exports":-1,"wildcards":true,"conn":-1,'
        '"leaf":-1},"default_permissions":{"pub":{},"sub":{}},"authorization":{},"type":"account","version":2}}'
    )


def test_account_nats_keys_come_in_gos_order(operator: KeyPair, account: KeyPair) -> None:
    nats = payload_of(encode(_full_account(account), operator, now=NOW))["nats"]
    assert list(nats) == ["imports", "exports", "limits", "signing_keys", "revocations", "default_permissions",
                          "mappings", "authorization", "trace", "cluster_traffic", "description", "info_url",
                          "tags", "type", "version"]


def test_account_signing_keys_are_emitted_sorted(operator: KeyPair, account: KeyPair) -> None:
    claims = _full_account(account)
    claims.nats.signing_keys.reverse()
    emitted = payload_of(encode(claims, operator, now=NOW))["nats"]["signing_keys"]
    ids = [k if isinstance(k, str) else k["key"] for k in emitted]
    assert ids == sorted(ids)


def test_scoped_signing_key_is_emitted_as_a_full_object(operator: KeyPair, account: KeyPair) -> None:
    claims = new_account(account.public_key)
    key = create(Role.ACCOUNT).public_key
    claims.nats.signing_keys = [ScopedSigningKey(key=key, role="r", template=UserPermissionLimits())]
    emitted = payload_of(encode(claims, operator, now=NOW))["nats"]["signing_keys"]
    assert emitted == [{"kind": "user_scope", "key": key, "role": "r",
                        "template": {"pub": {}, "sub": {}, "subs": -1, "data": -1, "payload": -1},
                        "description": ""}]


def test_exports_and_imports_are_sorted_by_subject(operator: KeyPair, account: KeyPair) -> None:
    claims = new_account(account.public_key)
    other = create(Role.ACCOUNT).public_key
    claims.nats.exports = [Export(subject=s, type="stream") for s in ["c.x", "a.x", "b.x"]]
    claims.nats.imports = [Import(subject=s, account=other, type="stream") for s in ["z.y", "m.y"]]
    nats = payload_of(encode(claims, operator, now=NOW))["nats"]
    assert [e["subject"] for e in nats["exports"]] == ["a.x", "b.x", "c.x"]
    assert [i["subject"] for i in nats["imports"]] == ["m.y", "z.y"]


def test_maps_are_emitted_with_sorted_keys(operator: KeyPair, account: KeyPair) -> None:
    claims = new_account(account.public_key)
    users = [create(Role.USER).public_key for _ in range(4)]
    claims.nats.revocations = {u: NOW for u in reversed(sorted(users))}
    claims.nats.mappings = {"z": [WeightedMapping(subject="y")], "b": [WeightedMapping(subject="c")]}
    nats = payload_of(encode(claims, operator, now=NOW))["nats"]
    assert list(nats["revocations"]) == sorted(users)
    assert list(nats["mappings"]) == ["b", "z"]


def test_export_latency_and_response_fields_round_trip(operator: KeyPair, account: KeyPair) -> None:
    claims = _full_account(account)
    decoded = decode_account(encode(claims, operator, now=NOW))
    status = next(e for e in decoded.nats.exports if e.subject == "orders.status")
    assert status.service_latency == ServiceLatency(sampling=50, results="latency.orders")
    assert status.response_threshold == 2_000_000_000
    headers = next(e for e in decoded.nats.exports if e.subject == "orders.headers")
    assert headers.service_latency is not None and headers.service_latency.sampling == "headers"


def test_account_without_authorization_stays_without_it(operator: KeyPair, account: KeyPair) -> None:
    # jwt 2.3.0 (the vectors) writes no "authorization"; re-encoding must not add one.
    claims = new_account(account.public_key)
    claims.nats.authorization = None
    token = encode(claims, operator, now=NOW)
    assert "authorization" not in payload_of(token)["nats"]
    assert decode_account(token).nats.authorization is None


# --- user ----------------------------------------------------------------------------------


def test_user_round_trips_with_every_field(account: KeyPair) -> None:
    claims = new_user(create(Role.USER).public_key, "alice")
    u = claims.nats
    u.pub = Permission(allow=["orders.>", "a.b"], deny=["orders.secret"])
    u.sub = Permission(allow=["_INBOX.>", "work.* q1"], deny=["x"])
    u.resp = ResponsePermission(max=3, ttl=2_000_000_000)
    u.src = ["192.168.0.0/16", "10.1.2.3/32"]
    u.times = [TimeRange(start="22:00:00", end="06:00:00")]
    u.times_location = "Europe/Berlin"
    u.subs, u.data, u.payload = 50, 1 << 20, 4096
    u.bearer_token = True
    u.proxy_required = True
    u.allowed_connection_types = ["STANDARD", "WEBSOCKET", "MQTT"]
    u.tags = ["role:app"]
    claims.exp, claims.nbf = NOW + 60, NOW - 60
    assert _round_trip(claims, account) == claims


def test_user_signed_by_a_signing_key_round_trips_issuer_account(account: KeyPair) -> None:
    signing_key = create(Role.ACCOUNT)
    claims = new_user(create(Role.USER).public_key, "bob", issuer_account=account.public_key)
    decoded = _round_trip(claims, signing_key)
    assert decoded == claims
    assert (decoded.iss, decoded.nats.issuer_account) == (signing_key.public_key, account.public_key)


def test_new_user_default_shape_matches_go(account: KeyPair) -> None:
    token = encode(new_user(create(Role.USER).public_key, "U"), account, now=NOW)
    assert payload_bytes(token).decode().endswith(
        '"nats":{"pub":{},"sub":{},"subs":-1,"data":-1,"payload":-1,"type":"user","version":2}}')


def test_scoped_user_emits_only_the_empty_shape(account: KeyPair) -> None:
    claims = new_user(create(Role.USER).public_key, "U", issuer_account=account.public_key)
    claims.nats.pub.allow = ["x"]
    claims.nats.clear_for_scope()
    assert not claims.nats.has_permissions_or_limits()
    token = encode(claims, create(Role.ACCOUNT), now=NOW)
    assert payload_bytes(token).decode().endswith(
        f'"nats":{{"pub":{{}},"sub":{{}},"issuer_account":"{account.public_key}","type":"user","version":2}}}}')


def test_user_resp_is_emitted_with_both_max_and_ttl(account: KeyPair) -> None:
    claims = new_user(create(Role.USER).public_key)
    claims.nats.resp = ResponsePermission()
    assert payload_of(encode(claims, account, now=NOW))["nats"]["resp"] == {"max": 0, "ttl": 0}


# --- activation, generic -------------------------------------------------------------------


def test_activation_round_trips_with_issuer_account(account: KeyPair) -> None:
    claims = ActivationClaims(sub=create(Role.ACCOUNT).public_key, name="grant", exp=NOW + 10,
                              nats=Activation(subject="svc.>", kind="service", issuer_account=account.public_key,
                                              tags=["t"]))
    assert _round_trip(claims, create(Role.ACCOUNT)) == claims


def test_generic_claims_round_trip_with_sorted_map_keys(operator: KeyPair) -> None:
    claims = GenericClaims(sub=operator.public_key, nats={"zeta": [1, 2], "accounts": ["A"], "mid": {"b": 1, "a": 2}})
    token = encode(claims, operator, now=NOW)
    assert list(payload_of(token)["nats"]) == ["accounts", "mid", "version", "zeta"]
    assert list(payload_of(token)["nats"]["mid"]) == ["a", "b"]
    assert _round_trip(GenericClaims(sub=operator.public_key, nats={"accounts": ["A"]}), operator).nats == {
        "accounts": ["A"], "version": 2}


# --- unknown fields survive ------------------------------------------------------------------


def _resign(token: str, signer: KeyPair, change: Any) -> str:
    from .tokens import sign_payload

    payload = payload_of(token)
    change(payload)
    return sign_payload(payload, signer)


def test_unknown_fields_survive_decode_and_encode(operator: KeyPair, account: KeyPair) -> None:
    def future(payload: dict[str, Any]) -> None:
        payload["future_top"] = {"x": [1, 2]}
        payload["nats"]["future_nats"] = "yes"
        payload["nats"]["limits"]["future_limit"] = 7
        payload["nats"]["exports"][0]["future_export"] = True
        payload["nats"]["default_permissions"]["pub"]["future_perm"] = ["a"]

    token = _resign(encode(_full_account(account), operator, now=NOW), operator, future)
    claims = decode_account(token)
    assert claims.extra == {"future_top": {"x": [1, 2]}}
    assert claims.nats.limits.extra == {"future_limit": 7}
    again = payload_of(encode(claims, operator, now=claims.iat))
    assert again == payload_of(token)


def test_unknown_user_fields_survive_decode_and_encode(account: KeyPair) -> None:
    token = _resign(encode(new_user(create(Role.USER).public_key), account, now=NOW), account,
                    lambda p: p["nats"].update(future={"nested": {"k": 1}}))
    claims = decode(token)
    assert isinstance(claims, UserClaims)
    assert payload_of(encode(claims, account, now=NOW))["nats"]["future"] == {"nested": {"k": 1}}


def test_unknown_operator_fields_survive_decode_and_encode(operator: KeyPair) -> None:
    token = _resign(encode(new_operator(operator.public_key), operator, now=NOW), operator,
                    lambda p: p["nats"].update(future_url="nats://x"))
    claims = decode(token)
    assert isinstance(claims, OperatorClaims)
    assert payload_of(encode(claims, operator, now=NOW))["nats"]["future_url"] == "nats://x"


def test_decoded_struct_equality_includes_unknown_fields(operator: KeyPair, account: KeyPair) -> None:
    token = encode(new_account(account.public_key), operator, now=NOW)
    plain = decode_account(token)
    extended = decode_account(_resign(token, operator, lambda p: p.update(extra_key=1)))
    extended.extra.clear()
    assert extended == plain


def test_claims_serialise_as_plain_json(operator: KeyPair, account: KeyPair) -> None:
    claims = _full_account(account)
    encode(claims, operator, now=NOW)
    assert json.loads(json.dumps(claims.to_go())) == claims.to_go()
