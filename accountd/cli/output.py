"""Output rules shared by every command.

Data goes to stdout, diagnostics to stderr. With ``--json`` a command prints exactly one JSON
document. Exit codes: 0 ok, 1 failed, 2 usage (click's own).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from typing import Any, NoReturn

import click

__all__ = ["CommandFailed", "emit", "fail", "json_option", "say"]

json_option = click.option("--json", "as_json", is_flag=True, help="Print exactly one JSON document.")


class CommandFailed(click.ClickException):
    """A failure the user can act on: what is wrong, and what to do about it. Exit code 1."""

    exit_code = 1

    def __init__(self, message: str, hint: str = "", *, as_json: bool = False, code: str = "failed") -> None:
        super().__init__(message)
        self.hint = hint
        self.as_json = as_json
        self.code = code

    def show(self, file: Any = None) -> None:
        if self.as_json:
            doc = {"ok": False, "error": {"code": self.code, "message": self.message, "hint": self.hint}}
            click.echo(json.dumps(doc), file=sys.stdout)
        text = f"accountd: error: {self.message}"
        if self.hint:
            text += f"\n  hint: {self.hint}"
        click.echo(text, err=True)


def fail(message: str, hint: str = "", *, as_json: bool = False, code: str = "failed") -> NoReturn:
    raise CommandFailed(message, hint, as_json=as_json, code=code)


def say(message: str) -> None:
    """A diagnostic line for a person (stderr)."""
    click.echo(message, err=True)


def emit(data: Any, as_json: bool, human: Callable[[Any], str] | None = None) -> None:
    """Print ``data``: one JSON document with ``--json``, else ``human(data)`` (or its str)."""
    if as_json:
        click.echo(json.dumps(data, indent=2, sort_keys=False, default=str))
        return
    text = human(data) if human else str(data)
    if text:
        click.echo(text)


def table(rows: list[list[str]], headers: list[str]) -> str:
    """A plain aligned text table."""
    cells = [headers, *rows]
    widths = [max(len(str(r[i])) for r in cells) for i in range(len(headers))]
    lines = ["  ".join(str(v).ljust(w) for v, w in zip(r, widths, strict=True)).rstrip() for r in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)
