"""Crafting tokens by hand, for the cases ``accountd.claims.encode`` refuses to produce."""

from __future__ import annotations

import base64
import json
from typing import Any

from accountd.claims import HEADER, KeyPair, gojson


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def payload_of(token: str) -> dict[str, Any]:
    """The JSON payload of a token, unverified."""
    segment = token.split(".")[1]
    obj: dict[str, Any] = json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))
    return obj


def payload_bytes(token: str) -> bytes:
    segment = token.split(".")[1]
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def sign_payload(payload: dict[str, Any] | bytes, signer: KeyPair, header: dict[str, Any] | None = None) -> str:
    """``B64(header).B64(payload).B64(sig)`` signed V2-style, with no checks at all."""
    head = json.dumps(HEADER if header is None else header, separators=(",", ":")).encode()
    body = payload if isinstance(payload, bytes) else gojson.dumps_bytes(payload)
    signing_input = f"{b64url(head)}.{b64url(body)}"
    return f"{signing_input}.{b64url(signer.sign(signing_input.encode()))}"
