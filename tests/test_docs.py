"""The README documents every setting of ``accountd serve`` (docs cannot drift)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from accountd.config import Settings

README = (Path(__file__).parent.parent / "README.md").read_text()


def test_every_serve_setting_is_in_the_readme_table() -> None:
    missing = [f.name for f in dataclasses.fields(Settings) if f"`{f.name}`" not in README]
    assert not missing, f"README configuration table lacks: {missing}"


def test_every_serve_flag_is_in_the_readme() -> None:
    from accountd.cli.serve import serve

    missing = [opt for p in serve.params for opt in p.opts if opt.startswith("--") and opt not in README]
    assert not missing, f"README lacks flags: {missing}"


def test_readme_shows_the_two_commands() -> None:
    assert "make run" in README
    assert "make test" in README
