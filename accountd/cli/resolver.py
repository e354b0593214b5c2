"""``accountd resolver``: keep a fleet of nats-servers in step with accountd (the daemon)."""

from __future__ import annotations

import asyncio
import contextlib
import re
import signal
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from accountd.claims import ClaimsError, KeyPair, Role, Trust, extract_jwt, load_seed, validate_operator
from accountd.cli.admintoken import admin_token, admin_token_option
from accountd.cli.common import nats_tls_options
from accountd.cli.output import say
from accountd.cli.root import main
from accountd.natsclient import NatsTLS

__all__ = ["DURATION", "Duration", "load_trust", "parse_listen", "resolver"]

_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$")


if TYPE_CHECKING:
    _ParamType = click.ParamType[float]
else:  # click < 8.2 has no generic ParamType
    _ParamType = click.ParamType


class Duration(_ParamType):
    """``30s``, ``2m``, ``500ms``, ``1h`` or a bare number of seconds."""

    name = "duration"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> float:
        if isinstance(value, int | float):
            return float(value)
        match = _DURATION.match(str(value))
        if not match:
            self.fail(f"{value!r} is not a duration such as 30s, 2m or 500ms", param, ctx)
        seconds = float(match.group(1)) * _UNITS[match.group(2) or "s"]
        if seconds <= 0:
            self.fail("a duration must be positive", param, ctx)
        return seconds


DURATION = Duration()


def load_trust(paths: tuple[str, ...]) -> Trust:
    """The trusted operators from operator JWT files (armored or bare); a UsageError names the bad one."""
    tokens = []
    for path in paths:
        try:
            tokens.append(extract_jwt(Path(path).read_text()))
        except OSError as exc:
            raise click.BadParameter(f"cannot read {path}: {exc.strerror}", param_hint="--operator") from None
        except ClaimsError as exc:
            raise click.BadParameter(f"{path}: {exc.message}", param_hint="--operator") from None
    try:
        trust = Trust.from_jwts(*tokens)
    except ClaimsError as exc:
        raise click.BadParameter(f"not an operator JWT: {exc.message}", param_hint="--operator") from None
    for op in trust.operators:
        problems = validate_operator(op)
        if not problems.ok:
            raise click.BadParameter("; ".join(i.message for i in problems.blocking), param_hint="--operator")
    return trust


def parse_listen(value: str | None) -> tuple[str, int] | None:
    if not value:
        return None
    host, _, port = value.rpartition(":")
    if not port.isdigit():
        raise click.BadParameter(f"{value!r} is not HOST:PORT", param_hint="--listen")
    return host or "127.0.0.1", int(port)


def _signer(path: str | None, trust: Trust) -> KeyPair | None:
    if not path:
        return None
    try:
        key = load_seed(Path(path), Role.OPERATOR)
    except ClaimsError as exc:
        raise click.BadParameter(exc.message, param_hint="--signing-key") from None
    if not trust.is_operator_key(key.public_key) or trust.operator_of(key.public_key) is not trust.operator:
        raise click.BadParameter(f"{key.public_key} is not a signing key of the (first) operator",
                                 param_hint="--signing-key")  # fmt: skip
    return key


@main.command("resolver")
@click.option("--operator", "operators", multiple=True, required=True, envvar="ACCOUNTD_OPERATOR",
              show_envvar=True, type=click.Path(exists=True, dir_okay=False),
              help="Trusted operator JWT file; repeat for several operators.")
@click.option("--url", envvar="ACCOUNTD_URL", show_envvar=True,
              help="accountd's URL (http://h:9090, …/jwt/v1 or …/jwt/v1/accounts). Without it, accountd is "
                   "asked over NATS ($SYS.REQ.CLAIMS.LIST and LOOKUP).")
@click.option("--nats", "nats_url", required=True, envvar="ACCOUNTD_NATS", show_envvar=True,
              help="NATS server URL(s), comma-separated.")
@click.option("--creds", type=click.Path(exists=True, dir_okay=False), envvar="ACCOUNTD_CREDS", show_envvar=True,
              help="Creds file of a system-account user.")
@nats_tls_options
@click.option("--interval", type=DURATION, default="30s", show_default=True,
              help="Time between two survey-and-repair rounds.")
@click.option("--listen", metavar="HOST:PORT", help="Serve GET /state (JSON), /metrics and /healthz here.")
@click.option("--signing-key", type=click.Path(exists=True, dir_okay=False),
              help="Operator signing-key seed: forward deletions ($SYS.REQ.CLAIMS.DELETE) to full and cache "
                   "resolvers holding accounts accountd does not have. Without it they are only reported.")
@click.option("--quiet", "quiet_period", type=DURATION, default="250ms", show_default=True,
              help="Stop collecting replies once none arrived for this long.")
@click.option("--timeout", type=DURATION, default="2s", show_default=True, help="Longest wait for replies.")
@click.option("--page-size", type=click.IntRange(1, 1000), default=1000, show_default=True,
              help="Accounts compared and repaired at a time (and asked of accountd per list request).")
@click.option("--log-level", type=click.Choice(["debug", "info", "warning", "error"], case_sensitive=False),
              default="info", show_default=True)
@click.option("--log-format", type=click.Choice(["text", "json"]), default="text", show_default=True)
@admin_token_option("listing accountd's accounts over --url")
def resolver(
    operators: tuple[str, ...], url: str | None, nats_url: str, creds: str | None, interval: float,
    listen: str | None, signing_key: str | None, quiet_period: float, timeout: float, page_size: int,
    log_level: str, log_format: str, admin_token_file: str | None, nats_tls: NatsTLS,
) -> None:  # fmt: skip
    """Keep every nats-server's account JWTs in step with accountd.

    \b
    Runs the resolver library (validated cache, live claim updates) and, every --interval,
    walking accountd's accounts a page (--page-size) at a time:
      1. asks the servers which JWT each holds ($SYS.REQ.ACCOUNT.<id>.INFO, CLAIMS.LIST, LOOKUP),
      2. compares with accountd (the table `accountd fleet` prints),
      3. re-sends the current JWT to servers holding an older one or missing it, forwards
         deletions (with --signing-key), and reports what it could not repair.
    One log line per repair. SIGTERM/SIGINT stop it.
    """
    from accountd.resolver import FleetDaemon
    from accountd.server import configure_logging

    trust = load_trust(operators)
    signer = _signer(signing_key, trust)
    address = parse_listen(listen)
    configure_logging(log_level, log_format)
    daemon = FleetDaemon(trust, url=url, nats=[u.strip() for u in nats_url.split(",") if u.strip()], creds=creds,
                         tls=nats_tls, token=admin_token(admin_token_file), interval=interval, signer=signer,
                         quiet=quiet_period, timeout=timeout, listen=address, page=page_size)  # fmt: skip

    async def run() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(sig, stop.set)
        try:
            await daemon.start()
        except OSError as exc:
            await daemon.close()
            raise click.ClickException(f"cannot listen on {listen}: {exc.strerror or exc}") from None
        say(f"accountd resolver: following {url or 'accountd over NATS'}, repairing every {interval:g}s"
            + ("" if signer else "; deletions are reported only (no --signing-key)"))  # fmt: skip
        await stop.wait()
        await daemon.close()

    asyncio.run(run())
