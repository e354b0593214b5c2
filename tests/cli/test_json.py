"""Every nsc-style command's --json output is exactly one JSON document, success or failure."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from accountd.cli import main
from accountd.natsserver import free_port

from .helpers import Cli, make_world
from .test_docs import NSC_STYLE


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cli]:
    cli = make_world(Cli(tmp_path_factory.mktemp("json") / "home"))
    yield cli


DEAD = f"http://127.0.0.1:{free_port()}/jwt/v1"

# (command path, arguments, expected exit code); run in order against one home.
INVOCATIONS: list[tuple[tuple[str, ...], list[str], int]] = [
    (("list", "operators"), [], 0),
    (("list", "accounts"), [], 0),
    (("list", "users"), ["--account", "A"], 0),
    (("list", "keys"), ["--unreferenced"], 0),
    (("describe", "operator"), [], 0),
    (("describe", "account"), ["--name", "A"], 0),
    (("describe", "account"), ["--name", "A", "--raw"], 0),
    (("describe", "user"), ["--account", "A", "--name", "u"], 0),
    (("add", "account"), ["--name", "B"], 0),
    (("add", "user"), ["--account", "B", "--name", "b"], 0),
    (("edit", "account"), ["--name", "B", "--conn", "5"], 0),
    (("edit", "user"), ["--account", "B", "--name", "b", "--allow-pub", "x"], 0),
    (("edit", "operator"), ["--tag", "json"], 0),
    (("edit", "signing-key"), ["--account", "B", "--sk", "NOT-A-KEY"], 1),
    (("revocations", "add-user"), ["--account", "B", "--name", "b"], 0),
    (("revocations", "list-users"), ["--account", "B"], 0),
    (("revocations", "delete-user"), ["--account", "B", "--name", "b"], 0),
    (("generate", "nkey"), ["--operator"], 0),
    (("generate", "creds"), ["--account", "A", "--name", "u"], 0),
    (("generate", "config"), ["--resolver", "memory"], 0),
    (("push",), ["--account", "A", "--url", DEAD], 1),
    (("pull",), ["--all", "--url", DEAD], 1),
    (("push",), [], 2),
    (("import", "nsc"), ["{home}"], 0),
    (("add", "operator"), ["--name", "OP"], 1),
    (("dev",), ["--http-port", "not-a-number"], 2),
]


def test_the_invocations_cover_every_nsc_style_command() -> None:
    assert {p for p, _, _ in INVOCATIONS} == {p for p, _ in NSC_STYLE}


@pytest.mark.parametrize(("path", "args", "code"), INVOCATIONS, ids=[" ".join(p) for p, _, _ in INVOCATIONS])
def test_json_output_is_one_document(home: Cli, tmp_path: Path, path: tuple[str, ...], args: list[str],
                                     code: int) -> None:
    args = [a.replace("{home}", str(home.home)) for a in args]
    argv = [*path, *args, "--json", "--home", str(tmp_path / "copy" if path == ("import", "nsc") else home.home)]
    result = CliRunner().invoke(main, argv, catch_exceptions=False)
    assert result.exit_code == code, result.stdout + result.stderr
    doc = json.loads(result.stdout)
    assert isinstance(doc, dict)
    if code:
        assert doc["ok"] is False
        if "error" in doc:
            assert doc["error"]["code"] == "usage" if code == 2 else doc["error"]["message"]
