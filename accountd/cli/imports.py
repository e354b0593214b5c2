"""``accountd add import``, ``delete import`` — an account's imports (nsc's commands).

A public export is imported by naming it: ``--src-account`` (a key, or a local account's name) and
``--remote-subject``. A private one needs the activation token its exporter issued
(``accountd generate activation``): ``--token FILE`` — the exporter, subject and kind come from it.

Nothing is written unless the import would work: when the exporting account is in the home, it
must export the subject (as public, or the token must be good for it); a token must be for this
account, for that subject, unexpired, unrevoked, and issued by the exporter or one of its signing
keys. An exporter that is not in the home cannot be checked beyond the token (a warning says so).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from accountd.claims.models import AccountClaims, Import
from accountd.claims.subjects import contained_in
from accountd.cli.activations import activation_problems, read_activation, resolve_account_key
from accountd.cli.add import add
from accountd.cli.changing import changing_account
from accountd.cli.common import account_option, nsc_command, operator_option
from accountd.cli.delete import delete
from accountd.cli.output import emit, fail, say
from accountd.nsc.store import OperatorDir

__all__ = ["import_doc"]

_SHAPE = """\b
--json prints: {"account": NAME, "public_key": ACCOUNT_KEY, "jwt_path": PATH,
"import": {"name", "subject", "account", "token", "local_subject", "type", "share", "allow_trace"},
"exporter": NAME|null, "checked": BOOL}"""
_DELETE_SHAPE = '\b\n--json prints: {"account": NAME, "public_key", "jwt_path", "deleted": {"name", "subject", …}}'


def import_doc(i: Import) -> dict[str, Any]:
    doc: dict[str, Any] = i.to_go()
    return doc


def _exporter(opdir: OperatorDir, key: str) -> tuple[str | None, AccountClaims | None]:
    name = opdir.account_by_key(key)
    return (name, opdir.account(name).claims) if name else (None, None)


def _check_public(exporter: AccountClaims, name: str, subject: str, kind: str, importer: str,
                  importer_key: str) -> None:
    """The local exporter must export ``subject`` as ``kind``; a private export needs a token, and an
    account token position must hold the importer's key (nats-server refuses the import otherwise)."""
    exports = [e for e in exporter.nats.exports if e.type == kind]
    export = next((e for e in exports if contained_in(subject, e.subject)), None)
    if export is None:
        listed = ", ".join(e.subject for e in exports) or "none"
        fail(f"account {name!r} does not export the {kind} {subject!r}",
             f"its {kind} exports: {listed}" + ("" if kind == "service" else "; --service imports a service"),
             code="not_exported")
    if export.token_req:
        fail(f"the {kind} export {export.subject!r} of account {name!r} is private: the import needs an activation",
             f"have it issued with `accountd generate activation --account {name} --subject {subject} "
             f"--target-account {importer}` and pass it with --token FILE", code="activation_required")
    pos = export.account_token_position
    if pos and subject.split(".")[pos - 1] != importer_key:
        fail(f"the {kind} export {export.subject!r} of account {name!r} requires the importing account's key as "
             f"token {pos} of the subject", f"import {'.'.join(_with_token(export.subject, pos, importer_key))}",
             code="not_exported")


def _with_token(subject: str, pos: int, key: str) -> list[str]:
    tokens = subject.split(".")
    tokens[pos - 1] = key
    return tokens


