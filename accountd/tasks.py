"""Background tasks that stop when told to, on every Python accountd supports.

On Python 3.11 ``asyncio.wait_for`` returns the awaited result when a cancellation arrives just as
that result comes in: the cancel is lost and the task goes on as if nothing happened. nats-py calls
``wait_for`` inside every ``request`` and ``flush``, so a loop that talks to NATS can miss the one
``cancel()`` its owner sends on shutdown — and an ``await task`` after it then waits forever
(fixed in 3.12). :func:`stop` cancels until the task has really ended; :func:`wait_event` is a
timed wait for an event that does not go through ``wait_for``.
"""

from __future__ import annotations

import asyncio
from typing import Any

__all__ = ["stop", "wait_event"]

RECANCEL = 0.25
"""Seconds given to a cancelled task before it is cancelled again (its cancel may have been lost)."""


async def stop(task: asyncio.Future[Any] | None) -> None:
    """Cancel ``task`` and return once it has ended; an exception it ended with is raised here."""
    if task is None:
        return
    while not task.done():
        task.cancel()
        await asyncio.wait({task}, timeout=RECANCEL)
    if not task.cancelled():
        task.result()


async def wait_event(event: asyncio.Event, timeout: float | None) -> bool:
    """Wait for ``event`` at most ``timeout`` seconds (``None``: for good); True if it was set."""
    try:
        async with asyncio.timeout(timeout):
            await event.wait()
    except TimeoutError:
        return False
    return True
