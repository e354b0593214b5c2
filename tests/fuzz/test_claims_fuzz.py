"""The claims codec, nkeys and creds parsing under arbitrary input.

Whatever arrives, decoding ends in a claim or in the library's own error (a ``ClaimsError`` such as
``DecodeError``, with a code) — never another exception; generated claims survive a round trip.
"""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from accountd.claims import (
    AccountClaims,
    ClaimsError,
    DecodeError,
    InvalidKey,
    Role,
    create,
    decode,
    decode_account,
    decode_public,
    decode_unverified,
    encode,
    format_creds,
    load_seed,
    new_account,
    new_user,
    parse_creds,
)
from accountd.claims.models import AccountLimits, ScopedSigningKey, UserPermissionLimits
from harness import load_vectors

from .strategies import jwt_like, mutated

OPERATOR = create(Role.OPERATOR)
ACCOUNT = create(Role.ACCOUNT)
VECTORS = load_vectors("basic")
TOKENS = [VECTORS.jwt(n) for n in ("operator", "SYS", "A", "U")]


def _decodes_or_refuses(token: str | bytes) -> None:
    try:
        decode(token)
    except DecodeError as exc:
        assert exc.code and exc.message
    try:
        decode_unverified(token)
    except DecodeError as exc:
        assert exc.code


@given(st.binary(max_size=600))
def test_arbitrary_bytes_decode_or_raise_decode_error(data: bytes) -> None:
    _decodes_or_refuses(data)


@given(st.text(max_size=400))
def test_arbitrary_text_decodes_or_raises_decode_error(text: str) -> None:
    _decodes_or_refuses(text)


@given(jwt_like(claims={"iss": OPERATOR.public_key, "sub": ACCOUNT.public_key, "jti": "x", "iat": 1}))
def test_jwt_shaped_input_decodes_or_raises_decode_error(token: str) -> None:
    _decodes_or_refuses(token)


@given(st.sampled_from(TOKENS).flatmap(mutated))
def test_a_mutated_go_vector_is_the_vector_or_a_decode_error(token: str) -> None:
    try:
        claims = decode(token)
    except DecodeError:
        return
    assert claims.sub  # a mutation that still verifies must still be a whole claim


names = st.text(st.characters(blacklist_categories=("Cs",)), max_size=30)
limits = st.builds(
    AccountLimits,
    subs=st.integers(-1, 2**40), data=st.integers(-1, 2**40), payload=st.integers(-1, 2**40),
    conn=st.integers(-1, 10**6), leaf=st.integers(-1, 10**6), wildcards=st.booleans(),
    disallow_bearer=st.booleans(), mem_storage=st.integers(-1, 2**40), disk_storage=st.integers(-1, 2**40),
    streams=st.integers(-1, 10**4), consumer=st.integers(-1, 10**4),
)


@st.composite
def account_claims(draw: st.DrawFn) -> AccountClaims:
    claims = new_account(ACCOUNT.public_key, draw(names))
    claims.nats.limits = draw(limits)
    claims.nats.tags = draw(st.lists(st.text("abcdefghijklmnopqrstuvwxyz0123456789:-", min_size=1, max_size=12),
                                     max_size=4, unique=True))
    claims.nats.description = draw(names)
    claims.nats.revocations = draw(st.dictionaries(st.just(create(Role.USER).public_key), st.integers(0, 2**40),
                                                   max_size=1))
    if draw(st.booleans()):
        claims.nats.signing_keys = [create(Role.ACCOUNT).public_key]
    if draw(st.booleans()):
        claims.nats.signing_keys.append(ScopedSigningKey(
            key=create(Role.ACCOUNT).public_key, role=draw(names),
            template=UserPermissionLimits()))
    claims.exp = draw(st.one_of(st.just(0), st.integers(2_000_000_000, 2**40)))
    return claims


@given(account_claims(), st.integers(1, 2**40))
def test_generated_account_claims_round_trip(claims: AccountClaims, now: int) -> None:
    token = encode(claims, OPERATOR, now=now)
    back = decode_account(token)
    assert back.sub == claims.sub and back.iat == now and back.iss == OPERATOR.public_key
    assert back.name == claims.name and back.exp == claims.exp
    assert back.nats.limits == claims.nats.limits
    assert back.nats.tags == claims.nats.tags and back.nats.revocations == claims.nats.revocations
    assert back.nats.signing_key_ids() == claims.nats.signing_key_ids()
    assert encode(back, OPERATOR, now=now) == token  # decode → encode is the identity


@given(st.text(max_size=80))
def test_arbitrary_public_keys_are_refused_as_invalid_keys(text: str) -> None:
    try:
        decode_public(text)
    except InvalidKey as exc:
        assert exc.message


@given(st.sampled_from([OPERATOR.public_key, ACCOUNT.public_key]).flatmap(mutated))
def test_a_mutated_public_key_is_refused_or_is_a_key(key: str) -> None:
    try:
        role, raw = decode_public(key)
    except InvalidKey:
        return
    assert len(raw) == 32 and role in Role


@given(st.one_of(st.text(max_size=120), st.just(VECTORS.seed("A")).flatmap(mutated)))
def test_arbitrary_seeds_are_refused_without_echoing_them(text: str) -> None:
    try:
        load_seed(text)
    except ClaimsError as exc:
        if len(text.strip()) > 8:
            assert text.strip() not in exc.message  # a near-seed is never repeated back


creds_text = st.one_of(
    st.text(max_size=300),
    st.just((VECTORS.path / "U.creds").read_text()).flatmap(mutated),
)


@given(creds_text)
def test_arbitrary_creds_parse_or_raise_claims_error(text: str) -> None:
    try:
        creds = parse_creds(text)
    except ClaimsError as exc:
        assert exc.code
        return
    assert creds.jwt


@given(names)
def test_creds_round_trip(name: str) -> None:
    user = create(Role.USER)
    token = encode(new_user(user.public_key, name), ACCOUNT, now=1)
    creds = parse_creds(format_creds(token, user.seed))
    assert creds.jwt == token
    assert load_seed(creds.seed).public_key == user.public_key
