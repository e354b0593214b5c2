"""Test helpers importable from any test module (``from harness import …``).

conftest.py files are not importable by name when there are several of them, so everything a
test imports lives here; conftest.py only declares fixtures.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from accountd.natsserver import NatsServer

VECTORS = Path(__file__).parent / "vectors"


@dataclass(frozen=True)
class VectorSet:
    """One folder of ``tests/vectors`` (made by the official Go libraries)."""

    path: Path
    summary: dict[str, dict[str, str]]

    def jwt(self, name: str) -> str:
        return (self.path / f"{name}.jwt").read_text().strip()

    def seed(self, name: str) -> str:
        return (self.path / f"{name}.nk").read_text().strip()

    def file(self, name: str) -> Path:
        return self.path / name


def load_vectors(name: str) -> VectorSet:
    path = VECTORS / name
    return VectorSet(path, json.loads((path / "summary.json").read_text()))


def operator_mode_config(
    operator_jwt: Path, system_account: str, resolver: str, preload: dict[str, str] | None = None, extra: str = ""
) -> str:
    """The body of an operator-mode nats-server config (absolute paths; see SPEC §5.6)."""
    lines = [f'operator: "{operator_jwt}"', f"system_account: {system_account}", f"resolver: {resolver}"]
    if preload:
        lines.append("resolver_preload: {")
        lines += [f"  {k}: {v}" for k, v in preload.items()]
        lines.append("}")
    return "\n".join(lines) + "\n" + extra


NatsFactory = Callable[..., NatsServer]
