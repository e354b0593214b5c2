"""The ``$SYS`` event decoders under arbitrary payloads: an event or ``MalformedEvent``, nothing else."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from accountd.monitor.events import MalformedEvent, decode, decode_account_statz, decode_statsz
from monitor.payloads import CLIENT_29, CLIENT_215, SERVER_29, SERVER_215, A, connect, conns, disconnect, statsz

from .strategies import json_values

N = SERVER_215["id"]
SAMPLES: list[tuple[str, bytes]] = [
    (f"$SYS.ACCOUNT.{A}.CONNECT", connect(SERVER_215, CLIENT_215)),
    (f"$SYS.ACCOUNT.{A}.CONNECT", connect(SERVER_29, CLIENT_29)),
    (f"$SYS.ACCOUNT.{A}.DISCONNECT", disconnect(SERVER_215, CLIENT_215)),
    (f"$SYS.SERVER.{N}.CLIENT.AUTH.ERR", disconnect(SERVER_215, CLIENT_215, "Authentication Failure")),
    (f"$SYS.SERVER.ACCOUNT.{A}.CONNS", conns(SERVER_215, A, 2)),
    (f"$SYS.ACCOUNT.{A}.SERVER.CONNS", conns(SERVER_29, A, 1)),
    (f"$SYS.SERVER.{N}.STATSZ", statsz(SERVER_215)),
    (f"$SYS.SERVER.{N}.SHUTDOWN", json.dumps(SERVER_215).encode()),
    (f"$SYS.ACCOUNT.{A}.LEAFNODE.CONNECT", json.dumps({"server": SERVER_215, "acc": A}).encode()),
]


@st.composite
def perturbed(draw: st.DrawFn) -> tuple[str, bytes]:
    """A real event with a few values somewhere inside replaced by arbitrary JSON."""
    subject, data = draw(st.sampled_from(SAMPLES))
    doc = json.loads(data)
    for _ in range(draw(st.integers(1, 3))):
        node: Any = doc
        while True:
            keys = list(node) if isinstance(node, dict) else list(range(len(node))) if isinstance(node, list) else []
            if not keys:
                break
            key = draw(st.sampled_from(keys))
            child = node[key]
            if isinstance(child, (dict, list)) and child and draw(st.booleans()):
                node = child
                continue
            node[key] = draw(json_values)
            break
    return subject, json.dumps(doc).encode()


def _decodes_or_refuses(subject: str, data: bytes) -> None:
    for fn in (decode, decode_statsz, decode_account_statz):
        try:
            fn(subject, data)
        except MalformedEvent as exc:
            assert str(exc)


@given(st.sampled_from([s for s, _ in SAMPLES]), st.binary(max_size=300))
def test_arbitrary_bytes_are_an_event_or_malformed(subject: str, data: bytes) -> None:
    _decodes_or_refuses(subject, data)


@given(st.sampled_from([s for s, _ in SAMPLES]), json_values)
def test_arbitrary_json_is_an_event_or_malformed(subject: str, doc: Any) -> None:
    _decodes_or_refuses(subject, json.dumps(doc).encode())


@given(perturbed())
def test_real_events_with_wrong_types_inside_are_an_event_or_malformed(sample: tuple[str, bytes]) -> None:
    _decodes_or_refuses(*sample)


@given(st.text(max_size=80), st.binary(max_size=50))
def test_arbitrary_subjects_are_an_event_or_malformed(subject: str, data: bytes) -> None:
    _decodes_or_refuses(subject, data)