@add.command("import", epilog=_SHAPE)
@account_option("The importing account (default: the only account).")
@operator_option
@click.option("--src-account", metavar="KEY|NAME", default=None, help="The exporting account (public exports).")
@click.option("--remote-subject", metavar="SUBJECT", default=None, help="The exported subject (public exports).")
@click.option("--service", is_flag=True, help="Import a service (default: a stream; public exports).")
@click.option("--token", "-u", "token_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              default=None, help="An activation token file, for a private export (sets the rest).")
@click.option("--local-subject", "-s", metavar="SUBJECT", default=None,
              help="The subject in this account (default: the remote subject; may use $1… for wildcards).")
@click.option("--name", "-n", default=None, help="The import's name (default: the remote subject).")
@click.option("--share", is_flag=True, help="Services: share the importer's data in latency measurements.")
@click.option("--allow-tracing", "--allow-trace", "allow_trace", is_flag=True,
              help="Streams: let message traces cross into this account.")
@nsc_command
def add_import(account: str | None, operator: str | None, src_account: str | None, remote_subject: str | None,
               service: bool, token_file: Path | None, local_subject: str | None, name: str | None, share: bool,
               allow_trace: bool, as_json: bool, home: Path | None) -> None:
    """Import a stream or service another account exports, and re-sign this account."""
    if token_file is not None and (src_account or remote_subject or service):
        raise click.UsageError("with --token the exporter, subject and kind come from the token: "
                               "drop --src-account, --remote-subject and --service")
    if token_file is None and not (src_account and remote_subject):
        raise click.UsageError("give --src-account and --remote-subject (a public export), or --token FILE")
    with changing_account(home, operator, account) as change:
        opdir, account_name, c = change.opdir, change.name, change.claims
        token, act = "", None
        if token_file is not None:
            token, act = read_activation(token_file)
            source = act.nats.issuer_account or act.iss
            subject, kind = act.nats.subject, act.nats.kind
        else:
            assert src_account is not None and remote_subject is not None
            source = resolve_account_key(opdir, src_account, "--src-account")
            subject, kind = remote_subject, "service" if service else "stream"
        if source == c.sub:
            fail(f"account {account_name!r} cannot import from itself", code="usage")
        if share and kind != "service":
            raise click.UsageError("--share is only valid for service imports")
        if allow_trace and kind != "stream":
            raise click.UsageError("--allow-tracing is only valid for stream imports")
        exporter_name, exporter = _exporter(opdir, source)
        if act is not None:
            names = {opdir.account(a).public_key: a for a in opdir.accounts()}
            problems = activation_problems(act, c.sub, source, subject, kind, exporter, names=names)
            if problems:
                fail(f"the activation in {token_file} cannot be used: " + "; ".join(problems),
                     "ask the exporter for a new one (`accountd generate activation`)", code="bad_activation")
        elif exporter is not None and exporter_name is not None:
            _check_public(exporter, exporter_name, subject, kind, account_name, c.sub)
        if exporter is None:
            say(f"warning: account {source} is not in this home; whether it exports {subject!r} is not checked")
        for other in c.nats.imports:
            if other.type == kind and other.account == source and other.subject == subject:
                fail(f"account {account_name!r} already imports {kind} {subject!r} from {exporter_name or source}",
                     f"delete it first: `accountd delete import --account {account_name} --subject {subject}`",
                     code="exists")
        local = local_subject if local_subject is not None else (subject if kind == "service" and act else "")
        imp = Import(name=name or (act.name if act else "") or subject, subject=subject, account=source,
                     token=token, local_subject=local, type=kind, share=share, allow_trace=allow_trace)
        c.nats.imports.append(imp)
    doc = {"account": account_name, "public_key": c.sub, "jwt_path": str(opdir.account_path(account_name)),
           "import": import_doc(imp), "exporter": exporter_name, "checked": exporter is not None}
    emit(doc, as_json, lambda _: f"added {kind} import {subject!r} from {exporter_name or source} "
                                 f"to account {account_name}")


@delete.command("import", epilog=_DELETE_SHAPE)
@account_option("The importing account (default: the only account).")
@operator_option
@click.option("--subject", "-s", required=True, metavar="SUBJECT", help="The import's (remote) subject.")
@click.option("--src-account", metavar="KEY|NAME", default=None,
              help="The exporting account, when two imports share the subject.")
@nsc_command
def delete_import(account: str | None, operator: str | None, subject: str, src_account: str | None,
                  as_json: bool, home: Path | None) -> None:
    """Delete an import (found by its subject) and re-sign the account."""
    with changing_account(home, operator, account, validate=False) as change:
        opdir, account_name, c = change.opdir, change.name, change.claims
        source = resolve_account_key(opdir, src_account, "--src-account") if src_account else None
        found = [i for i in c.nats.imports if i.subject == subject and source in (None, i.account)]
        if not found:
            known = ", ".join(f"{i.type} {i.subject}" for i in c.nats.imports) or "none"
            fail(f"account {account_name!r} has no import of {subject!r}" + (f" from {source}" if source else ""),
                 f"its imports: {known}", code="not_found")
        if len(found) > 1:
            accounts = ", ".join(sorted({i.account for i in found}))
            fail(f"account {account_name!r} imports {subject!r} more than once", "pick one with --src-account "
                 f"({accounts})" if len({i.account for i in found}) > 1 else "", code="usage")
        imp = found[0]
        c.nats.imports.remove(imp)
    doc = {"account": account_name, "public_key": c.sub, "jwt_path": str(opdir.account_path(account_name)),
           "deleted": import_doc(imp)}
    emit(doc, as_json, lambda _: f"deleted {imp.type} import {subject!r} of account {account_name}")
