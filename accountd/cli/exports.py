"""``accountd add export``, ``edit export``, ``delete export`` — an account's exports (nsc's commands).

A stream export lets other accounts subscribe to its subjects, a service export lets them send
requests to it. A *private* export (``token_req``) needs an activation token for each importer
(``accountd generate activation``); a public one is open to every account of the operator.

As in the Go library, two exports of one kind must not contain each other (``a.>`` and ``a.b``),
services always carry a response type (``Singleton`` unless told otherwise), and the account is
re-signed by the operator after each change.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, Final

import click

from accountd.claims.models import AccountClaims, Export, ServiceLatency
from accountd.claims.subjects import export_overlaps
from accountd.cli.add import add
from accountd.cli.changing import changing_account
from accountd.cli.claimopts import F, parse_duration_ns, stack
from accountd.cli.common import account_option, nsc_command, operator_option
from accountd.cli.delete import delete
from accountd.cli.edit import edit
from accountd.cli.output import emit, fail, say

__all__ = ["export_doc", "kind_option", "pick_export"]

RESPONSE_TYPES: Final = {"singleton": "Singleton", "stream": "Stream", "chunked": "Chunked"}

_SHAPE = """\b
--json prints: {"account": NAME, "public_key": ACCOUNT_KEY, "jwt_path": PATH,
"export": {"name", "subject", "type", "token_req", …}, "changes": [TEXT]}"""
_DELETE_SHAPE = '\b\n--json prints: {"account": NAME, "public_key", "jwt_path", "deleted": {"name", "subject", …}}'


def export_doc(e: Export) -> dict[str, Any]:
    doc: dict[str, Any] = e.to_go()
    return doc


kind_option = click.option("--service/--stream", "service", default=None,
                           help="Which export, when a stream and a service share the subject.")


def pick_export(claims: AccountClaims, account: str, subject: str, service: bool | None) -> Export:
    """The export of ``account`` whose subject is ``subject`` (of the kind given, if any)."""
    found = [e for e in claims.nats.exports
             if e.subject == subject and (service is None or (e.type == "service") == service)]
    if len(found) == 1:
        return found[0]
    if found:
        fail(f"account {account!r} exports {subject!r} both as a stream and as a service",
             "say which with --service or --stream", code="usage")
    known = ", ".join(f"{e.type} {e.subject}" for e in claims.nats.exports) or "none"
    fail(f"account {account!r} has no export with subject {subject!r}", f"its exports: {known}",
         code="not_found")


def _response_type(value: str) -> str:
    try:
        return RESPONSE_TYPES[value.lower()]
    except KeyError:
        raise click.BadParameter(f"{value!r} is not one of singleton, stream, chunked",
                                 param_hint="--response-type") from None


def _sampling(value: str) -> int | str:
    if value.lower() in ("header", "headers"):
        return "headers"
    if value.isdigit() and 1 <= int(value) <= 100:
        return int(value)
    raise click.BadParameter(f"{value!r} is not a percentage 1..100 or 'headers'", param_hint="--sampling")


def _service_options() -> Callable[[F], F]:
    return stack(
        click.option("--response-type", metavar="TYPE", default=None,
                     help="Services: singleton (default), stream or chunked."),
        click.option("--response-threshold", metavar="DURATION", default=None,
                     help="Services: how long a responder may take (500ms, 2s)."),
        click.option("--latency", metavar="SUBJECT", default=None,
                     help="Services: publish latency measurements to SUBJECT."),
        click.option("--sampling", metavar="N|headers", default=None,
                     help="Services: sample N percent of requests, or those with tracing headers "
                          "(nsc's default with --latency)."),
        click.option("--allow-trace/--no-allow-trace", "allow_trace", default=None,
                     help="Services: let message traces cross into the exporter."),
        click.option("--account-token-position", metavar="N", type=click.IntRange(min=0), default=None,
                     help="Public exports: the 1-based token of SUBJECT (a '*') that must be the importer's key."),
        click.option("--advertise/--no-advertise", "advertise", default=None, help="Mark the export as advertised."),
        click.option("--description", default=None, help="A description of the export."),
        click.option("--info-url", metavar="URL", default=None, help="A link to more about the export."),
    )


def _apply(e: Export, opts: dict[str, Any]) -> list[str]:
    """Apply the shared options to ``e``; returns what changed."""
    changes: list[str] = []
    service = e.type == "service"
    for flag, key in (("--response-type", "response_type"), ("--response-threshold", "response_threshold"),
                      ("--latency", "latency"), ("--sampling", "sampling"), ("--allow-trace", "allow_trace")):
        if opts.get(key) is not None and not service:
            raise click.UsageError(f"{flag} is only valid for service exports (--service)")
    if opts.get("response_type") is not None:
        e.response_type = _response_type(opts["response_type"])
        changes.append(f"response_type={e.response_type}")
    if opts.get("response_threshold") is not None:
        e.response_threshold = parse_duration_ns(opts["response_threshold"])
        changes.append(f"response_threshold={e.response_threshold}ns")
    if opts.get("latency") is not None:
        sampling = e.service_latency.sampling if e.service_latency else "headers"
        e.service_latency = ServiceLatency(sampling=sampling, results=opts["latency"])
        changes.append(f"latency={opts['latency']}")
    if opts.get("sampling") is not None:
        if e.service_latency is None:
            raise click.UsageError("--sampling needs a latency subject: add --latency SUBJECT")
        e.service_latency.sampling = _sampling(opts["sampling"])
        changes.append(f"sampling={e.service_latency.sampling}")
    if opts.get("account_token_position") is not None:
        e.account_token_position = opts["account_token_position"]
        changes.append(f"account_token_position={e.account_token_position}")
    for key in ("allow_trace", "advertise"):
        if opts.get(key) is not None:
            setattr(e, key, bool(opts[key]))
            changes.append(f"{key}={opts[key]}")
    for key in ("description", "info_url"):
        if opts.get(key) is not None:
            setattr(e, key, opts[key])
            changes.append(key)
    if e.token_req and e.account_token_position:
        raise click.UsageError("--account-token-position is only valid for public exports (not with --private)")
    return changes


def _check(claims: AccountClaims) -> None:
    """Two exports of one kind must not contain each other (the structure check follows on re-signing)."""
    problems = export_overlaps(claims.nats.exports)
    if problems:
        fail(f"the account would be invalid: {problems[0]}",
             "export one of the subjects, or edit the existing export", code="invalid")


def _report(account: str, claims: AccountClaims, path: Path, e: Export, changes: list[str], as_json: bool,
            text: str) -> None:
    doc = {"account": account, "public_key": claims.sub, "jwt_path": str(path), "export": export_doc(e),
           "changes": changes}
    emit(doc, as_json, lambda _: text)


@add.command("export", epilog=_SHAPE)
@account_option()
@operator_option
@click.option("--subject", "-s", required=True, metavar="SUBJECT", help="The subject (wildcards allowed).")
@click.option("--name", "-n", default=None, help="The export's name (default: the subject).")
@click.option("--service", "-r", is_flag=True, help="Export a service (default: a stream).")
@click.option("--private", "-p", is_flag=True, help="Importers need an activation token (token_req).")
@_service_options()
@nsc_command
def add_export(account: str | None, operator: str | None, subject: str, name: str | None, service: bool,
               private: bool, as_json: bool, home: Path | None, **opts: Any) -> None:
    """Add a stream or service export to an account and re-sign it."""
    with changing_account(home, operator, account) as change:
        opdir, account_name, c = change.opdir, change.name, change.claims
        e = Export(name=name or subject, subject=subject, type="service" if service else "stream",
                   token_req=private, response_type="Singleton" if service else "")
        _apply(e, opts)
        c.nats.exports.append(e)
        _check(c)
    visibility = "private" if private else "public"
    _report(account_name, c, opdir.account_path(account_name), e, [f"export+={subject}"], as_json,
            f"added {visibility} {e.type} export {e.name!r} ({subject}) to account {account_name}")


@edit.command("export", epilog=_SHAPE)
@account_option()
@operator_option
@click.option("--subject", "-s", required=True, metavar="SUBJECT", help="The export to change, by subject.")
@kind_option
@click.option("--name", "-n", default=None, help="A new name.")
@click.option("--private/--public", "private", default=None, help="Require activation tokens, or not.")
@click.option("--rm-latency-sampling", is_flag=True, help="Stop latency tracking.")
@_service_options()
@nsc_command
def edit_export(account: str | None, operator: str | None, subject: str, service: bool | None, name: str | None,
                private: bool | None, rm_latency_sampling: bool, as_json: bool, home: Path | None,
                **opts: Any) -> None:
    """Change an export (found by its subject) and re-sign the account."""
    with changing_account(home, operator, account) as change:
        opdir, account_name, c = change.opdir, change.name, change.claims
        e = pick_export(c, account_name, subject, service)
        changes: list[str] = []
        if name is not None:
            e.name = name
            changes.append(f"name={name}")
        if private is not None:
            if private != e.token_req:
                say(f"warning: {subject} is now {'private' if private else 'public'}: this changes who may import it")
            e.token_req = private
            changes.append(f"token_req={private}")
        if rm_latency_sampling:
            e.service_latency = None
            changes.append("latency removed")
        changes += _apply(e, opts)
        if not changes:
            raise click.UsageError("nothing to change: give at least one option (see --help)")
        _check(c)
    _report(account_name, c, opdir.account_path(account_name), e, changes, as_json,
            f"updated {e.type} export {subject} of account {account_name}: " + ", ".join(changes))


@delete.command("export", epilog=_DELETE_SHAPE)
@account_option()
@operator_option
@click.option("--subject", "-s", required=True, metavar="SUBJECT", help="The export to delete, by subject.")
@kind_option
@nsc_command
def delete_export(account: str | None, operator: str | None, subject: str, service: bool | None,
                  as_json: bool, home: Path | None) -> None:
    """Delete an export (found by its subject) and re-sign the account; its importers lose it."""
    with changing_account(home, operator, account, validate=False) as change:
        opdir, account_name, c = change.opdir, change.name, change.claims
        e = pick_export(c, account_name, subject, service)
        c.nats.exports.remove(e)
    doc = {"account": account_name, "public_key": c.sub, "jwt_path": str(opdir.account_path(account_name)),
           "deleted": export_doc(e)}
    emit(doc, as_json, lambda _: f"deleted {e.type} export {subject} of account {account_name}")
