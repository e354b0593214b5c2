"""Encode and decode NATS JWT v2 tokens (SPEC §3.1–3.3, §3.11).

Signing goes through PyJWT with an ``ed25519-nkey`` algorithm registered on a private
:class:`jwt.PyJWS`; given Go's payload bytes it reproduces a Go token byte for byte.
Decoding is a thin layer of its own because the verification key (``iss``) is inside the payload:
split, check the base64url alphabet, parse, then verify ``header.payload`` with PyNaCl.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
import time
from typing import Any, Final, TypeVar

import jwt
from jwt.algorithms import Algorithm

from accountd.claims import gojson
from accountd.claims.errors import DecodeError
from accountd.claims.keys import InvalidKey, KeyPair, Role, public_role, verifier
from accountd.claims.models import (
    AccountClaims,
    ActivationClaims,
    Claims,
    GenericClaims,
    OperatorClaims,
    UserClaims,
)
from accountd.types import JWT

__all__ = [
    "ALGORITHM",
    "HEADER",
    "MAX_TOKEN_SIZE",
    "compute_jti",
    "decode",
    "decode_account",
    "decode_generic",
    "decode_operator",
    "decode_unverified",
    "decode_user",
    "encode",
]

ALGORITHM: Final = "ed25519-nkey"
HEADER: Final = {"typ": "JWT", "alg": ALGORITHM}
MAX_TOKEN_SIZE: Final = 1 << 20
_B64URL: Final = re.compile(r"^[A-Za-z0-9_-]*$")

C = TypeVar("C", bound=Claims)

_BY_TYPE: Final[dict[str, type[Claims]]] = {
    "operator": OperatorClaims,
    "account": AccountClaims,
    "user": UserClaims,
    "activation": ActivationClaims,
}

# Which key roles may sign which claim type (SPEC §3.2).
_SIGNERS: Final[dict[str, frozenset[Role]]] = {
    "operator": frozenset({Role.OPERATOR}),
    "account": frozenset({Role.ACCOUNT, Role.OPERATOR}),
    "user": frozenset({Role.ACCOUNT}),
    "activation": frozenset({Role.ACCOUNT, Role.OPERATOR}),
}
_SUBJECTS: Final[dict[str, Role]] = {
    "operator": Role.OPERATOR,
    "account": Role.ACCOUNT,
    "user": Role.USER,
    "activation": Role.ACCOUNT,
}


class _NkeyAlgorithm(Algorithm):
    """PyJWT algorithm ``ed25519-nkey``: the key is an accountd KeyPair (signing) or public key."""

    def prepare_key(self, key: Any) -> Any:
        return key

    def sign(self, msg: bytes, key: Any) -> bytes:
        if not isinstance(key, KeyPair):
            raise TypeError("ed25519-nkey signing needs an accountd KeyPair")
        return key.sign(msg)

    def verify(self, msg: bytes, key: Any, sig: bytes) -> bool:
        public = key.public_key if isinstance(key, KeyPair) else str(key)
        return verifier(public).verify(msg, sig)

    @staticmethod
    def to_jwk(key_obj: Any, as_dict: bool = False) -> Any:
        raise NotImplementedError("nkeys have no JWK form")

    @staticmethod
    def from_jwk(jwk: Any) -> Any:
        raise NotImplementedError("nkeys have no JWK form")


_JWS = jwt.PyJWS(algorithms=[])
_JWS.register_algorithm(ALGORITHM, _NkeyAlgorithm())
_ALG = _NkeyAlgorithm()


def _b32(data: bytes) -> str:
    return base64.b32encode(data).decode().rstrip("=")


def compute_jti(claims: Claims) -> str:
    """Go's ``ClaimsData.hash``: base32 of SHA-512/256 over the standard claims without jti."""
    return _b32(hashlib.new("sha512_256", gojson.dumps_bytes(claims.standard())).digest())


