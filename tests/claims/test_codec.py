"""The JWT v2 codec: Go-identical encoding, the vectors, and every way decoding refuses a token."""

from __future__ import annotations

import json
from typing import Any

import pytest

from accountd.claims import (
    HEADER,
    MAX_TOKEN_SIZE,
    AccountClaims,
    ActivationClaims,
    DecodeError,
    GenericClaims,
    InvalidKey,
    KeyPair,
    OperatorClaims,
    Role,
    UserClaims,
    compute_jti,
    create,
    decode,
    decode_account,
    decode_generic,
    decode_operator,
    decode_unverified,
    decode_user,
    encode,
    load_seed,
    new_account,
    new_operator,
    new_user,
)
from accountd.claims.models import Activation

from .tokens import b64url, payload_bytes, payload_of, sign_payload
from .vectors import SIGNERS, VECTORS, vector_jwts

GO_HEADER = "eyJ0eXAiOiJKV1QiLCJhbGciOiJlZDI1NTE5LW5rZXkifQ"
TYPES = {"operator": OperatorClaims, "SYS": AccountClaims, "A": AccountClaims, "U": UserClaims, "sys": UserClaims}


def _jwt(vector_set: str, name: str) -> str:
    return (VECTORS / vector_set / f"{name}.jwt").read_text().strip()


def _signer(vector_set: str, name: str) -> KeyPair:
    return load_seed(VECTORS / vector_set / f"{SIGNERS[vector_set][name]}.nk")


@pytest.fixture
def operator() -> KeyPair:
    return create(Role.OPERATOR)


@pytest.fixture
def account() -> KeyPair:
    return create(Role.ACCOUNT)


@pytest.fixture
def account_token(operator: KeyPair, account: KeyPair) -> str:
    return encode(new_account(account.public_key, "A"), operator, now=1_800_000_000)


def _user_payload(signer: KeyPair, **nats: Any) -> dict[str, Any]:
    user = create(Role.USER)
    return {
        "jti": "X", "iat": 1_800_000_000, "iss": signer.public_key, "name": "U", "sub": user.public_key,
        "nats": {"pub": {}, "sub": {}, "subs": -1, "data": -1, "payload": -1, "type": "user", "version": 2, **nats},
    }


# --- the reference vectors -----------------------------------------------------------------


@pytest.mark.parametrize(("vector_set", "name"), vector_jwts())
def test_every_vector_decodes_to_its_claim_type(vector_set: str, name: str) -> None:
    claims = decode(_jwt(vector_set, name))
    assert type(claims) is TYPES[name]
    assert claims.iss == _signer(vector_set, name).public_key


@pytest.mark.parametrize(("vector_set", "name"), vector_jwts())
def test_every_vector_decodes_to_the_claims_its_json_shows(vector_set: str, name: str) -> None:
    token = _jwt(vector_set, name)
    assert decode(token).to_go() == payload_of(token)


@pytest.mark.parametrize(("vector_set", "name"), vector_jwts())
def test_every_vector_jti_recomputes(vector_set: str, name: str) -> None:
    claims = decode(_jwt(vector_set, name))
    assert len(claims.jti) == 52
    assert compute_jti(claims) == claims.jti


@pytest.mark.parametrize(("vector_set", "name"), vector_jwts())
def test_reencoding_every_vector_reproduces_it_byte_for_byte(vector_set: str, name: str) -> None:
    token = _jwt(vector_set, name)
    claims = decode(token)
    assert encode(claims, _signer(vector_set, name), now=claims.iat) == token


def test_signing_vector_user_carries_issuer_account(signing: Any) -> None:
    user = decode_user(signing.jwt("U"))
    assert user.iss == signing.summary["account_signing_key"]["public_key"]
    assert user.nats.issuer_account == signing.summary["account"]["public_key"]


# --- what encode writes ----------------------------------------------------------------------


def test_encoded_token_has_gos_header(account_token: str) -> None:
    assert account_token.split(".")[0] == GO_HEADER
    assert b64url(json.dumps(HEADER, separators=(",", ":")).encode()) == GO_HEADER


def test_encode_sets_iss_iat_jti_type_and_version(operator: KeyPair, account: KeyPair) -> None:
    claims = new_account(account.public_key, "A")
    claims.nats.type, claims.nats.version, claims.jti = "", 0, "stale"
    encode(claims, operator, now=1_800_000_123)
    assert (claims.iss, claims.iat, claims.nats.type, claims.nats.version) == (
        operator.public_key, 1_800_000_123, "account", 2)
    assert claims.jti == compute_jti(claims)


