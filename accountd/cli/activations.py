"""Activation tokens: ``accountd generate activation`` and ``revocations add-activation|delete-activation|
list-activations`` (nsc's commands), and the checks ``add import --token`` makes.

An activation is a JWT signed by the exporting account (or one of its signing keys, then with
``issuer_account``) whose ``sub`` is the importing account; ``nats.subject`` is what it may import
(the export's subject or a subject contained in it) and ``nats.kind`` the export's type. nats-server
refuses it when it is expired or when the export's ``revocations`` hold the importer's key (or
``*``) at a time ``>=`` the token's ``iat`` — the same rule as for users (SPEC §4.5).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import click

from accountd.claims.codec import decode, encode
from accountd.claims.creds import decorate_jwt
from accountd.claims.errors import ClaimsError
from accountd.claims.keys import KeyPair, Role, public_role
from accountd.claims.models import AccountClaims, ActivationClaims, Export
from accountd.claims.subjects import contained_in
from accountd.claims.validate import extract_jwt
from accountd.cli.changing import changing_account
from accountd.cli.claimopts import parse_time, validity_options
from accountd.cli.common import account_option, nsc_command, open_home, operator_option, pick_account
from accountd.cli.describe import when
from accountd.cli.generate import generate
from accountd.cli.output import emit, fail, say, table
from accountd.cli.revocations import revocations
from accountd.nsc.atomic import write_atomic
from accountd.nsc.home import Home
from accountd.nsc.store import OperatorDir

__all__ = ["activation_problems", "read_activation", "resolve_account_key"]

_SHAPE = """\b
--json prints: {"account": NAME, "target_account": KEY, "subject", "kind": "stream"|"service",
"issuer": KEY, "iat", "nbf", "exp", "jwt": TOKEN, "path": PATH|null}"""
_CHANGE = """\b
--json prints: {"account": NAME, "export": SUBJECT, "kind", "target_account": KEY|"*",
"at": UNIX|null}"""


def resolve_account_key(opdir: OperatorDir, value: str, option: str, *, wildcard: bool = False) -> str:
    """An account public key, or the key of the local account named ``value`` (as nsc resolves it)."""
    if (wildcard and value == "*") or public_role(value) is Role.ACCOUNT:
        return value
    if opdir.has_account(value):
        return opdir.account(value).public_key
    raise click.BadParameter(f"{value!r} is neither an account public key (A…) nor an account of operator "
                             f"{opdir.name!r}", param_hint=option)


def read_activation(path: Path) -> tuple[str, ActivationClaims]:
    """The token in ``path`` (bare or armored, as `generate activation` writes it), decoded and verified."""
    try:
        token = extract_jwt(path.read_bytes())
        claims = decode(token)
    except ClaimsError as exc:
        fail(f"{path} does not hold a valid activation token: {exc.message}", code="bad_activation")
    if not isinstance(claims, ActivationClaims):
        fail(f"{path} holds {claims.TYPE or 'generic'} claims, not an activation token", code="bad_activation")
    return token, claims


def activation_problems(act: ActivationClaims, importer: str, exporter_key: str, subject: str, kind: str,
                        exporter: AccountClaims | None, *, names: Mapping[str, str] | None = None,
                        now: float | None = None) -> list[str]:
    """Why nats-server would not honour ``act`` for this import (empty when it would).

    The Go library's import rules (issuer, subject, kind), the token's times, and — when the
    exporter's JWT is at hand — its signing keys, its private export and that export's revocations.
    ``names`` (key → local account name) makes the messages readable.
    """
    t = int(time.time() if now is None else now)
    known = names or {}

    def label(key: str) -> str:
        return f"{known[key]} ({key})" if key in known else key

    out: list[str] = []
    if act.sub != importer:
        out.append(f"the activation is for account {label(act.sub)}, not for this account {label(importer)}")
    issuer_account = act.nats.issuer_account or act.iss
    if issuer_account != exporter_key:
        out.append(f"the activation was issued by {label(issuer_account)}, not by the exporting account "
                   f"{label(exporter_key)}")
    elif exporter is not None and act.iss != exporter.sub and act.iss not in exporter.nats.signing_key_ids():
        out.append(f"the activation is signed by {act.iss}, which is not a signing key of account {exporter.name!r}")
    if act.exp and act.exp <= t:
        out.append(f"the activation expired at {when(act.exp)}")
    if act.nats.kind != kind:
        out.append(f"the activation is for a {act.nats.kind or 'untyped'} import, not a {kind}")
    if not contained_in(subject, act.nats.subject):
        out.append(f"the activation grants {act.nats.subject!r}, which does not contain {subject!r}")
    if exporter is not None and not out:
        export = next((e for e in exporter.nats.exports
                       if e.type == kind and contained_in(act.nats.subject, e.subject)), None)
        if export is None:
            out.append(f"account {exporter.name!r} has no {kind} export containing {act.nats.subject!r}")
        elif _revoked(export, importer, act.iat):
            out.append(f"account {exporter.name!r} revoked this activation of {export.subject!r} "
                       f"(revocation {max(export.revocations.get(k, 0) for k in (importer, '*'))} >= iat {act.iat})")
    return out


def _revoked(export: Export, account: str, iat: int) -> bool:
    return any(k in export.revocations and export.revocations[k] >= iat for k in (account, "*"))


def _signer(home: Home, claims: AccountClaims, wanted: str | None) -> KeyPair:
    """The account key, or ``wanted``/the first of its signing keys whose seed is in the keystore."""
    keys = [claims.sub, *claims.nats.signing_key_ids()]
    if wanted:
        if wanted not in keys:
            fail(f"{wanted} is not a key of account {claims.name!r}", "its signing keys: " +
                 (", ".join(claims.nats.signing_key_ids()) or "none"), code="not_found")
        return home.keystore.require(wanted, f"signing key of account {claims.name!r}")
    for key in keys:
        kp = home.keystore.load(key, Role.ACCOUNT)
        if kp is not None:
            return kp
    fail(f"neither the key of account {claims.name!r} nor one of its signing keys has its seed in "
         f"{home.keystore.keys_dir}", "use the home that holds the exporting account's keys", code="not_found")


@generate.command("activation", epilog=_SHAPE)
@account_option("The exporting account (default: the only account).")
@operator_option
@click.option("--subject", "-s", metavar="SUBJECT", default=None,
              help="What the importer may import: a private export's subject or one inside it "
                   "(default: the only private export).")
@click.option("--target-account", "-t", required=True, metavar="KEY|NAME", help="The importing account.")
@click.option("--signing-key", "-K", metavar="PUB", default=None,
              help="Sign with this account signing key (default: the account key, else a signing key).")
@validity_options()
@click.option("--output-file", "-o", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write the token here (armored, as nsc does) instead of stdout.")
@nsc_command
def generate_activation(account: str | None, operator: str | None, subject: str | None, target_account: str,
                        signing_key: str | None, output_file: Path | None, as_json: bool, home: Path | None,
                        **opts: Any) -> None:
    """Issue an activation token that lets one account import a private export."""
    h = open_home(home)
    with h.reading():
        opdir = h.pick_operator(operator)
        account_name = pick_account(opdir, account)
        c = opdir.account(account_name).claims
        target = resolve_account_key(opdir, target_account, "--target-account")
        private = [e for e in c.nats.exports if e.token_req]
        if not private:
            fail(f"account {account_name!r} has no private exports", "add one with `accountd add export --private`",
                 code="not_found")
        if subject is None:
            if len(private) > 1:
                raise click.UsageError("the account has several private exports: pick one with --subject")
            subject = private[0].subject
        export = next((e for e in private if contained_in(subject, e.subject)), None)
        if export is None:
            fail(f"a private export for {subject!r} was not found in account {account_name!r}",
                 "its private exports: " + ", ".join(e.subject for e in private), code="not_found")
        kp = _signer(h, c, signing_key)
    act = ActivationClaims(name=subject, sub=target)
    act.nats.subject, act.nats.kind = subject, export.type
    act.nats.issuer_account = c.sub if kp.public_key != c.sub else ""
    act.exp = parse_time(opts["expiry"]) if opts.get("expiry") else 0
    act.nbf = parse_time(opts["start"]) if opts.get("start") else 0
    token = str(encode(act, kp))
    armored = decorate_jwt(token, "activation")
    if output_file is not None:
        write_atomic(output_file.absolute(), armored.encode())
        say(f"wrote {output_file}")
    doc = {"account": account_name, "target_account": target, "subject": subject, "kind": export.type,
           "issuer": kp.public_key, "iat": act.iat, "nbf": act.nbf, "exp": act.exp, "jwt": token,
           "path": str(output_file.absolute()) if output_file else None}
    emit(doc, as_json, lambda _: "" if output_file else armored.rstrip("\n"))


def _revocation_export(claims: AccountClaims, account: str, subject: str | None, service: bool) -> Export:
    """nsc's choice: the exports of the kind; the only one, or the first whose subject contains ``subject``."""
    kind = "service" if service else "stream"
    candidates = [e for e in claims.nats.exports if e.type == kind]
    if not candidates:
        fail(f"account {account!r} has no {kind} exports",
             "pass --service for service exports" if not service else "", code="not_found")
    if subject is None:
        if len(candidates) > 1:
            raise click.UsageError(f"account {account!r} has several {kind} exports: pick one with --subject")
        return candidates[0]
    found = next((e for e in candidates if contained_in(subject, e.subject)), None)
    if found is None:
        fail(f"account {account!r} has no {kind} export containing {subject!r}",
             f"its {kind} exports: " + ", ".join(e.subject for e in candidates), code="not_found")
    return found


