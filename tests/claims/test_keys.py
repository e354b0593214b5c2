"""nkeys: creation, strict loading (CRC, length, role), type checks, and seeds kept secret."""

from __future__ import annotations

import base64
import random
from pathlib import Path

import nkeys
import pytest

from accountd.claims import (
    InvalidKey,
    KeyPair,
    PublicKeyOnly,
    Role,
    Secret,
    create,
    decode_public,
    is_account_key,
    is_operator_key,
    is_server_key,
    is_user_key,
    load_seed,
    public_role,
)
from accountd.claims.keys import _crc16

from .vectors import VECTOR_SETS, vector_keys

SIGNING_ROLES = [Role.OPERATOR, Role.ACCOUNT, Role.USER, Role.SERVER, Role.CLUSTER]


def _flip(text: str, index: int) -> str:
    """``text`` with one base32 character replaced by another valid one."""
    replacement = "B" if text[index] != "B" else "C"
    return text[:index] + replacement + text[index + 1 :]


def _corrupt_checksum(key: str) -> str:
    # The middle of the payload: still valid base32, right length, wrong CRC.
    return _flip(key, len(key) // 2)


# --- creation ------------------------------------------------------------------------------


@pytest.mark.parametrize("role", SIGNING_ROLES, ids=lambda r: r.name.lower())
def test_create_makes_a_key_pair_of_the_role(role: Role) -> None:
    kp = create(role)
    assert kp.role is role
    assert len(kp.public_key) == 56 and kp.public_key[0] == role.letter
    seed = kp.seed.reveal()
    assert len(seed) == 58 and seed[:2] == "S" + role.letter
    assert public_role(kp.public_key) is role


@pytest.mark.parametrize("role", SIGNING_ROLES, ids=lambda r: r.name.lower())
def test_created_seed_loads_back_to_the_same_public_key(role: Role) -> None:
    kp = create(role)
    assert load_seed(kp.seed.reveal(), role).public_key == kp.public_key


def test_created_keys_are_random() -> None:
    assert create(Role.USER).public_key != create(Role.USER).public_key


def test_key_pair_signature_verifies_with_the_public_key_only() -> None:
    kp = create(Role.ACCOUNT)
    signature = kp.sign(b"hello")
    public = PublicKeyOnly.parse(kp.public_key)
    assert public.verify(b"hello", signature)
    assert kp.verify(b"hello", signature)


def test_public_key_only_rejects_a_signature_over_other_bytes() -> None:
    kp = create(Role.ACCOUNT)
    assert not PublicKeyOnly.parse(kp.public_key).verify(b"hellO", kp.sign(b"hello"))


def test_public_key_only_rejects_a_signature_of_the_wrong_length() -> None:
    kp = create(Role.ACCOUNT)
    assert not PublicKeyOnly.parse(kp.public_key).verify(b"hello", kp.sign(b"hello")[:63])


def test_public_key_only_parse_checks_the_expected_role() -> None:
    with pytest.raises(InvalidKey) as exc:
        PublicKeyOnly.parse(create(Role.USER).public_key, Role.ACCOUNT)
    assert exc.value.message == "expected an account key (A…), got a user key"


def test_role_properties_of_a_key_pair() -> None:
    account = create(Role.ACCOUNT)
    assert account.account_key == str(account.public_key)
    with pytest.raises(InvalidKey) as exc:
        _ = account.user_key
    assert exc.value.message == f"{account.public_key} is not a user key"


# --- the reference vectors -----------------------------------------------------------------


@pytest.mark.parametrize(("vector_set", "entry", "public_key", "seed"), vector_keys())
def test_every_vector_seed_derives_its_public_key(vector_set: str, entry: str, public_key: str, seed: str) -> None:
    kp = load_seed(seed)
    assert kp.public_key == public_key
    assert kp.role is public_role(public_key)


@pytest.mark.parametrize("vector_set", VECTOR_SETS)
def test_every_vector_nk_file_matches_summary(vector_set: str, request: pytest.FixtureRequest) -> None:
    vectors = request.getfixturevalue(vector_set)
    for entry in vectors.summary.values():
        if not isinstance(entry, dict) or "seed" not in entry:
            continue
        nk = next(f for f in entry["files"].split() if f.endswith(".nk"))
        assert load_seed(vectors.file(nk)).public_key == entry["public_key"]


# --- loading from every kind of source -----------------------------------------------------


@pytest.fixture
def user() -> KeyPair:
    return create(Role.USER)


def test_load_seed_from_str(user: KeyPair) -> None:
    assert load_seed(user.seed.reveal()).public_key == user.public_key


def test_load_seed_from_bytes(user: KeyPair) -> None:
    assert load_seed(user.seed.reveal().encode()).public_key == user.public_key


def test_load_seed_from_secret(user: KeyPair) -> None:
    assert load_seed(user.seed).public_key == user.public_key


def test_load_seed_from_nk_path(user: KeyPair, tmp_path: Path) -> None:
    path = tmp_path / f"{user.public_key}.nk"
    path.write_text(user.seed.reveal())  # nsc writes exactly the seed, no newline
    assert load_seed(path).public_key == user.public_key


def test_load_seed_from_nk_path_with_trailing_newline(user: KeyPair, tmp_path: Path) -> None:
    path = tmp_path / "u.nk"
    path.write_text(user.seed.reveal() + "\n")
    assert load_seed(path).public_key == user.public_key


def test_load_seed_from_decorated_block(user: KeyPair) -> None:
    block = (
        "-----BEGIN USER NKEY SEED-----\r\n"
        f"{user.seed.reveal()}\r\n"
        "------END USER NKEY SEED------\r\n\r\n"
        "*************************************************************\r\n"
    )
    assert load_seed(block).public_key == user.public_key


def test_load_seed_from_missing_file_names_the_file(tmp_path: Path) -> None:
    with pytest.raises(InvalidKey) as exc:
        load_seed(tmp_path / "missing.nk")
    assert exc.value.code == "invalid_key"
    assert exc.value.message.startswith(f"cannot read seed file {tmp_path / 'missing.nk'}")


# --- what is wrong, named exactly ----------------------------------------------------------


def test_corrupted_seed_checksum_is_bad_checksum(user: KeyPair) -> None:
    with pytest.raises(InvalidKey) as exc:
        load_seed(_corrupt_checksum(user.seed.reveal()))
    assert exc.value.code == "bad_checksum"
    assert exc.value.message == "seed has a bad checksum (corrupted or mistyped)"


def test_load_seed_rejects_a_corrupted_seed_the_nkeys_package_accepts(user: KeyPair) -> None:
    corrupted = _corrupt_checksum(user.seed.reveal())
    nkeys.from_seed(corrupted.encode())  # the official package skips the CRC (SPEC §2.7)
    with pytest.raises(InvalidKey):
        load_seed(corrupted)


def test_corrupted_public_key_checksum_is_bad_checksum(user: KeyPair) -> None:
    with pytest.raises(InvalidKey) as exc:
        decode_public(_corrupt_checksum(user.public_key))
    assert exc.value.code == "bad_checksum"
    assert exc.value.message == "public key has a bad checksum (corrupted or mistyped)"


def test_truncated_public_key_is_a_length_error(user: KeyPair) -> None:
    with pytest.raises(InvalidKey) as exc:
        decode_public(user.public_key[:-1])
    assert exc.value.code == "invalid_key"
    assert exc.value.message == "public key must be 56 characters, got 55"


def test_truncated_seed_is_a_length_error(user: KeyPair) -> None:
    with pytest.raises(InvalidKey) as exc:
        load_seed(user.seed.reveal()[:-2])
    assert exc.value.code == "invalid_key"
    assert exc.value.message == "seed must be 58 characters, got 56"


def test_public_key_with_a_character_outside_base32_is_rejected(user: KeyPair) -> None:
    key = user.public_key[:10] + "1" + user.public_key[11:]
    with pytest.raises(InvalidKey) as exc:
        decode_public(key)
    assert exc.value.code == "invalid_key"
    assert exc.value.message == "public key has a character outside base32 (A-Z, 2-7): '1'"


def test_lower_case_public_key_is_rejected(user: KeyPair) -> None:
    with pytest.raises(InvalidKey) as exc:
        decode_public(user.public_key.lower())
    assert exc.value.message.startswith("public key has a character outside base32")


def test_empty_public_key_is_rejected() -> None:
    with pytest.raises(InvalidKey) as exc:
        decode_public("")
    assert exc.value.message == "public key is empty"


def test_seed_where_a_public_key_belongs_is_named(user: KeyPair) -> None:
    with pytest.raises(InvalidKey) as exc:
        decode_public(user.seed.reveal())
    assert exc.value.code == "invalid_key"
    assert exc.value.message == "a seed was given where a public key belongs"


def test_public_key_where_a_seed_belongs_is_named(user: KeyPair) -> None:
    with pytest.raises(InvalidKey) as exc:
        load_seed(user.public_key)
    assert exc.value.code == "invalid_key"
    assert exc.value.message == "a public key was given where a seed belongs"


def test_seed_of_the_wrong_role_is_named() -> None:
    with pytest.raises(InvalidKey) as exc:
        load_seed(create(Role.ACCOUNT).seed, Role.USER)
    assert exc.value.code == "invalid_key"
    assert exc.value.message == "expected a user seed (SU…), got an account seed"


def test_public_key_of_the_wrong_role_is_named() -> None:
    with pytest.raises(InvalidKey) as exc:
        decode_public(create(Role.ACCOUNT).public_key, Role.OPERATOR)
    assert exc.value.code == "invalid_key"
    assert exc.value.message == "expected an operator key (O…), got an account key"


def test_public_key_with_an_unknown_prefix_is_rejected() -> None:
    # A valid encoding (right length, right CRC) with the private-key prefix 'P'.
    body = bytes([15 << 3]) + bytes(32)
    key = base64.b32encode(body + _crc16(body).to_bytes(2, "little")).decode().rstrip("=")
    with pytest.raises(InvalidKey) as exc:
        decode_public(key)
    assert exc.value.message == "public key has an unknown prefix 'P'"


def test_public_key_that_is_not_text_is_rejected() -> None:
    with pytest.raises(InvalidKey) as exc:
        decode_public(b"ABC")  # type: ignore[arg-type]
    assert exc.value.message == "public key must be text, not bytes"


# --- type checks ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("role", "check"),
    [(Role.OPERATOR, is_operator_key), (Role.ACCOUNT, is_account_key), (Role.USER, is_user_key),
     (Role.SERVER, is_server_key)],
    ids=lambda v: getattr(v, "__name__", str(v)),
)
def test_is_role_key_accepts_only_its_role(role: Role, check: object) -> None:
    assert callable(check)
    for other in SIGNING_ROLES:
        assert check(create(other).public_key) is (other is role)


