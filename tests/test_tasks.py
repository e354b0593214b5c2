"""accountd.tasks: stopping a task whose cancel was lost, and the timed event wait."""

from __future__ import annotations

import asyncio
import sys

import pytest

from accountd import tasks


async def _lose_one_cancel(futures: list[asyncio.Future[None]]) -> None:
    """A loop like accountd's NATS loops: each round awaits a reply through asyncio.wait_for."""
    loop = asyncio.get_running_loop()
    while True:
        futures.append(loop.create_future())
        await asyncio.wait_for(futures[-1], 10)


async def test_a_cancel_that_arrives_with_the_reply_is_lost_on_3_11_and_stop_still_ends_the_task() -> None:
    futures: list[asyncio.Future[None]] = []
    task = asyncio.create_task(_lose_one_cancel(futures))
    await asyncio.sleep(0)
    futures[0].set_result(None)  # the reply comes in ...
    task.cancel()  # ... in the same turn as the owner's cancel
    await asyncio.sleep(0.05)
    if sys.version_info < (3, 12):
        assert not task.done(), "Python 3.11's wait_for swallowed the cancel: the task runs on"
    await asyncio.wait_for(tasks.stop(task), 5)
    assert task.done() and task.cancelled()


async def test_stop_raises_what_the_task_ended_with_and_accepts_none() -> None:
    async def fails() -> None:
        raise RuntimeError("boom")

    task = asyncio.create_task(fails())
    await asyncio.sleep(0)
    with pytest.raises(RuntimeError, match="boom"):
        await tasks.stop(task)
    await tasks.stop(None)


async def test_wait_event_says_whether_the_event_was_set() -> None:
    event = asyncio.Event()
    assert await tasks.wait_event(event, 0.01) is False
    asyncio.get_running_loop().call_soon(event.set)
    assert await tasks.wait_event(event, 5) is True
