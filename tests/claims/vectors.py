"""The reference vectors (tests/vectors, made by the official Go libraries) as test parameters.

The ``basic`` and ``signing`` fixtures of tests/conftest.py give the files; parametrizing needs
the names at collection time, which this module reads from the summaries.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

VECTORS = Path(__file__).parent.parent / "vectors"
VECTOR_SETS = ("basic", "signing")

# Who signed each JWT of a set (the key's file stem), per tests/vectors/README.md.
SIGNERS = {
    "basic": {"operator": "operator", "SYS": "operator", "A": "operator", "U": "A", "sys": "SYS"},
    "signing": {"operator": "operator", "SYS": "operator_sk", "A": "operator_sk", "U": "A_sk", "sys": "SYS"},
}


def summary(vector_set: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((VECTORS / vector_set / "summary.json").read_text())
    return data


def vector_keys() -> list[Any]:
    """(set, entry, public key, seed) for every key named in a summary."""
    return [
        pytest.param(s, name, entry["public_key"], entry["seed"], id=f"{s}-{name}")
        for s in VECTOR_SETS
        for name, entry in summary(s).items()
        if isinstance(entry, dict) and "seed" in entry
    ]


def vector_jwts() -> list[Any]:
    """(set, name) for every ``<name>.jwt`` file."""
    return [
        pytest.param(s, path.stem, id=f"{s}-{path.stem}")
        for s in VECTOR_SETS
        for path in sorted((VECTORS / s).glob("*.jwt"))
    ]


def vector_creds() -> list[Any]:
    """(set, file name) for every creds file."""
    return [
        pytest.param(s, path.name, id=f"{s}-{path.name}")
        for s in VECTOR_SETS
        for path in sorted((VECTORS / s).glob("*.creds"))
    ]
