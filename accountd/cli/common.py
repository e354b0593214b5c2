"""What the commands share: ``--home``/``--operator`` and NATS TLS options, error translation, progress.

Every command is a :class:`JsonCommand`: with ``--json`` even a usage error (exit 2) prints its
JSON error document on stdout. Errors of the lower layers (:class:`~accountd.nsc.errors.NscError`,
:class:`~accountd.claims.errors.ClaimsError`, ``OSError``) become :class:`CommandFailed` (exit 1)
here, in one place.
"""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlparse

import click

from accountd.claims.errors import ClaimsError
from accountd.claims.validate import structure_issues
from accountd.cli.output import CommandFailed, json_option, say
from accountd.natsclient import NatsTLS, NatsTLSError
from accountd.nsc.errors import NscError
from accountd.nsc.home import HOME_ENV, Home
from accountd.nsc.store import OperatorDir

__all__ = [
    "JsonCommand",
    "JsonGroup",
    "account_option",
    "check_url",
    "home_option",
    "nats_tls_options",
    "nsc_command",
    "open_home",
    "operator_option",
    "pick_account",
    "progress",
    "require_valid",
    "waiting",
    "written_text",
]

F = TypeVar("F", bound=Callable[..., Any])

home_option = click.option(
    "--home",
    type=click.Path(file_okay=False, path_type=Path),
    envvar=HOME_ENV,
    show_envvar=True,
    help="The accountd/nsc data directory (holds stores/ and keys/). Default: ./keys.",
)
operator_option = click.option(
    "--operator", "operator", envvar="ACCOUNTD_OPERATOR_NAME", show_envvar=True, metavar="NAME",
    help="Operator to work on (default: the only one in the home).",
)


def account_option(
    help_text: str = "Account name (default: the only account).", required: bool = False
) -> Callable[[F], F]:
    return click.option("--account", "-a", "account", metavar="NAME", required=required, help=help_text)


def nats_tls_options(f: F) -> F:
    """``--nats-tls-ca``, ``--nats-tls-cert``, ``--nats-tls-key`` (``ACCOUNTD_NATS_TLS_*``), as serve has
    them; the command receives them as one ``nats_tls:`` :class:`~accountd.natsclient.NatsTLS`, its
    files already loaded once (a file that is not a usable PEM is a usage error)."""

    @functools.wraps(f)
    def wrapper(*args: Any, nats_tls_ca: str | None, nats_tls_cert: str | None, nats_tls_key: str | None,
                **kwargs: Any) -> Any:
        try:
            tls = NatsTLS(nats_tls_ca or "", nats_tls_cert or "", nats_tls_key or "")
            tls.context()
        except NatsTLSError as exc:
            raise click.UsageError(str(exc)) from None
        return f(*args, nats_tls=tls, **kwargs)

    path = click.Path(exists=True, dir_okay=False)
    for name, help_text in (
        ("key", "Private key (PEM) of --nats-tls-cert."),
        ("cert", "Client certificate (PEM) for NATS servers that verify clients (tls { verify: true })."),
        ("ca", "CA bundle (PEM) to verify the NATS servers (default: the system's)."),
    ):
        wrapper = click.option(f"--nats-tls-{name}", type=path, envvar=f"ACCOUNTD_NATS_TLS_{name.upper()}",
                               show_envvar=True, help=help_text)(wrapper)
    return wrapper  # type: ignore[return-value]


def _usage_error_json(exc: click.UsageError) -> None:
    doc = {"ok": False, "error": {"code": "usage", "message": exc.format_message(), "hint": "see --help"}}
    click.echo(json.dumps(doc))


class JsonCommand(click.Command):
    """A command whose usage errors are also a JSON document when ``--json`` is given."""

    def make_context(self, info_name: str | None, args: list[str], parent: click.Context | None = None,
                     **extra: Any) -> click.Context:
        wants_json = "--json" in args
        try:
            return super().make_context(info_name, args, parent, **extra)
        except click.UsageError as exc:
            if wants_json:
                _usage_error_json(exc)
            raise

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except click.UsageError as exc:
            if ctx.params.get("as_json"):
                _usage_error_json(exc)
            raise


