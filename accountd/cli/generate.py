"""``accountd generate nkey|creds|config`` — keys, creds files and nats-server configs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from accountd import __version__
from accountd.claims.creds import format_creds
from accountd.claims.keys import Role, create
from accountd.cli.common import (
    JsonGroup,
    account_option,
    check_url,
    nsc_command,
    open_home,
    operator_option,
    pick_account,
    waiting,
)
from accountd.cli.output import emit, fail, say
from accountd.cli.root import main
from accountd.nsc.atomic import write_atomic
from accountd.nsc.store import OperatorDir

__all__ = ["generate", "render_server_config"]


@main.group(cls=JsonGroup)
def generate() -> None:
    """Generate an nkey, a user's creds file or a nats-server config."""


@generate.command("nkey", epilog='\b\n--json prints: {"role": "operator"|"account"|"user", "public_key", "seed", '
                                 '"path": PATH|null}')
@click.option("--operator", "role", flag_value="operator", help="An operator key (O…).")
@click.option("--account", "role", flag_value="account", help="An account key (A…).")
@click.option("--user", "role", flag_value="user", help="A user key (U…).")
@click.option("--store", is_flag=True, help="Also save the seed in the keystore.")
@nsc_command
def generate_nkey(role: str | None, store: bool, as_json: bool, home: Path | None) -> None:
    """Generate a key pair; prints the seed, then the public key."""
    if role is None:
        raise click.UsageError("give one of --operator, --account or --user")
    kp = create(Role[role.upper()])
    path = None
    if store:
        h = open_home(home)
        with h.writing(waiting, create=True) as tx:
            path = h.keystore.stage_key(tx, kp)
    doc = {"role": role, "public_key": kp.public_key, "seed": kp.seed.reveal(), "path": str(path) if path else None}
    emit(doc, as_json, lambda _: f"{kp.seed.reveal()}\n{kp.public_key}")


@generate.command("creds", epilog='\b\n--json prints: {"operator", "account", "user", "public_key", '
                                  '"creds": TEXT|null,\n"path": PATH|null} (creds is null when --output-file is used)')
