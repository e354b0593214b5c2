"""Requests many servers answer, and nats-server's reply envelope (SPEC §5.5, §9).

``nc.request()`` stops at the first reply; :func:`collect_replies` keeps listening until a quiet
period passes without a reply, until ``expected`` replies arrived, or until ``timeout``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Any

from nats.aio.client import Client
from nats.aio.msg import Msg

__all__ = ["Envelope", "NoResponders", "collect_replies", "from_all", "parse_envelope", "wait_event"]


async def wait_event(event: asyncio.Event, timeout: float) -> bool:
    """Wait for ``event`` at most ``timeout`` seconds; True if it was set.

    Not ``asyncio.wait_for``: on Python 3.11 it can swallow a cancellation that arrives while the
    event is being set (observed: a task looping on it never stopped; fixed in 3.12).
    """
    try:
        async with asyncio.timeout(timeout):
            await event.wait()
    except TimeoutError:
        return False
    return True


class NoResponders(Exception):
    """Nobody subscribes to the subject (a 503 status reply): not a system-account user, or no
    server of the kind asked for."""


async def collect_replies(
    nc: Client,
    subject: str,
    payload: bytes = b"",
    *,
    quiet: float = 0.25,
    timeout: float = 2.0,
    expected: int | None = None,
    done: Callable[[list[Msg]], bool] | None = None,
) -> list[Msg]:
    """Publish once with a private inbox and gather the replies.

    Stops ``quiet`` seconds after the last reply, as soon as ``expected`` replies arrived or
    ``done(replies)`` is true, or after ``timeout`` in all. Raises :class:`NoResponders` when
    the only answer is nats-server's "no responders" status.
    """
    inbox = nc.new_inbox()
    replies: list[Msg] = []
    arrived = asyncio.Event()
    no_responders = False

    async def on_reply(msg: Msg) -> None:
        nonlocal no_responders
        # An empty message with a Status header is the server's "no responders" (observed on 2.15.1 with
        # nats-py 2.16: Status 503); a real empty reply (a LOOKUP miss) carries no headers.
        if not msg.data and msg.headers and msg.headers.get("Status") == "503":
            no_responders = True
        else:
            replies.append(msg)
        arrived.set()

    sub = await nc.subscribe(inbox, cb=on_reply)
    try:
        await nc.publish(subject, payload, reply=inbox)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while (remaining := deadline - loop.time()) > 0:
            if no_responders and not replies:
                raise NoResponders(f"no responders on {subject}")
            if (expected is not None and len(replies) >= expected) or (done is not None and done(replies)):
                break
            arrived.clear()
            if not await wait_event(arrived, min(quiet, remaining) if replies else remaining) and replies:
                break
    finally:
        with contextlib.suppress(Exception):
            await sub.unsubscribe()
    return replies


@dataclass(frozen=True, slots=True)
class Envelope:
    """``{"server": {...}, "data": ..., "error": {...}}``; key order differs by version, parse by key."""

    server_id: str
    server_name: str
    data: Any
    error: dict[str, Any] | None

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def message(self) -> str:
        """``data.message`` or ``error.description`` (what nats-server says happened)."""
        if self.error is not None:
            return str(self.error.get("description", ""))
        return str(self.data.get("message", "")) if isinstance(self.data, dict) else ""


def parse_envelope(data: bytes) -> Envelope | None:
    """The envelope of a ``$SYS.REQ`` reply, or ``None`` when it is not one."""
    try:
        doc = json.loads(data)
    except ValueError:
        return None
    if not isinstance(doc, dict) or not isinstance(doc.get("server"), dict):
        return None
    server = doc["server"]
    error = doc.get("error")
    return Envelope(
        server_id=str(server.get("id", "")),
        server_name=str(server.get("name", "")),
        data=doc.get("data"),
        error=error if isinstance(error, dict) else None,
    )


def from_all(server_ids: Collection[str]) -> Callable[[list[Msg]], bool]:
    """A ``done`` test for :func:`collect_replies`: true once every one of ``server_ids`` replied.

    Counting replies is not enough: accountd answers some of the same subjects (LIST, DELETE)."""
    waiting = set(server_ids)
    seen = 0

    def done(replies: list[Msg]) -> bool:
        nonlocal seen
        for msg in replies[seen:]:
            env = parse_envelope(msg.data)
            if env is not None:
                waiting.discard(env.server_id)
        seen = len(replies)
        return not waiting

    return done
