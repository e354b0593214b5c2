"""``--admin-token-file`` for the commands that call accountd's admin routes (listing accounts).

They send ``Authorization: Bearer`` with the first token of the file — the same file ``accountd
serve --admin-token-file`` reads, or one holding just the token a client was given.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

from accountd.cli.output import fail
from accountd.tokenfile import TokenFileError, first_token

__all__ = ["admin_token", "admin_token_option"]

F = TypeVar("F", bound=Callable[..., Any])


def admin_token_option(what: str) -> Callable[[F], F]:
    return click.option("--admin-token-file", "admin_token_file", type=click.Path(dir_okay=False),
                        envvar="ACCOUNTD_ADMIN_TOKEN_FILE", show_envvar=True,
                        help=f"File of admin bearer tokens (the first line is sent) for {what}, when accountd "
                             "serve has --admin-token-file.")  # fmt: skip


def admin_token(path: str | None, *, as_json: bool = False) -> str | None:
    if not path:
        return None
    try:
        return first_token(path)
    except TokenFileError as exc:
        fail(str(exc), "pass --admin-token-file FILE (or ACCOUNTD_ADMIN_TOKEN_FILE) with one token per line",
             as_json=as_json, code="bad_token_file")