class JsonGroup(click.Group):
    """A group whose commands are :class:`JsonCommand` by default."""

    command_class = JsonCommand


def _translate(exc: Exception, as_json: bool) -> CommandFailed:
    if isinstance(exc, NscError):
        return CommandFailed(exc.message, exc.hint, as_json=as_json, code=exc.code)
    if isinstance(exc, ClaimsError):
        return CommandFailed(exc.message, "", as_json=as_json, code=exc.code)
    if isinstance(exc, OSError):
        where = f"{exc.filename}: " if exc.filename else ""
        return CommandFailed(f"{where}{exc.strerror or exc}", "check the path and its permissions",
                             as_json=as_json, code="io_error")
    raise exc


def nsc_command(f: F) -> F:
    """Add ``--json`` and ``--home``; turn lower-layer errors into clean failures (exit 1)."""

    @functools.wraps(f)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        as_json = bool(kwargs.get("as_json"))
        try:
            return f(*args, **kwargs)
        except CommandFailed as exc:
            exc.as_json = exc.as_json or as_json
            raise
        except (NscError, ClaimsError, OSError) as exc:
            raise _translate(exc, as_json) from None

    return json_option(home_option(wrapper))  # type: ignore[return-value]


def open_home(home: Path | None) -> Home:
    return Home.locate(home)


def waiting() -> None:
    say("waiting for another accountd command to finish with this home…")


def pick_account(opdir: OperatorDir, name: str | None) -> str:
    """``name`` if it exists, or the only account (nsc's automatic choice), or nsc's current one."""
    accounts = opdir.accounts()
    if name:
        if not opdir.has_account(name):
            listed = ", ".join(accounts) or "none"
            raise CommandFailed(
                f"account {name!r} does not exist in operator {opdir.name!r}",
                f"known accounts: {listed}; create it with `accountd add account --name {name}`",
                code="not_found",
            )
        return name
    if len(accounts) == 1:
        return accounts[0]
    if not accounts:
        raise CommandFailed(f"operator {opdir.name!r} has no accounts",
                            "create one with `accountd add account --name NAME`", code="not_found")
    current = opdir.current_account()  # nsc's current account (`accountd env --account`)
    if current:
        return current
    raise CommandFailed(f"operator {opdir.name!r} has several accounts: {', '.join(accounts)}",
                        "pick one with --account NAME, or make one current with `accountd env --account NAME`",
                        code="usage")


@contextmanager
def progress(label: str, total: int = 0) -> Iterator[Callable[..., None]]:
    """A progress line on stderr, only when stderr is a terminal: ``step(done)`` or ``step(done, of)``."""
    live = sys.stderr.isatty() and total != 1

    def update(done: int, of: int | None = None) -> None:
        if live:
            sys.stderr.write(f"\r{label}: {done}/{of or total}")
            sys.stderr.flush()

    try:
        yield update
    finally:
        if live:
            sys.stderr.write("\n")
            sys.stderr.flush()


def require_valid(claims: Any, what: str) -> None:
    """Refuse to sign claims that nats-server would reject for their structure."""
    problems = [i for i in structure_issues(claims) if i.blocking]
    if problems:
        raise CommandFailed(
            f"the {what} would be invalid: " + "; ".join(i.message for i in problems),
            "fix the values given on the command line",
            code="invalid",
        )


def check_url(url: str, option: str, schemes: tuple[str, ...] = ("http", "https", "nats", "tls", "ws", "wss")) -> str:
    parsed = urlparse(url)
    if parsed.scheme not in schemes or not parsed.netloc:
        raise click.BadParameter(f"{url!r} needs one of the schemes {', '.join(schemes)} and a host",
                                 param_hint=option)
    if parsed.scheme.startswith("http") and "mem" in url.lower():
        say(f"warning: {url} contains 'mem': nats-server would read a URL resolver built from it as MEMORY")
    return url


def written_text(items: list[Any]) -> str:
    lines = []
    for w in items:
        lines.append(f"created {w.kind} {w.name} ({w.public_key})")
        lines.append(f"  jwt:   {w.jwt_path}")
        if w.key_path:
            lines.append(f"  seed:  {w.key_path}")
        if w.creds_path:
            lines.append(f"  creds: {w.creds_path}")
    return "\n".join(lines)