def test_encode_overwrites_iat_with_now(operator: KeyPair, account: KeyPair) -> None:
    claims = new_account(account.public_key)
    claims.iat = 5
    encode(claims, operator)
    assert claims.iat > 1_700_000_000


def test_jti_covers_only_the_standard_claims(operator: KeyPair, account: KeyPair) -> None:
    a = new_account(account.public_key, "A")
    b = new_account(account.public_key, "A")
    b.nats.limits.conn = 7
    encode(a, operator, now=1_800_000_000)
    encode(b, operator, now=1_800_000_000)
    assert a.jti == b.jti


def test_jti_changes_with_iat(operator: KeyPair, account: KeyPair) -> None:
    a, b = new_account(account.public_key), new_account(account.public_key)
    encode(a, operator, now=1_800_000_000)
    encode(b, operator, now=1_800_000_001)
    assert a.jti != b.jti


def test_encode_is_deterministic_for_equal_claims_and_time(operator: KeyPair, account: KeyPair) -> None:
    first = encode(new_account(account.public_key, "A"), operator, now=1_800_000_000)
    assert encode(new_account(account.public_key, "A"), operator, now=1_800_000_000) == first


def test_encode_refuses_a_user_signed_by_an_operator(operator: KeyPair) -> None:
    with pytest.raises(DecodeError) as exc:
        encode(new_user(create(Role.USER).public_key), operator)
    assert exc.value.code == "issuer_role"
    assert exc.value.message == "an operator key cannot sign user claims"


def test_encode_refuses_a_subject_of_the_wrong_role(operator: KeyPair) -> None:
    with pytest.raises(InvalidKey) as exc:
        encode(new_account(create(Role.USER).public_key), operator)
    assert exc.value.code == "invalid_key"
    assert exc.value.message == "account subject must be an account key"


def test_encode_refuses_an_account_server_url_without_scheme(operator: KeyPair) -> None:
    claims = new_operator(operator.public_key, "OP")
    claims.nats.account_server_url = "localhost:9090/jwt/v1"
    with pytest.raises(DecodeError) as exc:
        encode(claims, operator)
    assert exc.value.code == "structure"
    assert exc.value.message == "account_server_url 'localhost:9090/jwt/v1' has no scheme"


def test_encode_refuses_generic_claims_without_subject(operator: KeyPair) -> None:
    with pytest.raises(DecodeError) as exc:
        encode(GenericClaims(nats={"accounts": []}), operator)
    assert exc.value.message == "claims need a subject"


# --- decoding: accepted variations -----------------------------------------------------------


def test_decode_accepts_bytes(account_token: str) -> None:
    assert decode(account_token.encode()) == decode(account_token)


def test_decode_accepts_a_trailing_newline_like_go(account_token: str) -> None:
    assert decode(account_token + "\r\n") == decode(account_token)


def test_decode_accepts_pyjwts_sorted_header(operator: KeyPair, account_token: str) -> None:
    token = sign_payload(payload_bytes(account_token), operator, {"alg": "ed25519-nkey", "typ": "JWT"})
    assert decode(token) == decode(account_token)


def test_decode_accepts_header_with_other_case_and_extra_keys(operator: KeyPair, account_token: str) -> None:
    token = sign_payload(payload_bytes(account_token), operator, {"typ": "jwt", "alg": "ED25519-NKEY", "kid": "x"})
    assert decode(token) == decode(account_token)


def test_decode_unverified_ignores_the_signature(account_token: str) -> None:
    head, payload, _ = account_token.split(".")
    assert decode_unverified(f"{head}.{payload}.AAAA") == decode(account_token)


def test_decode_typed_helpers_return_their_type(basic: Any) -> None:
    assert isinstance(decode_operator(basic.jwt("operator")), OperatorClaims)
    assert isinstance(decode_account(basic.jwt("A")), AccountClaims)
    assert isinstance(decode_user(basic.jwt("U")), UserClaims)


# --- decoding: refusals, one behaviour each ----------------------------------------------------


def _decode_error(token: str | bytes, fn: Any = decode) -> DecodeError:
    with pytest.raises(DecodeError) as exc:
        fn(token)
    return exc.value


def test_tampered_signature_is_bad_signature(account_token: str) -> None:
    head, payload, sig = account_token.split(".")
    sig = ("B" if sig[5] != "B" else "C").join([sig[:5], sig[6:]])
    err = _decode_error(f"{head}.{payload}.{sig}")
    assert (err.code, err.message) == ("bad_signature", "claim failed V2 signature verification")