@account_option()
@click.option("--name", "-n", required=True, metavar="USER", help="The user.")
@operator_option
@click.option("--output-file", "-o", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the creds here (0600) instead of stdout.")
@nsc_command
def generate_creds(account: str | None, name: str, operator: str | None, output_file: Path | None,
                   as_json: bool, home: Path | None) -> None:
    """Print a user's creds file (JWT + seed), as nats clients read it."""
    h = open_home(home)
    with h.reading():
        opdir = h.pick_operator(operator)
        account_name = pick_account(opdir, account)
        user = opdir.user(account_name, name)
        kp = h.keystore.require(user.public_key, f"user {name!r}")
    text = format_creds(user.token, kp.seed)
    if output_file is not None:
        write_atomic(output_file.absolute(), text.encode())
        say(f"wrote {output_file}")
    doc = {"operator": opdir.name, "account": account_name, "user": name, "public_key": user.public_key,
           "creds": None if output_file else text, "path": str(output_file.absolute()) if output_file else None}
    emit(doc, as_json, lambda _: "" if output_file else text.rstrip("\n"))


def _quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def render_server_config(
    opdir: OperatorDir,
    resolver: str,
    *,
    url: str = "",
    jwt_dir: Path | None = None,
    listen: str = "",
    allow_delete: bool = False,
    preload_all: bool = False,
) -> str:
    """A nats-server config for operator mode (SPEC §5.6); paths are absolute, the operator inline."""
    op = opdir.operator()
    sys_key = op.claims.nats.system_account
    if resolver in ("full", "cache") and not sys_key:
        fail(f"a {resolver} resolver needs a system account, and operator {opdir.name!r} names none",
             "create one with `accountd add operator --sys …` or `accountd edit operator --system-account NAME`")
    accounts = {opdir.account(a).public_key: opdir.account(a).token for a in opdir.accounts()}
    if sys_key and sys_key not in accounts and resolver != "url":
        fail(f"the system account {sys_key} is not in the store", "add it or set another with "
             "`accountd edit operator --system-account NAME`")
    lines = [f"# nats-server config for operator {opdir.name} ({resolver} resolver), by accountd {__version__}"]
    if listen:
        lines.append(f"listen: {_quote(listen)}")
    lines.append(f"operator: {op.token}")
    if sys_key:
        lines.append(f"system_account: {sys_key}")
    preload: dict[str, str] = {}
    if resolver == "memory":
        lines.append("resolver: MEMORY")
        preload = accounts
    elif resolver == "url":
        base = (url or op.claims.nats.account_server_url).rstrip("/")
        if not base:
            fail(f"operator {opdir.name!r} has no account_server_url",
                 "pass --url http://HOST:9090/jwt/v1 or set it with `accountd edit operator --account-server-url`")
        check_url(base, "--url", ("http", "https"))
        if "mem" in base.lower():
            fail(f"{base} contains 'mem', which nats-server reads as a MEMORY resolver",
                 "use another host name or an IP address")
        lines.append(f"resolver: URL({base}/accounts/)")
    else:
        where = str((jwt_dir or Path("jwt")).absolute())
        settings = [f"type: {resolver}", f"dir: {_quote(where)}"]
        if resolver == "full":
            settings += [f"allow_delete: {'true' if allow_delete else 'false'}", 'interval: "2m"', 'timeout: "1.9s"']
        else:
            settings.append('ttl: "1h"')
        lines.append("resolver {\n  " + "\n  ".join(settings) + "\n}")
        preload = accounts if preload_all else {sys_key: accounts[sys_key]}
    if preload:
        lines.append("resolver_preload: {\n" + "".join(f"  {k}: {v}\n" for k, v in sorted(preload.items())) + "}")
    return "\n".join(lines) + "\n"


@generate.command("config", epilog='\b\n--json prints: {"operator", "resolver", "config": TEXT|null, "path": '
                                   'PATH|null}\n(config is null when --output-file is used)')
@operator_option
@click.option("--resolver", type=click.Choice(["url", "memory", "full", "cache"]), required=True,
              help="url: fetch from accountd; memory: preload every account; full/cache: nats-server's own store.")
@click.option("--url", default="", metavar="URL",
              help="Account server base for --resolver url (default: the operator's account_server_url).")
@click.option("--dir", "jwt_dir", type=click.Path(file_okay=False, path_type=Path),
              help="JWT directory for --resolver full/cache (default: ./jwt, written as an absolute path).")
@click.option("--listen", default="", metavar="HOST:PORT", help="Add a listen address.")
@click.option("--allow-delete", is_flag=True, help="full resolver: accept account deletions (push --prune).")
@click.option("--preload-all", is_flag=True, help="full/cache resolver: preload every account, not only SYS.")
@click.option("--output-file", "-o", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the config here instead of stdout.")
@nsc_command
def generate_config(operator: str | None, resolver: str, url: str, jwt_dir: Path | None, listen: str,
                    allow_delete: bool, preload_all: bool, output_file: Path | None, as_json: bool,
                    home: Path | None) -> None:
    """Print a nats-server config for the operator that `nats-server -t -c` accepts."""
    h = open_home(home)
    with h.reading():
        opdir = h.pick_operator(operator)
        text = render_server_config(opdir, resolver, url=url, jwt_dir=jwt_dir, listen=listen,
                                    allow_delete=allow_delete, preload_all=preload_all)
    if output_file is not None:
        write_atomic(output_file.absolute(), text.encode(), 0o644)
        say(f"wrote {output_file}")
    doc: dict[str, Any] = {"operator": opdir.name, "resolver": resolver, "config": None if output_file else text,
                           "path": str(output_file.absolute()) if output_file else None}
    emit(doc, as_json, lambda _: "" if output_file else text.rstrip("\n"))