_which = (
    click.option("--subject", "-s", metavar="SUBJECT", default=None,
                 help="The export (default: the only one of its kind)."),
    click.option("--service", is_flag=True, help="A service export (default: a stream export)."),
)


@revocations.command("add-activation", epilog=_CHANGE)
@account_option("The exporting account (default: the only account).")
@operator_option
@_which[0]
@_which[1]
@click.option("--target-account", "-t", required=True, metavar="KEY|NAME|*",
              help="The importing account whose activations to revoke ('*' = every account).")
@click.option("--at", metavar="WHEN", default=None,
              help="Revoke activations issued up to this time (default: now; same forms as --expiry).")
@nsc_command
def add_activation(account: str | None, operator: str | None, subject: str | None, service: bool,
                   target_account: str, at: str | None, as_json: bool, home: Path | None) -> None:
    """Revoke the activations an account holds for an export (push the account afterwards)."""
    with changing_account(home, operator, account, validate=False) as change:
        opdir, account_name, c = change.opdir, change.name, change.claims
        target = resolve_account_key(opdir, target_account, "--target-account", wildcard=True)
        export = _revocation_export(c, account_name, subject, service)
        stamp = (parse_time(at) if at else 0) or int(time.time())
        # Go's RevokeAt: a revocation already later than this one is kept.
        export.revocations[target] = max(stamp, export.revocations.get(target, 0))
    stamp = export.revocations[target]
    doc = {"account": account_name, "export": export.subject, "kind": export.type, "target_account": target,
           "at": stamp}
    emit(doc, as_json, lambda _: f"revoked the activations of {target} for {export.type} export {export.subject} "
                                 f"of account {account_name} (issued up to {when(stamp)})")