def test_tampered_payload_is_bad_signature(operator: KeyPair, account_token: str) -> None:
    payload = payload_of(account_token)
    payload["nats"]["limits"]["conn"] = 1000
    head, _, sig = account_token.split(".")
    err = _decode_error(f"{head}.{b64url(json.dumps(payload).encode())}.{sig}")
    assert (err.code, err.message) == ("bad_signature", "claim failed V2 signature verification")


def test_signature_by_another_key_is_bad_signature(account_token: str) -> None:
    err = _decode_error(sign_payload(payload_bytes(account_token), create(Role.OPERATOR)))
    assert (err.code, err.message) == ("bad_signature", "claim failed V2 signature verification")


def test_v1_signature_over_payload_only_is_bad_signature(operator: KeyPair, account_token: str) -> None:
    head, payload, _ = account_token.split(".")
    err = _decode_error(f"{head}.{payload}.{b64url(operator.sign(payload.encode()))}")
    assert (err.code, err.message) == ("bad_signature", "claim failed V2 signature verification")


def test_issuer_that_is_not_a_key_is_bad_signature(operator: KeyPair, account_token: str) -> None:
    payload = payload_of(account_token)
    payload["iss"] = "nobody"
    err = _decode_error(sign_payload(payload, operator))
    assert (err.code, err.message) == ("bad_signature", "issuer 'nobody' is not a valid public key")


def test_wrong_alg_is_bad_header(operator: KeyPair, account_token: str) -> None:
    err = _decode_error(sign_payload(payload_bytes(account_token), operator, {"typ": "JWT", "alg": "HS256"}))
    assert (err.code, err.message) == ("bad_header", "unexpected algorithm 'HS256', want 'ed25519-nkey'")


def test_v1_ed25519_header_is_bad_header(operator: KeyPair, account_token: str) -> None:
    err = _decode_error(sign_payload(payload_bytes(account_token), operator, {"typ": "JWT", "alg": "ed25519"}))
    assert (err.code, err.message) == ("bad_header", "version 1 JWT (alg ed25519) is not supported; re-issue it")


def test_header_without_jwt_typ_is_bad_header(operator: KeyPair, account_token: str) -> None:
    err = _decode_error(sign_payload(payload_bytes(account_token), operator, {"typ": "JWS", "alg": "ed25519-nkey"}))
    assert (err.code, err.message) == ("bad_header", "not a JWT: header typ is 'JWS'")


def test_version_1_payload_is_bad_version(operator: KeyPair, account: KeyPair) -> None:
    # A v1 account: claim type at the top level, no nats.version.
    payload = {"jti": "X", "iat": 1_500_000_000, "iss": operator.public_key, "sub": account.public_key,
               "type": "account", "nats": {"limits": {"conn": -1}}}
    err = _decode_error(sign_payload(payload, operator))
    assert (err.code, err.message) == ("bad_version", "version 1 JWT is not supported; re-issue it with a current tool")


def test_missing_nats_version_is_bad_version(operator: KeyPair, account_token: str) -> None:
    payload = payload_of(account_token)
    del payload["nats"]["version"]
    err = _decode_error(sign_payload(payload, operator))
    assert (err.code, err.message) == ("bad_version", "library supports version 2 or less - received 0")


def test_newer_nats_version_is_bad_version(operator: KeyPair, account_token: str) -> None:
    payload = payload_of(account_token)
    payload["nats"]["version"] = 3
    err = _decode_error(sign_payload(payload, operator))
    assert (err.code, err.message) == ("bad_version", "JWT was generated by a newer version (version 3)")


def test_user_token_decoded_as_account_is_wrong_type(basic: Any) -> None:
    err = _decode_error(basic.jwt("U"), decode_account)
    assert (err.code, err.message) == ("wrong_type", "expected account claims, got user")


def test_account_token_decoded_as_generic_is_wrong_type(account_token: str) -> None:
    from accountd.claims.codec import _decode_as

    err = _decode_error(account_token, lambda t: _decode_as(t, GenericClaims))
    assert (err.code, err.message) == ("wrong_type", "expected generic claims, got account")


@pytest.mark.parametrize("kind", ["server", "cluster"])
def test_server_and_cluster_claims_are_wrong_type(operator: KeyPair, kind: str) -> None:
    payload = {"iat": 1, "iss": operator.public_key, "sub": create(Role.SERVER).public_key,
               "nats": {"type": kind, "version": 2}}
    err = _decode_error(sign_payload(payload, operator))
    assert (err.code, err.message) == ("wrong_type", f"{kind} claims are not supported")


