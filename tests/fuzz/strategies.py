"""Inputs shaped like what accountd is sent: JWT-like tokens, JSON documents, nkeys."""

from __future__ import annotations

import base64
import json
from typing import Any

from hypothesis import strategies as st

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63) | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=12,
)
json_objects = st.dictionaries(st.text(max_size=12), json_values, max_size=6)


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def segment(doc: Any) -> str:
    return b64(json.dumps(doc).encode())


@st.composite
def jwt_like(draw: st.DrawFn, claims: dict[str, Any] | None = None) -> str:
    """Three dot-separated segments: a header and a payload that are JSON (often nearly right)."""
    header = draw(st.one_of(
        st.just({"typ": "JWT", "alg": "ed25519-nkey"}),
        st.just({"typ": "JWT", "alg": "ed25519"}),
        json_objects,
    ))
    payload: dict[str, Any] = dict(claims or {})
    payload.update(draw(json_objects))
    if draw(st.booleans()):
        payload["nats"] = draw(st.one_of(json_objects, st.fixed_dictionaries({
            "type": st.sampled_from(["account", "user", "operator", "generic", "activation", "x"]),
            "version": st.sampled_from([1, 2, 3, "2"]),
        })))
    signature = draw(st.binary(max_size=70))
    return ".".join([segment(header), segment(payload), b64(signature)])


def mutate(draw: st.DrawFn, text: str) -> str:
    """``text`` with a few characters replaced, inserted or removed."""
    chars = list(text)
    for _ in range(draw(st.integers(1, 4))):
        i = draw(st.integers(0, max(0, len(chars) - 1)))
        op = draw(st.sampled_from(["replace", "insert", "delete"]))
        c = draw(st.characters(codec="ascii"))
        if op == "replace" and chars:
            chars[i] = c
        elif op == "insert":
            chars.insert(i, c)
        elif chars:
            del chars[i]
    return "".join(chars)


@st.composite
def mutated(draw: st.DrawFn, text: str) -> str:
    return mutate(draw, text)
