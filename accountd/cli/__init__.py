"""Command-line interface. Each module adds its commands to :data:`main`."""

from accountd.cli.root import main

__all__ = ["main"]