def encode(claims: Claims, signer: KeyPair, *, now: int | None = None) -> JWT:
    """Sign ``claims`` with ``signer``. Sets ``iss``, ``iat``, ``jti``, ``nats.type``/``version``.

    ``claims`` is updated in place (as Go's ``Encode`` does), so the caller sees the final values.
    """
    ctype = claims.TYPE or "generic"
    if ctype in _SIGNERS:
        want = _SUBJECTS[ctype]
        if public_role(claims.sub) is not want:
            raise InvalidKey("invalid_key", f"{ctype} subject must be {want.with_article} key")
        if signer.role not in _SIGNERS[ctype]:
            raise DecodeError("issuer_role", f"{signer.role.with_article} key cannot sign {ctype} claims")
        nats = claims.nats  # type: ignore[attr-defined]
        nats.type = ctype
        nats.version = 2
        if isinstance(claims, AccountClaims):
            # Sorted in place, as written, so that the claims equal what decoding the token gives.
            claims.nats.exports.sort(key=lambda e: e.subject)
            claims.nats.imports.sort(key=lambda i: i.subject)
            claims.nats.signing_keys.sort(key=lambda k: k if isinstance(k, str) else k.key)
        if isinstance(claims, OperatorClaims):
            url = claims.nats.account_server_url
            if url and "://" not in url:
                raise DecodeError("structure", f"account_server_url {url!r} has no scheme")
    elif isinstance(claims, GenericClaims):
        claims.nats = {**claims.nats, "version": 2}
        if not claims.sub:
            raise DecodeError("structure", "claims need a subject")
    claims.iss = signer.public_key
    claims.iat = int(time.time()) if now is None else now
    claims.jti = ""
    claims.jti = compute_jti(claims)
    payload = gojson.dumps_bytes(claims.to_go())
    # The registered ed25519-nkey algorithm signs with a KeyPair; pyjwt's annotation lists its own key types.
    token = _JWS.encode(payload, signer, algorithm=ALGORITHM, headers=dict(HEADER), sort_headers=False)  # type: ignore[arg-type]
    return JWT(token)


def _b64decode(segment: str, what: str) -> bytes:
    if not _B64URL.match(segment):
        raise DecodeError("bad_encoding", f"{what} is not base64url")
    try:
        return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
    except (binascii.Error, ValueError):
        raise DecodeError("bad_encoding", f"{what} is not valid base64url") from None


def _json_object(raw: bytes, what: str) -> dict[str, Any]:
    try:
        obj = json.loads(raw.decode("utf-8"))
    except (ValueError, UnicodeDecodeError):
        raise DecodeError("bad_encoding", f"{what} is not JSON") from None
    if not isinstance(obj, dict):
        raise DecodeError("bad_encoding", f"{what} is not a JSON object")
    return obj


def _split(token: str | bytes) -> tuple[list[str], dict[str, Any]]:
    if isinstance(token, bytes):
        try:
            token = token.decode("ascii")
        except UnicodeDecodeError:
            raise DecodeError("bad_encoding", "token is not ASCII") from None
    if len(token) > MAX_TOKEN_SIZE:
        raise DecodeError("too_large", f"token too large: {len(token)} bytes (limit {MAX_TOKEN_SIZE})")
    # Go's base64 decoder skips CR and LF anywhere (so "<jwt>\n" decodes); other whitespace fails.
    if "\n" in token or "\r" in token:
        token = token.replace("\r", "").replace("\n", "")
    chunks = token.split(".")
    if len(chunks) != 3:
        raise DecodeError("bad_encoding", "expected 3 chunks")
    if chunks[0] not in _GOOD_HEADERS:
        _check_header(chunks[0])
    payload = _json_object(_b64decode(chunks[1], "payload"), "payload")
    return chunks, payload


# Header chunks already checked (nearly every token has Go's, or PyJWT's sorted variant).
_GOOD_HEADERS: set[str] = set()


