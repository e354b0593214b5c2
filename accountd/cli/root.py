"""The ``accountd`` command group; every subcommand module attaches itself to :data:`main`."""

from __future__ import annotations

import click

from accountd import __version__

CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


@click.group(context_settings=CONTEXT_SETTINGS)
@click.version_option(__version__, prog_name="accountd")
def main() -> None:
    """accountd — an account server for NATS operator mode.

    Stores, validates, signs and serves account JWTs, publishes claim updates to running
    nats-servers, and manages operators, accounts, users and keys the way nsc does.
    """