@pytest.mark.parametrize("check", [is_operator_key, is_account_key, is_user_key, is_server_key])
def test_is_role_key_rejects_seeds_garbage_and_corrupted_keys(check: object) -> None:
    assert callable(check)
    account = create(Role.ACCOUNT)
    # ("A" * 56 is a valid key: 35 zero bytes have CRC 0.)
    for bad in [account.seed.reveal(), "", "A" * 55 + "B", _corrupt_checksum(account.public_key), None, 42]:
        assert check(bad) is False


def test_public_role_of_a_bad_key_is_none() -> None:
    assert public_role("not a key") is None


# --- seeds never leak ----------------------------------------------------------------------


def test_repr_of_key_pair_shows_role_and_public_key_only(user: KeyPair) -> None:
    text = repr(user) + str(user)
    assert user.public_key in text
    assert user.seed.reveal() not in text
    assert user.seed.reveal()[2:20] not in text


def test_repr_and_str_of_secret_are_masked(user: KeyPair) -> None:
    assert repr(user.seed) == "Secret('***')"
    assert str(user.seed) == "Secret('***')"
    assert f"{user.seed}" == "Secret('***')"


def test_secrets_compare_by_value_without_revealing() -> None:
    assert Secret("x") == Secret("x") and Secret("x") != Secret("y")
    assert hash(Secret("x")) == hash(Secret("x"))


