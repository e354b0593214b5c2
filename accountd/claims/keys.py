"""nkeys: the ed25519 keys of NATS, with the checks the ``nkeys`` package leaves out.

Built on the official ``nkeys`` package (seed encoding, signing) and PyNaCl (verification with a
public key only). What this module adds:

* creation of operator / account / user / server seeds;
* strict decoding: base32 alphabet, exact length, CRC-16 (``nkeys.decode_seed`` skips it), role;
* :class:`Secret`, so a seed never shows up in ``repr``, logs or exception messages;
* errors that name the exact fault (:class:`KeyError_` subclasses carry a stable ``code``).

Text layout (SPEC §2): base32 (RFC 4648, upper case, no padding) of
``prefix ‖ payload ‖ crc16-xmodem(prefix ‖ payload) little-endian``.
"""

from __future__ import annotations

import base64
import binascii
import enum
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import nacl.bindings
import nacl.exceptions
import nacl.signing
import nkeys

from accountd.claims.errors import ClaimsError
from accountd.types import AccountKey, OperatorKey, PublicKey, UserKey

__all__ = [
    "InvalidKey",
    "KeyPair",
    "PublicKeyOnly",
    "Role",
    "Secret",
    "create",
    "decode_public",
    "is_account_key",
    "is_operator_key",
    "is_server_key",
    "is_user_key",
    "load_seed",
    "looks_like_account_key",
    "public_role",
    "verifier",
]

_B32: Final = re.compile(r"^[A-Z2-7]+$")
_SEED_MARKER: Final = 18 << 3  # 0x90, base32 'S'
PUBLIC_LEN: Final = 56
SEED_LEN: Final = 58


class Role(enum.Enum):
    """The role of a key, named by its prefix byte."""

    OPERATOR = 14 << 3
    ACCOUNT = 0
    USER = 20 << 3
    SERVER = 13 << 3
    CLUSTER = 2 << 3

    @property
    def letter(self) -> str:
        return "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"[self.value >> 3]

    @property
    def with_article(self) -> str:
        """``"an operator"``, ``"a user"``: for messages."""
        name = self.name.lower()
        return f"an {name}" if self in (Role.OPERATOR, Role.ACCOUNT) else f"a {name}"

    @classmethod
    def from_letter(cls, letter: str) -> Role:
        for role in cls:
            if role.letter == letter:
                return role
        raise ValueError(f"no key role starts with {letter!r}")


class InvalidKey(ClaimsError):
    """A key string that is not what it must be. ``code`` is stable, the message says why."""


