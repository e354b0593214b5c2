"""``.creds`` files: Go's exact bytes out, anything nsc / nats CLI / JS writes in."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from accountd.claims import (
    ClaimsError,
    InvalidKey,
    KeyPair,
    Role,
    create,
    decode_user,
    decorate_jwt,
    encode,
    format_creds,
    load_seed,
    new_user,
    parse_creds,
)

from .vectors import VECTORS, vector_creds


@pytest.fixture
def user_creds() -> tuple[str, KeyPair]:
    account, user = create(Role.ACCOUNT), create(Role.USER)
    return encode(new_user(user.public_key, "U"), account, now=1_800_000_000), user


# --- the reference vectors -----------------------------------------------------------------


@pytest.mark.parametrize(("vector_set", "name"), vector_creds())
def test_vector_creds_parse_and_reformat_to_identical_bytes(vector_set: str, name: str) -> None:
    path = VECTORS / vector_set / name
    creds = parse_creds(path)
    assert format_creds(creds.jwt, creds.seed).encode() == path.read_bytes()


@pytest.mark.parametrize(("vector_set", "name"), vector_creds())
def test_vector_creds_hold_the_vector_jwt_and_seed(vector_set: str, name: str) -> None:
    stem = name.removesuffix(".creds")
    creds = parse_creds(VECTORS / vector_set / name)
    assert creds.jwt == (VECTORS / vector_set / f"{stem}.jwt").read_text().strip()
    assert creds.seed == load_seed(VECTORS / vector_set / f"{stem}.nk").seed
    assert creds.key_pair().public_key == decode_user(creds.jwt).sub


def test_format_creds_length_is_jwt_plus_seed_plus_369(user_creds: tuple[str, KeyPair]) -> None:
    token, user = user_creds
    text = format_creds(token, user.seed)
    assert len(text) == len(token) + len(user.seed.reveal()) + 369
    assert "\r" not in text and text.endswith("*" * 61 + "\n")


def test_format_creds_accepts_the_seed_as_text(user_creds: tuple[str, KeyPair]) -> None:
    token, user = user_creds
    assert format_creds(token, user.seed.reveal()) == format_creds(token, user.seed)


# --- parsing what other tools write ----------------------------------------------------------


def test_parse_creds_with_crlf_line_ends(user_creds: tuple[str, KeyPair]) -> None:
    token, user = user_creds
    creds = parse_creds(format_creds(token, user.seed).replace("\n", "\r\n"))
    assert (creds.jwt, creds.seed) == (token, user.seed)


def test_parse_js_library_creds(user_creds: tuple[str, KeyPair]) -> None:
    # nats.js writes "can be used sign" (no "to") and no closing star line.
    token, user = user_creds
    text = (
        f"-----BEGIN NATS USER JWT-----\n{token}\n------END NATS USER JWT------\n\n"
        "************************* IMPORTANT *************************\n"
        "NKEY Seed printed below can be used sign and prove identity.\n"
        "NKEYs are sensitive and should be treated as secrets.\n\n"
        f"-----BEGIN USER NKEY SEED-----\n{user.seed.reveal()}\n------END USER NKEY SEED------\n"
    )
    creds = parse_creds(text)
    assert (creds.jwt, creds.seed) == (token, user.seed)


def test_parse_creds_without_the_final_newline(user_creds: tuple[str, KeyPair]) -> None:
    token, user = user_creds
    text = (
        f"-----BEGIN NATS USER JWT-----\n{token}\n------END NATS USER JWT------\n\n"
        f"-----BEGIN USER NKEY SEED-----\n{user.seed.reveal()}\n------END USER NKEY SEED------"
    )
    assert parse_creds(text).seed == user.seed


def test_parse_bare_jwt_and_seed(user_creds: tuple[str, KeyPair]) -> None:
    token, user = user_creds
    creds = parse_creds(f"{token}\n{user.seed.reveal()}\n")
    assert (creds.jwt, creds.seed) == (token, user.seed)


def test_parse_creds_from_bytes_and_path(user_creds: tuple[str, KeyPair], tmp_path: Path) -> None:
    token, user = user_creds
    text = format_creds(token, user.seed)
    path = tmp_path / "u.creds"
    path.write_text(text)
    assert parse_creds(text.encode()) == parse_creds(path) == parse_creds(text)


# --- refusals ------------------------------------------------------------------------------


def test_format_creds_refuses_the_seed_of_another_user(user_creds: tuple[str, KeyPair]) -> None:
    token, _ = user_creds
    with pytest.raises(ClaimsError) as exc:
        format_creds(token, create(Role.USER).seed)
    assert (exc.value.code, exc.value.message) == (
        "subject_mismatch", "the seed does not belong to the user in the JWT")


def test_format_creds_refuses_a_non_user_seed(user_creds: tuple[str, KeyPair]) -> None:
    token, _ = user_creds
    with pytest.raises(ClaimsError) as exc:
        format_creds(token, create(Role.ACCOUNT).seed)
    assert (exc.value.code, exc.value.message) == ("invalid_key", "creds need a user seed (SU…)")


def test_format_creds_refuses_a_non_user_jwt(basic: Any) -> None:
    with pytest.raises(ClaimsError) as exc:
        format_creds(basic.jwt("A"), basic.seed("U"))
    assert exc.value.code == "wrong_type"


def test_parse_creds_refuses_a_seed_of_another_user(user_creds: tuple[str, KeyPair]) -> None:
    token, user = user_creds
    text = format_creds(token, user.seed).replace(user.seed.reveal(), create(Role.USER).seed.reveal())
    with pytest.raises(ClaimsError) as exc:
        parse_creds(text)
    assert (exc.value.code, exc.value.message) == (
        "subject_mismatch", "the seed in the creds does not belong to its user JWT")


def test_parse_creds_without_a_seed(user_creds: tuple[str, KeyPair]) -> None:
    token, _ = user_creds
    with pytest.raises(ClaimsError) as exc:
        parse_creds(f"-----BEGIN NATS USER JWT-----\n{token}\n------END NATS USER JWT------\n")
    assert (exc.value.code, exc.value.message) == ("bad_encoding", "no nkey seed found in creds")


def test_parse_creds_without_a_jwt(user_creds: tuple[str, KeyPair]) -> None:
    _, user = user_creds
    with pytest.raises(ClaimsError) as exc:
        parse_creds(f"just text\n{user.seed.reveal()}\n")
    assert (exc.value.code, exc.value.message) == ("bad_encoding", "no user JWT found in creds")


def test_parse_creds_with_a_corrupted_seed_is_bad_checksum(user_creds: tuple[str, KeyPair]) -> None:
    token, user = user_creds
    seed = user.seed.reveal()
    corrupted = seed[:30] + ("B" if seed[30] != "B" else "C") + seed[31:]
    with pytest.raises(InvalidKey) as exc:
        parse_creds(format_creds(token, user.seed).replace(seed, corrupted))
    assert exc.value.code == "bad_checksum"
    assert corrupted not in str(exc.value)


# --- secrecy, decoration -------------------------------------------------------------------


def test_creds_repr_hides_the_seed(user_creds: tuple[str, KeyPair]) -> None:
    token, user = user_creds
    creds = parse_creds(format_creds(token, user.seed))
    assert user.seed.reveal() not in repr(creds)
    assert "Secret('***')" in repr(creds)


def test_decorate_jwt_writes_the_nsc_describe_raw_block(basic: Any) -> None:
    token = basic.jwt("A")
    assert decorate_jwt(token, "account") == (
        f"-----BEGIN NATS ACCOUNT JWT-----\n{token}\n------END NATS ACCOUNT JWT------\n\n")
