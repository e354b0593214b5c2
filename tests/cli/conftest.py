"""Fixtures for the CLI tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from .helpers import Cli, make_world


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    return Cli(tmp_path / "home")


@pytest.fixture
def world(cli: Cli) -> Cli:
    return make_world(cli)
