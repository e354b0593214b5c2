"""Headless Chromium for the status-page tests: one-shot runs (``--dump-dom``, ``--screenshot``) and a
small DevTools-protocol session for pages that need typing and submitting a form."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import re
import shutil
from collections import defaultdict
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--window-size=1280,900")  # fmt: skip


def find_chromium() -> str | None:
    for candidate in ("/usr/bin/chromium", shutil.which("chromium"), shutil.which("chromium-browser")):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    return None


def need_chromium() -> str:
    binary = find_chromium()
    if binary is None:
        pytest.skip("headless Chromium not found (/usr/bin/chromium or chromium on PATH); "
                    "`apt-get install chromium` to run this test — CI installs it")  # fmt: skip
    return binary


async def chromium(binary: str, profile: Path, url: str, *args: str) -> str:
    proc = await asyncio.create_subprocess_exec(
        binary, *FLAGS, f"--user-data-dir={profile}", "--virtual-time-budget=5000", *args, url,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        out, err = await asyncio.wait_for(proc.communicate(), 90)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise
    assert proc.returncode == 0, err.decode(errors="replace")[-2000:]
    return out.decode(errors="replace")


class Page:
    """One tab, driven over the DevTools protocol."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self._next = 0
        self._replies: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._events: defaultdict[str, asyncio.Queue[dict[str, Any]]] = defaultdict(asyncio.Queue)
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        async for msg in self.ws:
            doc = json.loads(msg.data)
            if "id" in doc:
                self._replies.pop(doc["id"]).set_result(doc)
            else:
                self._events[doc["method"]].put_nowait(doc.get("params", {}))

    async def send(self, method: str, **params: Any) -> dict[str, Any]:
        self._next += 1
        reply: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._replies[self._next] = reply
        await self.ws.send_json({"id": self._next, "method": method, "params": params})
        doc = await asyncio.wait_for(reply, 60)
        assert "error" not in doc, doc
        return dict(doc["result"])

    def forget(self, event: str) -> None:
        """Drop the ``event`` s seen so far, so :meth:`event` waits for the next one."""
        queue = self._events[event]
        while not queue.empty():
            queue.get_nowait()

    async def event(self, event: str) -> dict[str, Any]:
        return await asyncio.wait_for(self._events[event].get(), 60)

    async def goto(self, url: str) -> None:
        self.forget("Page.loadEventFired")
        await self.send("Page.navigate", url=url)
        await self.event("Page.loadEventFired")

    async def evaluate(self, expression: str) -> Any:
        result = await self.send("Runtime.evaluate", expression=expression, awaitPromise=True, returnByValue=True)
        assert "exceptionDetails" not in result, result
        return result["result"].get("value")

    async def screenshot(self, path: Path, *, full: bool = False) -> None:
        """The viewport, or with ``full`` the whole page however long it is."""
        params: dict[str, Any] = {"format": "png"}
        if full:
            size = (await self.send("Page.getLayoutMetrics"))["cssContentSize"]
            params.update(captureBeyondViewport=True,
                          clip={"x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1})
        data = (await self.send("Page.captureScreenshot", **params))["data"]
        path.write_bytes(base64.b64decode(data))

    async def close(self) -> None:
        self._reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._reader
        await self.ws.close()


@contextlib.asynccontextmanager
async def devtools(binary: str, profile: Path) -> AsyncIterator[Page]:
    proc = await asyncio.create_subprocess_exec(
        binary, *FLAGS, f"--user-data-dir={profile}", "--remote-debugging-port=0", "about:blank",
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert proc.stderr is not None
    try:
        while True:
            line = (await asyncio.wait_for(proc.stderr.readline(), 60)).decode(errors="replace")
            assert line, "chromium exited before DevTools listened"
            found = re.search(r"DevTools listening on ws://([\d.]+:\d+)/", line)
            if found:
                break
        drain = asyncio.create_task(proc.stderr.read())  # keep the pipe from filling up
        async with aiohttp.ClientSession() as http:
            async with http.get(f"http://{found.group(1)}/json/list") as r:
                targets = await r.json()
            target = next(t for t in targets if t["type"] == "page")
            page = Page(await http.ws_connect(target["webSocketDebuggerUrl"], max_msg_size=0))
            try:
                await page.send("Page.enable")
                await page.send("Runtime.enable")
                yield page
            finally:
                await page.close()
    finally:
        proc.kill()
        await proc.wait()
        if "drain" in locals():
            await drain