def test_user_signed_by_an_operator_is_issuer_role(operator: KeyPair) -> None:
    # encode refuses to make this token, so sign the payload directly.
    payload = _user_payload(operator)
    err = _decode_error(sign_payload(payload, operator))
    assert (err.code, err.message) == ("issuer_role", "user JWT issued by an operator key (O…); allowed: account")


def test_account_signed_by_a_user_key_is_issuer_role(account: KeyPair) -> None:
    user = create(Role.USER)
    payload = {"iat": 1, "iss": user.public_key, "sub": account.public_key,
               "nats": {"limits": {}, "type": "account", "version": 2}}
    err = _decode_error(sign_payload(payload, user))
    assert (err.code, err.message) == (
        "issuer_role", "account JWT issued by a user key (U…); allowed: account, operator")


def test_operator_signed_by_an_account_is_issuer_role(account: KeyPair) -> None:
    payload = {"iat": 1, "iss": account.public_key, "sub": create(Role.OPERATOR).public_key,
               "nats": {"type": "operator", "version": 2}}
    err = _decode_error(sign_payload(payload, account))
    assert (err.code, err.message) == ("issuer_role", "operator JWT issued by an account key (A…); allowed: operator")


def test_token_over_one_mebibyte_is_too_large(account_token: str) -> None:
    head, payload, sig = account_token.split(".")
    token = f"{head}.{payload}{'A' * (MAX_TOKEN_SIZE - len(account_token) + 1)}.{sig}"
    err = _decode_error(token)
    assert (err.code, err.message) == (
        "too_large", f"token too large: {MAX_TOKEN_SIZE + 1} bytes (limit {MAX_TOKEN_SIZE})")


def test_two_chunks_is_bad_encoding(account_token: str) -> None:
    err = _decode_error(account_token.rsplit(".", 1)[0])
    assert (err.code, err.message) == ("bad_encoding", "expected 3 chunks")


def test_payload_outside_the_base64url_alphabet_is_bad_encoding(account_token: str) -> None:
    head, payload, sig = account_token.split(".")
    err = _decode_error(f"{head}.{payload[:10]}+{payload[11:]}.{sig}")
    assert (err.code, err.message) == ("bad_encoding", "payload is not base64url")


def test_leading_space_is_bad_encoding(account_token: str) -> None:
    err = _decode_error(" " + account_token)
    assert (err.code, err.message) == ("bad_encoding", "header is not base64url")


def test_payload_that_is_not_json_is_bad_encoding(operator: KeyPair) -> None:
    err = _decode_error(sign_payload(b"{not json", operator))
    assert (err.code, err.message) == ("bad_encoding", "payload is not JSON")


def test_payload_that_is_a_json_array_is_bad_encoding(operator: KeyPair) -> None:
    err = _decode_error(sign_payload(b"[1,2]", operator))
    assert (err.code, err.message) == ("bad_encoding", "payload is not a JSON object")


def test_non_ascii_token_is_bad_encoding() -> None:
    err = _decode_error("é.b.c".encode())
    assert (err.code, err.message) == ("bad_encoding", "token is not ASCII")


# --- activation and generic claims ------------------------------------------------------------


def test_activation_round_trips(account: KeyPair) -> None:
    importer = create(Role.ACCOUNT)
    claims = ActivationClaims(sub=importer.public_key, name="orders",
                              nats=Activation(subject="orders.>", kind="stream"))
    token = encode(claims, account, now=1_800_000_000)
    assert decode(token) == claims
    assert payload_of(token)["nats"] == {"subject": "orders.>", "kind": "stream", "type": "activation", "version": 2}


def test_generic_delete_request_round_trips_without_type(operator: KeyPair) -> None:
    accounts = [create(Role.ACCOUNT).public_key, create(Role.ACCOUNT).public_key]
    claims = GenericClaims(sub=operator.public_key, nats={"accounts": accounts})
    token = encode(claims, operator, now=1_800_000_000)
    assert payload_bytes(token).endswith(f'"nats":{{"accounts":{json.dumps(accounts, separators=(",", ":"))},'
                                         '"version":2}}'.encode())
    decoded = decode_generic(token)
    assert decoded == claims and type(decode(token)) is GenericClaims
    assert decoded.sub == decoded.iss == operator.public_key


def test_decode_generic_accepts_any_claim_type(account_token: str) -> None:
    generic = decode_generic(account_token)
    assert type(generic) is GenericClaims
    assert generic.nats["type"] == "account"


def test_decode_generic_checks_the_signature(account_token: str) -> None:
    head, payload, _ = account_token.split(".")
    err = _decode_error(f"{head}.{payload}.{b64url(bytes(64))}", decode_generic)
    assert err.code == "bad_signature"
