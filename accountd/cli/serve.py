"""``accountd serve``: the HTTP JWT store that publishes claim updates."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any, TypeVar

import click
from click.core import ParameterSource

from accountd.cli.root import main
from accountd.config import ConfigError, Settings, load_toml, parse_limits

_ENV = "ACCOUNTD_"


F = TypeVar("F", bound=Callable[..., Any])


def _opt(*decls: str, **kw: Any) -> Callable[[F], F]:
    name = decls[0].lstrip("-").split("/")[0].replace("-", "_").upper()
    kw.setdefault("envvar", _ENV + name)
    kw.setdefault("show_envvar", True)
    return click.option(*decls, **kw)


@main.command(epilog="Settings come from flags, then ACCOUNTD_* environment variables, then the TOML file "
                     "given by --config (top-level keys or a [serve] table, named like the flags with "
                     "underscores).")
@_opt("--config", "config_file", type=click.Path(dir_okay=False), envvar="ACCOUNTD_CONFIG",
      help="TOML config file.")
@_opt("--listen", help="HOST:PORT to listen on.  [default: 127.0.0.1:9090]")
@_opt("--store", help="Store: a directory (dir:PATH?shard=true for the sharded layout), memory:, "
                      "or nats-kv://BUCKET.")
@_opt("--operator", help="The operator JWT file (armored or bare). Trusted keys: its subject and signing keys.")
@_opt("--nats", help="NATS server URL(s), comma-separated; enables claim-update publishing and the "
                     "$SYS.REQ responders.")
@_opt("--creds", help="Creds file of a system-account user for --nats.")
@_opt("--signing-key", help="Operator signing-key seed file: managed mode (re-sign self-signed accounts).")
@_opt("--allow-new-accounts/--known-accounts-only", default=None,
      help="Managed mode: sign accounts not yet in the store.  [default: known only]")
@_opt("--max-limits", help="Managed mode: ceilings such as conn=100,subs=1000 (-1 exceeds any ceiling).")
@_opt("--clamp-limits/--refuse-limits", default=None,
      help="Managed mode: clamp limits above a ceiling instead of refusing (403).  [default: refuse]")
@_opt("--allow-delete/--no-delete", default=None, help="Accept DELETE requests.  [default: allow]")
@_opt("--clock-skew", type=int, help="Seconds of clock skew tolerated for exp/nbf.  [default: 0]")
@_opt("--cache-size", help="Hot accounts kept in memory: a count (10000) or bytes (64MiB, 500MB); "
     "0 = none.  [default: 48MiB]")
@_opt("--history", type=int, help="Versions kept per account (what changed, when, through which path); "
      "0 = none.  [default: 50]")
@_opt("--monitor-history", type=int, help="Minutes of per-server and per-account history the monitor keeps "
      "for its charts (with --nats).  [default: 60]")
@_opt("--audit-log", help="JSON Lines file of every write attempt, accepted or refused; 'off' = none.  "
      "[default: DIR/.accountd/audit.jsonl for a directory store, FILE.audit.jsonl for sqlite:FILE, "
      "none for memory: and nats-kv://]")
@_opt("--audit-max-bytes", help="Size at which the audit log is rotated (4 older files are kept).  "
      "[default: 64MiB]")
@_opt("--name", help="Server name in $SYS.REQ replies.  [default: accountd]")
@_opt("--lookup-miss", type=click.Choice(["empty", "silent"]),
      help="Reply to a LOOKUP of an unknown account with an empty message, or stay silent.  [default: empty]")
@_opt("--public-url", help="Base URL nats-servers use to reach this server (for the logged resolver line).")
@_opt("--tls-cert", help="TLS certificate (PEM).")
@_opt("--tls-key", help="TLS private key (PEM).")
@_opt("--tls-client-ca", help="CA bundle (PEM): admin routes also accept a client certificate it signed (mTLS).")
@_opt("--admin-token-file", help="Admin bearer tokens, one per line (several for rotation); re-read on SIGHUP. "
      "Without it (and without --tls-client-ca) admin routes answer loopback clients only.")
@_opt("--admin-listen", help="HOST:PORT of a separate listener for the admin routes (then absent from --listen).")
@_opt("--cors-origin", multiple=True, help="Origin allowed to read public routes from a browser (repeatable).  "
      "[default: any, as the original]")
@_opt("--write-rate", type=float, help="POST/DELETE (and NATS updates) per second per client; 0 = no limit.  "
      "[default: 100]")
@_opt("--write-burst", type=int, help="Writes a client may send at once before --write-rate applies.  "
      "[default: 1000]")
@_opt("--max-connections", type=int, help="Open HTTP connections at most.  [default: 1024]")
@_opt("--header-timeout", type=float, help="Seconds a client has to send its request headers.  [default: 10]")
@_opt("--body-timeout", type=float, help="Seconds a client has to send its request body.  [default: 30]")
@_opt("--nats-tls-ca", help="CA bundle (PEM) to verify the NATS servers (tls:// URLs).")
@_opt("--nats-tls-cert", help="Client certificate (PEM) for NATS servers that verify clients.")
@_opt("--nats-tls-key", help="Private key (PEM) of --nats-tls-cert.")
@_opt("--alert-webhook", help="URL to POST each alert to as JSON when it starts and when it clears (with --nats).")
@_opt("--alert-auth-errors-per-minute", type=int, help="Failed logins a minute (per server, per claimed account) "
      "that raise the auth_errors alert.  [default: 10]")
@_opt("--alert-limit-ratio", type=float, help="Share of any limit of an account's JWT that raises the limit "
      "alert.  [default: 0.8]")
@_opt("--log-level", type=click.Choice(["debug", "info", "warning", "error"], case_sensitive=False),
      help="Log level.  [default: info]")
@_opt("--log-format", type=click.Choice(["text", "json"]), help="Log format.  [default: text]")
@click.pass_context
def serve(ctx: click.Context, /, config_file: str | None, **flags: Any) -> None:
    """Serve account JWTs over HTTP (nats-account-server compatible) and publish claim updates.

    \b
    Ready when GET /healthz answers 200. SIGTERM/SIGINT: stop accepting, finish in-flight
    requests, flush the outbox, exit 0. The log shows the nats-server resolver line to use.
    """
    from accountd.server import run

    try:
        settings = _settings(ctx, config_file, flags)
        settings.check()
    except ConfigError as exc:
        raise click.UsageError(str(exc)) from None
    try:
        code = run(settings)
    except ConfigError as exc:
        click.echo(f"accountd: error: {exc}", err=True)
        ctx.exit(1)
    ctx.exit(code)


def _settings(ctx: click.Context, config_file: str | None, flags: dict[str, Any]) -> Settings:
    from_file = load_toml(config_file) if config_file else {}
    values: dict[str, Any] = dict(from_file)
    for name, value in flags.items():
        source = ctx.get_parameter_source(name)
        if value is not None and source is not ParameterSource.DEFAULT:
            values[name] = value
    if isinstance(values.get("nats"), str):
        values["nats"] = [u.strip() for u in values["nats"].split(",") if u.strip()]
    if isinstance(values.get("cors_origin"), str):
        values["cors_origin"] = [values["cors_origin"]]
    elif isinstance(values.get("cors_origin"), tuple):
        if not values["cors_origin"]:
            del values["cors_origin"]
        else:
            values["cors_origin"] = [o for item in values["cors_origin"] for o in item.split(",") if o.strip()]
    if isinstance(values.get("audit_max_bytes"), int):  # TOML: a number of bytes
        values["audit_max_bytes"] = str(values["audit_max_bytes"])
    if values.get("audit_log") and values["audit_log"] != "off":
        values["audit_log"] = os.path.abspath(os.path.expanduser(values["audit_log"]))
    if isinstance(values.get("max_limits"), str):
        values["max_limits"] = parse_limits(values["max_limits"])
    for key in ("operator", "creds", "signing_key", "tls_cert", "tls_key", "tls_client_ca", "admin_token_file",
                "nats_tls_ca", "nats_tls_cert", "nats_tls_key"):
        if values.get(key):
            values[key] = os.path.abspath(os.path.expanduser(values[key]))
    return Settings(**values)
