"""``bench.scale --history-search``: history's cost at start-up, and search latency, at scale.

On a copy of the cached SQLite store (imported by the code before history existed, so it has no
history or search tables), for ``--history 0`` and ``--history 50`` each:

1. **Start-up**: ``accountd serve`` on the pristine copy, exec → the first GET 200 (the open adds
   the tables), stopped; then a second start of the same copy. Nothing else is waited for.
2. In this process, on another pristine copy: ``SQLiteStore.open()``, the background search fill
   to its end (seconds), then each search below five times (median and max, ms), the first page of
   100 as the accounts page asks for it.
"""

from __future__ import annotations

import asyncio
import random
import shutil
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from accountd.store import SQLiteStore

REPEAT = 5


def _copy(db: Path, work: Path) -> Path:
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    for f in db.parent.iterdir():
        if f.name.startswith(db.name) and not f.name.endswith(".lock"):
            shutil.copy2(f, work / f.name)
    return work / db.name


def startup(db: Path, run_dir: Path, operator: Path, pubs: list[str], server_cls: Any,
            say: Callable[[str], None]) -> dict[str, list[float]]:
    """exec → first GET (s) of a first and a second start, for ``--history`` 0 and 50."""
    out: dict[str, list[float]] = {}
    rng = random.Random()
    for history in (0, 50):
        copy = _copy(db, run_dir / f"history-{history}")
        times = []
        for n in (1, 2):
            say(f"[history {history}] start {n}")
            server = server_cls(f"sqlite:{copy}", operator, run_dir / "accountd.log")
            server.extra = ["--history", str(history)]
            server.start()
            try:
                times.append(server.first_get(f"/jwt/v1/accounts/{rng.choice(pubs)}", 600))
            finally:
                server.stop()
        out[str(history)] = times
        shutil.rmtree(copy.parent)
    return out


def searches(pubs: list[str], name_of: Callable[[str], str]) -> dict[str, str]:
    """Search texts by what they exercise, from the dataset's keys and names (``ACC0063481``)."""
    some = random.Random(7).choice(pubs)
    name = name_of(some)
    return {
        "key prefix, 3 characters (~1,000 matches)": some[:3],
        "whole key": some,
        "tag on every account": "env:bench",
        "name part on every account": "acc",
        "name prefix, ~100 matches": name[:-2],
        "name prefix, 1 match": name,
        "name part, 1 match": name[4:],
        "no match": "zzzz-nothing",
    }


async def _search_latency(db: Path, texts: dict[str, str], say: Callable[[str], None]) -> dict[str, Any]:
    store = SQLiteStore(db)
    t0 = time.perf_counter()
    await store.open()
    opened = time.perf_counter() - t0
    try:
        say("waiting for the background search fill")
        t0 = time.perf_counter()
        await store.backfill.wait()
        filled = time.perf_counter() - t0
        latency: dict[str, Any] = {}
        for what, text in texts.items():
            runs, found = [], 0
            for _ in range(REPEAT):
                t0 = time.perf_counter()
                found = len(await store.search(text, limit=100))
                runs.append((time.perf_counter() - t0) * 1000)
            latency[what] = {"text": text, "found": found, "median_ms": statistics.median(runs), "max_ms": max(runs)}
        history = await store.history(store._db.live_after(store._db._reader(), "", 1)[0].account)
        return {"open_s": opened, "fill_s": filled, "fill_state": store.backfill.state, "search": latency,
                "history_of_an_old_account": len(history)}
    finally:
        await store.close()


def run(db: Path, run_dir: Path, operator: Path, pubs: list[str], server_cls: Any, say: Callable[[str], None],
        name_of: Callable[[str], str]) -> str:
    """Both measurements; a Markdown report."""
    starts = startup(db, run_dir, operator, pubs, server_cls, say)
    result = asyncio.run(_search_latency(_copy(db, run_dir / "search"), searches(pubs, name_of), say))
    lines = [
        "| `--history` | first start → first GET (s) | second start → first GET (s) |",
        "|---:|---:|---:|",
        *(f"| {h} | {t[0]:.2f} | {t[1]:.2f} |" for h, t in starts.items()),
        "",
        f"In-process `SQLiteStore.open()` of the old database: {result['open_s'] * 1000:.0f} ms; the background "
        f"search fill of every account: {result['fill_s']:.0f} s ({result['fill_state']}); the history of an "
        f"account stored by the older code: {result['history_of_an_old_account']} version (its current record).",
        "",
        "| search (first page, limit 100) | text | found | median (ms) | max (ms) |",
        "|---|---|---:|---:|---:|",
        *(f"| {what} | `{r['text']}` | {r['found']} | {r['median_ms']:.1f} | {r['max_ms']:.1f} |"
          for what, r in result["search"].items()),
    ]
    return "\n".join(lines) + "\n"