@revocations.command("delete-activation", epilog=_CHANGE)
@account_option("The exporting account (default: the only account).")
@operator_option
@_which[0]
@_which[1]
@click.option("--target-account", "-t", required=True, metavar="KEY|NAME|*", help="The importing account.")
@nsc_command
def delete_activation(account: str | None, operator: str | None, subject: str | None, service: bool,
                      target_account: str, as_json: bool, home: Path | None) -> None:
    """Lift an activation revocation."""
    with changing_account(home, operator, account, validate=False) as change:
        opdir, account_name, c = change.opdir, change.name, change.claims
        target = resolve_account_key(opdir, target_account, "--target-account", wildcard=True)
        export = _revocation_export(c, account_name, subject, service)
        if export.revocations.pop(target, None) is None:
            fail(f"{target} has no revocation in {export.type} export {export.subject!r} of account {account_name!r}",
                 f"see `accountd revocations list-activations --account {account_name}`", code="not_found")
    doc = {"account": account_name, "export": export.subject, "kind": export.type, "target_account": target,
           "at": None}
    emit(doc, as_json, lambda _: f"lifted the activation revocation of {target} for {export.subject}")


@revocations.command("list-activations", epilog='\b\n--json prints: {"account": NAME, "export": SUBJECT, "kind", '
                                                '"revocations": [{"target_account": KEY|"*", "name": NAME|null, '
                                                '"at": UNIX}]}')
@account_option("The exporting account (default: the only account).")
@operator_option
@_which[0]
@_which[1]
@nsc_command
def list_activations(account: str | None, operator: str | None, subject: str | None, service: bool, as_json: bool,
                     home: Path | None) -> None:
    """List an export's activation revocations."""
    h = open_home(home)
    with h.reading():
        opdir = h.pick_operator(operator)
        account_name = pick_account(opdir, account)
        export = _revocation_export(opdir.account(account_name).claims, account_name, subject, service)
        names = {opdir.account(a).public_key: a for a in opdir.accounts()}
    revs = sorted(export.revocations.items())
    rows = [{"target_account": k, "name": names.get(k), "at": v} for k, v in revs]
    doc = {"account": account_name, "export": export.subject, "kind": export.type, "revocations": rows}
    lines = [[names.get(k) or ("all accounts" if k == "*" else "-"), k, when(v)] for k, v in revs]
    emit(doc, as_json, lambda _: table(lines, ["Account", "Public Key", "Revoked Up To"]))
