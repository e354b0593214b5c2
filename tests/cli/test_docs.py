"""Every command has help, is listed in docs/cli.md, and (for the nsc-style ones) documents its --json."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from accountd.cli import main

DOCS = Path(__file__).parent.parent.parent / "docs" / "cli.md"
MINE = ("add", "describe", "dev", "edit", "generate", "importing", "listing", "pull", "push", "revocations")


def leaves(group: click.Group = main, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], click.Command]]:
    for name, cmd in sorted(group.commands.items()):
        if isinstance(cmd, click.Group):
            yield from leaves(cmd, (*path, name))
        else:
            yield (*path, name), cmd


ALL = list(leaves())
NSC_STYLE = [(p, c) for p, c in ALL if c.callback and c.callback.__module__.rsplit(".", 1)[-1] in MINE]


def test_the_nsc_style_commands_are_all_there() -> None:
    names = {" ".join(p) for p, _ in NSC_STYLE}
    assert {"add operator", "add account", "add user", "edit operator", "edit account", "edit user",
            "edit signing-key", "revocations add-user", "revocations delete-user", "revocations list-users",
            "describe operator", "describe account", "describe user", "list keys", "list accounts", "list users",
            "generate nkey", "generate creds", "generate config", "push", "pull", "import nsc", "dev"} <= names


@pytest.mark.parametrize("path", [p for p, _ in ALL], ids=" ".join)
def test_every_command_has_help_and_is_in_the_docs(path: tuple[str, ...]) -> None:
    result = CliRunner().invoke(main, [*path, "--help"])
    assert result.exit_code == 0 and "Usage:" in result.stdout
    cmd = dict(ALL)[path]
    assert (cmd.help or "").strip(), f"accountd {' '.join(path)} has no help text"
    assert f"`accountd {' '.join(path)}`" in DOCS.read_text(), f"accountd {' '.join(path)} is missing from {DOCS}"


@pytest.mark.parametrize("path", [p for p, _ in NSC_STYLE], ids=" ".join)
def test_every_nsc_style_command_takes_json_and_documents_its_shape(path: tuple[str, ...]) -> None:
    cmd = dict(ALL)[path]
    assert any(p.name == "as_json" for p in cmd.params)
    assert "--json prints" in (cmd.epilog or "")


def test_every_group_has_help() -> None:
    for name, cmd in main.commands.items():
        if isinstance(cmd, click.Group):
            assert (cmd.help or "").strip(), name