def _check_header(chunk: str) -> None:
    header = _json_object(_b64decode(chunk, "header"), "header")
    typ, alg = header.get("typ"), header.get("alg")
    if not isinstance(typ, str) or typ.upper() != "JWT":
        raise DecodeError("bad_header", f"not a JWT: header typ is {typ!r}")
    if not isinstance(alg, str) or alg.lower() != ALGORITHM:
        if isinstance(alg, str) and alg.lower() == "ed25519":
            raise DecodeError("bad_header", "version 1 JWT (alg ed25519) is not supported; re-issue it")
        raise DecodeError("bad_header", f"unexpected algorithm {alg!r}, want {ALGORITHM!r}")
    if len(_GOOD_HEADERS) < 64:
        _GOOD_HEADERS.add(chunk)


def _claim_type(payload: dict[str, Any]) -> str:
    if "type" in payload:
        raise DecodeError("bad_version", "version 1 JWT is not supported; re-issue it with a current tool")
    nats = payload.get("nats")
    if nats is None:
        return "generic"
    if not isinstance(nats, dict):
        raise DecodeError("bad_encoding", "nats is not a JSON object")
    version = nats.get("version", 0)
    if isinstance(version, bool) or not isinstance(version, int):
        raise DecodeError("bad_version", f"nats.version must be an integer, got {version!r}")
    if version > 2:
        raise DecodeError("bad_version", f"JWT was generated by a newer version (version {version})")
    ctype = nats.get("type")
    if ctype in ("cluster", "server"):
        raise DecodeError("wrong_type", f"{ctype} claims are not supported")
    if ctype not in _BY_TYPE:
        return "generic"
    if version != 2:
        raise DecodeError("bad_version", f"library supports version 2 or less - received {version}")
    return str(ctype)


def _verify(chunks: list[str], iss: Any) -> None:
    if not isinstance(iss, str) or public_role(iss) is None:
        raise DecodeError("bad_signature", f"issuer {iss!r} is not a valid public key")
    signature = _b64decode(chunks[2], "signature")
    if not _ALG.verify(f"{chunks[0]}.{chunks[1]}".encode("ascii"), iss, signature):
        raise DecodeError("bad_signature", "claim failed V2 signature verification")


def decode_unverified(token: str | bytes) -> Claims:
    """Decode without checking the signature (for display of untrusted input only)."""
    _, payload = _split(token)
    return _BY_TYPE.get(_claim_type(payload), GenericClaims).from_go(payload)


def decode(token: str | bytes) -> Claims:
    """Decode and verify any NATS JWT; returns the typed claims.

    Checks size, header, version, signature, and the issuer's role for the claim type. Does not
    validate trust, times or structure (that is :mod:`accountd.claims.validate`).
    """
    chunks, payload = _split(token)
    ctype = _claim_type(payload)
    _verify(chunks, payload.get("iss"))
    cls = _BY_TYPE.get(ctype, GenericClaims)
    claims = cls.from_go(payload)
    if ctype in _SIGNERS:
        role = public_role(claims.iss)
        if role not in _SIGNERS[ctype]:
            raise DecodeError(
                "issuer_role",
                f"{ctype} JWT issued by {role.with_article if role else 'an invalid'} key ({claims.iss[:1]}…); "
                f"allowed: {', '.join(sorted(r.name.lower() for r in _SIGNERS[ctype]))}",
            )
    return claims


def _decode_as(token: str | bytes, cls: type[C]) -> C:
    claims = decode(token)
    if not isinstance(claims, cls) or (cls is GenericClaims and type(claims) is not GenericClaims):
        raise DecodeError("wrong_type", f"expected {cls.TYPE or 'generic'} claims, got {claims.TYPE or 'generic'}")
    return claims


def decode_account(token: str | bytes) -> AccountClaims:
    return _decode_as(token, AccountClaims)


def decode_operator(token: str | bytes) -> OperatorClaims:
    return _decode_as(token, OperatorClaims)


def decode_user(token: str | bytes) -> UserClaims:
    return _decode_as(token, UserClaims)


def decode_generic(token: str | bytes) -> GenericClaims:
    """``DecodeGeneric`` semantics: any claim, verified V2-style; the whole payload kept as a map."""
    chunks, payload = _split(token)
    _verify(chunks, payload.get("iss"))
    return GenericClaims.from_go(payload)
