"""Helpers for the monitor tests (fixtures live in conftest.py)."""

from __future__ import annotations

from pathlib import Path

import nats
from nats.aio.client import Client

from accountd.monitor import MonitorState
from harness import VectorSet, operator_mode_config


def vector_keys(basic: VectorSet) -> tuple[str, str]:
    """(system account, account A) public keys."""
    return basic.summary["system_account"]["public_key"], basic.summary["account"]["public_key"]


def names(basic: VectorSet) -> dict[str, str]:
    sys_pub, a_pub = vector_keys(basic)
    return {sys_pub: "SYS", a_pub: "A"}


def memory_config(basic: VectorSet, extra: str = "") -> str:
    """Operator mode, MEMORY resolver preloading SYS and A (SPEC §5.6)."""
    sys_pub, a_pub = vector_keys(basic)
    preload = {sys_pub: basic.jwt("SYS"), a_pub: basic.jwt("A")}
    return operator_mode_config(basic.file("operator.jwt"), sys_pub, "MEMORY", preload, extra)


async def _quiet(exc: Exception) -> None:
    pass


async def open_client(url: str, creds: Path, name: str) -> Client:
    """A client that fails at once on bad creds (and does not log a traceback)."""
    return await nats.connect(url, user_credentials=str(creds), name=name, allow_reconnect=False,
                              max_reconnect_attempts=1, connect_timeout=5, error_cb=_quiet)  # fmt: skip


def connections(state: MonitorState, account: str) -> int:
    return next((a["connections"] for a in state.accounts_view() if a["account"] == account), 0)