@pytest.mark.parametrize(
    "mangle",
    [
        _corrupt_checksum,
        lambda s: s[:-1],
        lambda s: s[:30] + "0" + s[31:],
        lambda s: s.lower(),
        lambda s: "S" + "Z" + s[2:],
    ],
    ids=["checksum", "truncated", "bad-char", "lower-case", "bad-role"],
)
def test_exception_for_a_bad_seed_never_contains_the_seed(user: KeyPair, mangle: object) -> None:
    assert callable(mangle)
    bad = mangle(user.seed.reveal())
    with pytest.raises(InvalidKey) as exc:
        load_seed(bad, Role.USER)
    rendered = " ".join([str(exc.value), repr(exc.value), exc.value.message, *map(str, exc.value.args)])
    for text in (bad, user.seed.reveal()):
        assert text not in rendered
        assert text[4:24] not in rendered


# --- CRC-16/XMODEM -------------------------------------------------------------------------


def test_crc16_check_value() -> None:
    assert _crc16(b"123456789") == 0x31C3


def test_crc16_agrees_with_the_nkeys_package_on_random_data() -> None:
    rng = random.Random(20240611)
    for length in [0, 1, 2, 33, 34, 35, 64, 255, 1000]:
        for _ in range(20):
            data = rng.randbytes(length)
            assert _crc16(data) == nkeys.crc16(data)