class Secret:
    """Holds seed text; ``repr``/``str`` never show it."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


def _crc16(data: bytes) -> int:
    # CRC-16/XMODEM, the checksum nkeys uses (binascii.crc_hqx with init 0 is exactly it).
    return binascii.crc_hqx(data, 0)


def _b32decode(text: str, what: str) -> bytes:
    if not text:
        raise InvalidKey("invalid_key", f"{what} is empty")
    if not _B32.match(text):
        bad = next(c for c in text if not ("A" <= c <= "Z" or "2" <= c <= "7"))
        raise InvalidKey("invalid_key", f"{what} has a character outside base32 (A-Z, 2-7): {bad!r}")
    padded = text + "=" * (-len(text) % 8)
    try:
        return base64.b32decode(padded)
    except binascii.Error as exc:
        raise InvalidKey("invalid_key", f"{what} is not valid base32: {exc}") from None


def _checked(raw: bytes, what: str) -> bytes:
    if len(raw) < 4:
        raise InvalidKey("invalid_key", f"{what} is too short")
    body, crc = raw[:-2], int.from_bytes(raw[-2:], "little")
    if _crc16(body) != crc:
        raise InvalidKey("bad_checksum", f"{what} has a bad checksum (corrupted or mistyped)")
    return body


def _encode(body: bytes) -> str:
    raw = body + _crc16(body).to_bytes(2, "little")
    return base64.b32encode(raw).decode().rstrip("=")


# Valid public keys already decoded (a few operators and accounts recur in every JWT; decoding one
# costs a base32 pass and a CRC). Only successes are kept, so the checks below are never skipped.
_DECODED: dict[str, tuple[Role, bytes]] = {}
_CACHE_LIMIT: Final = 65536


def decode_public(key: str, expected: Role | None = None) -> tuple[Role, bytes]:
    """Decode a public key to its role and 32-byte ed25519 key, checking everything."""
    hit = _DECODED.get(key) if type(key) is str else None
    if hit is not None and (expected is None or hit[0] is expected):
        return hit
    role, raw = _decode_public(key)
    if expected is not None and role is not expected:
        raise InvalidKey(
            "invalid_key",
            f"expected {expected.with_article} key ({expected.letter}…), got {role.with_article} key",
        )
    return role, raw


def _decode_public(key: str) -> tuple[Role, bytes]:
    if not isinstance(key, str):
        raise InvalidKey("invalid_key", f"public key must be text, not {type(key).__name__}")
    what = "public key"
    if key.startswith("S") and len(key) == SEED_LEN:
        raise InvalidKey("invalid_key", "a seed was given where a public key belongs")
    raw = _b32decode(key, what)
    # Length before checksum, so a truncated key is reported as such, not as a bad checksum.
    if len(key) != PUBLIC_LEN or len(raw) != 35:
        raise InvalidKey("invalid_key", f"public key must be {PUBLIC_LEN} characters, got {len(key)}")
    raw = _checked(raw, what)
    try:
        role = Role(raw[0])
    except ValueError:
        raise InvalidKey("invalid_key", f"public key has an unknown prefix {key[0]!r}") from None
    if len(_DECODED) >= _CACHE_LIMIT:
        _DECODED.clear()
    result = _DECODED[key] = (role, raw[1:])
    return result


def public_role(key: str) -> Role | None:
    """The role of a valid public key, or None if ``key`` is not one."""
    try:
        return decode_public(key)[0]
    except InvalidKey:
        return None


def _is(key: object, role: Role) -> bool:
    return isinstance(key, str) and len(key) == PUBLIC_LEN and key[:1] == role.letter and public_role(key) is role


def is_operator_key(key: object) -> bool:
    return _is(key, Role.OPERATOR)


def is_account_key(key: object) -> bool:
    return _is(key, Role.ACCOUNT)


_ACCOUNT_FORM = re.compile(r"A[A-Z2-7]{55}")


def looks_like_account_key(key: object) -> bool:
    """``A`` and 55 base32 characters: the form of an account key, checksum unchecked (a regex, no
    decoding). Enough to look a key up among keys that were checked when they were stored."""
    return isinstance(key, str) and _ACCOUNT_FORM.fullmatch(key) is not None


def is_user_key(key: object) -> bool:
    return _is(key, Role.USER)


def is_server_key(key: object) -> bool:
    return _is(key, Role.SERVER)


def _decode_seed(text: str) -> tuple[Role, bytes]:
    what = "seed"
    if not text.startswith("S"):
        if public_role(text) is not None:
            raise InvalidKey("invalid_key", "a public key was given where a seed belongs")
        raise InvalidKey("invalid_key", "seed must start with 'S'")
    raw = _b32decode(text, what)
    if len(text) != SEED_LEN or len(raw) != 36:
        raise InvalidKey("invalid_key", f"seed must be {SEED_LEN} characters, got {len(text)}")
    raw = _checked(raw, what)
    if raw[0] & 0xF8 != _SEED_MARKER:
        raise InvalidKey("invalid_key", "seed has no seed marker")
    prefix = ((raw[0] & 0x07) << 5) | ((raw[1] & 0xF8) >> 3)
    try:
        role = Role(prefix)
    except ValueError:
        raise InvalidKey("invalid_key", f"seed has an unknown role {text[1]!r}") from None
    return role, raw[2:]


_ARMOR = re.compile(r"^\s*-{3,}[^\n]*-{3,}\s*$")


def _extract_seed(text: str) -> str:
    """The seed out of bare text or a decorated block (``-----BEGIN … SEED-----`` … )."""
    lines = [ln.strip() for ln in text.replace("\r", "").split("\n")]
    candidates = [ln for ln in lines if ln and not _ARMOR.match(ln)]
    for ln in candidates:
        if ln.startswith("S") and len(ln) == SEED_LEN:
            return ln
    return candidates[0] if len(candidates) == 1 else text.strip()


def load_seed(source: str | bytes | Path | Secret, expected: Role | None = None) -> KeyPair:
    """Load a key pair from seed text, bytes, a ``.nk`` file or a decorated block.

    The CRC is checked (``nkeys.from_seed`` would accept a corrupted seed).
    """
    if isinstance(source, Secret):
        text = source.reveal()
    elif isinstance(source, Path):
        try:
            text = source.read_text()
        except OSError as exc:
            raise InvalidKey("invalid_key", f"cannot read seed file {source}: {exc.strerror}") from None
    elif isinstance(source, bytes):
        text = source.decode("ascii", errors="replace")
    else:
        text = source
    seed = _extract_seed(text)
    role, _ = _decode_seed(seed)
    if expected is not None and role is not expected:
        raise InvalidKey(
            "invalid_key",
            f"expected {expected.with_article} seed (S{expected.letter}…), got {role.with_article} seed",
        )
    return KeyPair(Secret(seed), role)


def create(role: Role) -> KeyPair:
    """A fresh random key pair of ``role``."""
    seed = nkeys.encode_seed(os.urandom(32), role.value).decode()
    return KeyPair(Secret(seed), role)


@dataclass(frozen=True, slots=True)
class PublicKeyOnly:
    """A public key that can verify signatures but not make them."""

    public_key: PublicKey
    role: Role

    @classmethod
    def parse(cls, key: str, expected: Role | None = None) -> PublicKeyOnly:
        role, _ = decode_public(key, expected)
        return cls(PublicKey(key), role)

    def verify(self, message: bytes, signature: bytes) -> bool:
        return verifier(self.public_key).verify(message, signature)


class KeyPair:
    """A seed with its public key; signs with the official ``nkeys`` package."""

    __slots__ = ("_kp", "public_key", "role", "seed")

    def __init__(self, seed: Secret, role: Role) -> None:
        self.seed = seed
        self.role = role
        self._kp = nkeys.from_seed(seed.reveal().encode())
        self.public_key = PublicKey(self._kp.public_key.decode())

    def __repr__(self) -> str:
        return f"KeyPair({self.role.name.lower()} {self.public_key})"

    def sign(self, message: bytes) -> bytes:
        return bytes(self._kp.sign(message))

    def verify(self, message: bytes, signature: bytes) -> bool:
        return verifier(self.public_key).verify(message, signature)

    @property
    def account_key(self) -> AccountKey:
        if self.role is not Role.ACCOUNT:
            raise InvalidKey("invalid_key", f"{self.public_key} is not an account key")
        return AccountKey(self.public_key)

    @property
    def operator_key(self) -> OperatorKey:
        if self.role is not Role.OPERATOR:
            raise InvalidKey("invalid_key", f"{self.public_key} is not an operator key")
        return OperatorKey(self.public_key)

    @property
    def user_key(self) -> UserKey:
        if self.role is not Role.USER:
            raise InvalidKey("invalid_key", f"{self.public_key} is not a user key")
        return UserKey(self.public_key)


class _Verifier:
    __slots__ = ("_raw",)

    def __init__(self, raw: bytes) -> None:
        nacl.signing.VerifyKey(raw)  # checks the key's length once
        self._raw = raw

    def verify(self, message: bytes, signature: bytes) -> bool:
        if len(signature) != 64:
            return False
        # libsodium directly: VerifyKey.verify adds a wrapper and encoder layer on every call.
        try:
            nacl.bindings.crypto_sign_open(signature + message, self._raw)
        except nacl.exceptions.BadSignatureError:
            return False
        return True


_VERIFIERS: dict[str, _Verifier] = {}


def verifier(public_key: str) -> _Verifier:
    """A (cached) ed25519 verifier for a public key; raises :class:`InvalidKey` for a bad key."""
    v = _VERIFIERS.get(public_key)
    if v is None:
        _, raw = decode_public(public_key)
        v = _Verifier(raw)
        if len(_VERIFIERS) > 65536:
            _VERIFIERS.clear()
        _VERIFIERS[public_key] = v
    return v
