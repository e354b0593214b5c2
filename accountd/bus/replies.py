"""Requests that many servers answer (``$SYS.REQ.SERVER.PING``, ``…ACCOUNT.<id>.INFO``, …).

``nc.request()`` stops at the first reply; :func:`collect_replies` keeps listening until a quiet
period passes without a reply, until ``expected`` replies arrived, or until ``timeout``.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

from nats.aio.client import Client
from nats.aio.msg import Msg

from accountd.tasks import wait_event

__all__ = ["NoResponders", "collect_replies"]


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
