"""What the directory store's scan and the search fill share: a pass run in a task of its own.

:meth:`BackgroundPass._begin` starts :meth:`_run`; :meth:`stop` sets ``_halt`` (a slice running in
a worker thread checks it and returns), cancels the task and waits for it; :meth:`wait` returns once
the pass is over. ``state`` is ``idle``, ``running``, ``done``, ``failed`` or ``stopped``; ``_run``
sets ``done``/``failed`` and the ``done`` event itself.
"""

from __future__ import annotations

import asyncio

from accountd import tasks

__all__ = ["BackgroundPass"]


class BackgroundPass:
    def __init__(self) -> None:
        self._task: asyncio.Task[None] | None = None
        self.done = asyncio.Event()
        self.state = "idle"
        self._halt = False

    def _begin(self, name: str) -> None:
        self._halt = False
        self.done = asyncio.Event()
        self.state = "running"
        self._task = asyncio.create_task(self._run(), name=name)

    async def _run(self) -> None:
        raise NotImplementedError

    def _stopped(self) -> None:
        """After the task ended on :meth:`stop`: release what the pass held."""

    async def stop(self) -> None:
        self._halt = True  # a slice running in the thread returns at its next check
        if self._task is not None:
            await tasks.stop(self._task)
            self._task = None
        self._stopped()
        if self.state == "running":
            self.state = "stopped"
        self.done.set()

    async def wait(self) -> None:
        """Until the pass is over (at once when none runs)."""
        if self._task is not None:
            await self.done.wait()
