"""Benchmark ``accountd serve`` at scale: start-up, memory, GETs and durable POSTs with 1k–1M accounts.

For each size (accounts in one store) and store kind:

1. **Data**: a cached directory of real account JWTs in nats-server's layout, signed by one
   operator, generated over every core (see :mod:`bench._scale_data`); a ``sqlite`` run imports
   it with ``accountd import dir SRC --store sqlite:PATH`` (skipped if that command is missing).
2. **Start-up**: exec ``accountd serve`` on a fresh copy and time exec → the first ``GET`` of a
   random stored account answering 200 (polled every 2 ms). The first start is left to finish
   indexing (``/-/stats`` counting every account) and stopped with SIGTERM; a second start of the
   same store is timed the same way and serves the rest.
3. **GETs**: ``wrk -t1 -c32`` for 60 s over 100,000 random stored accounts (all when fewer),
   then VmRSS and VmHWM of the accountd process (and any children).
4. **Durable POSTs**: ``wrk -t1 -c32`` for 20 s, each request a new version (newer ``iat``,
   re-signed by the operator) of a random stored account, each JWT sent once; answers other
   than 200 are counted (they should be 0). accountd runs with ``--write-rate 0``: wrk is one client
   address, and the per-client write limit would otherwise be what is measured.

Prints a Markdown table and a comparison with the targets at the largest size (1,000,000 by
default), writes both to ``<work>/results.md`` and the raw figures to ``<work>/results.json``.
Targets are reported, never asserted.

    python -m bench.scale [--sizes 1000,100000,1000000] [--store-kind dir,sqlite]
    python -m bench.scale --sizes 1000000 --history-search    # see bench._scale_history
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import platform
import random
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from accountd.natsserver import free_port
from bench import _scale_data as data
from bench import _scale_wrk as wrk

WORK = Path(__file__).resolve().parent / ".scale-data"
DEFAULT_ACCOUNTD = [str(Path(sys.executable).with_name("accountd"))]
ACCOUNTD = list(DEFAULT_ACCOUNTD)
"""The command run as ``accountd`` (``--accountd`` replaces it)."""


def say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


# --- one accountd serve process -----------------------------------------------------------------


def _tree(pid: int) -> list[int]:
    """``pid`` and its descendants."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, IndexError, ValueError):
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
                children.setdefault(ppid, []).append(int(entry.name))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(children.get(p, []))
    return out


def memory_mb(pid: int) -> tuple[float, float]:
    """(VmRSS, VmHWM) in MB, summed over ``pid`` and its descendants."""
    rss = hwm = 0
    for p in _tree(pid):
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    rss += int(line.split()[1])
                elif line.startswith("VmHWM:"):
                    hwm += int(line.split()[1])
    return rss / 1024, hwm / 1024


class Server:
    """``accountd serve`` on ``spec``, its output in ``log``."""

    def __init__(self, spec: str, operator: Path, log: Path) -> None:
        self.spec, self.operator, self.log = spec, operator, log
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None
        self.started = 0.0
        self.extra: list[str] = []
        """More ``accountd serve`` options."""

    def start(self) -> None:
        cmd = [*ACCOUNTD, "serve", "--listen", f"127.0.0.1:{self.port}", "--store", self.spec,
               "--operator", str(self.operator), "--log-level", "warning", "--write-rate", "0", *self.extra]
        out = open(self.log, "ab")  # noqa: SIM115 - the child holds it
        self.started = time.perf_counter()
        self.proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                     cwd=self.log.parent)
        out.close()

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def _alive(self) -> None:
        assert self.proc is not None
        if self.proc.poll() is not None:
            tail = self.log.read_text(errors="replace")[-3000:]
            raise RuntimeError(f"accountd serve exited with {self.proc.returncode}:\n{tail}")

    def _status(self, request: bytes, timeout: float) -> bytes | None:
        """The status code of one request on a new connection; None when it cannot connect."""
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=timeout) as s:
                s.sendall(request)
                head = b""
                while b"\r\n" not in head:
                    chunk = s.recv(256)
                    if not chunk:
                        break
                    head += chunk
        except OSError:
            return None
        return head.split(b" ", 2)[1] if head.count(b" ") >= 2 else b""

    def first_get(self, path: str, timeout: float) -> float:
        """Seconds from exec to the first 200 for ``GET path``, polling every 2 ms."""
        request = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode()
        deadline = self.started + timeout
        while True:
            self._alive()
            if self._status(request, max(0.05, deadline - time.perf_counter())) == b"200":
                return time.perf_counter() - self.started
            if time.perf_counter() > deadline:
                raise TimeoutError(f"no 200 for GET {path} within {timeout:.0f} s")
            time.sleep(0.002)

    def get_json(self, path: str) -> dict[str, object]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            conn.request("GET", path)
            r = conn.getresponse()
            body = r.read()
            return json.loads(body) if r.status == 200 else {}
        finally:
            conn.close()

    def counters(self) -> dict[str, int]:
        """The service's put/unchanged/stale/rejected counters from ``/-/stats``."""
        service = self.get_json("/-/stats").get("service")
        if not isinstance(service, dict):
            return {}
        return {k: v for k, v in service.items() if k in ("puts", "unchanged", "stale", "rejected")}

    def wait_indexed(self, n: int, timeout: float) -> float | None:
        """Seconds from exec until ``/-/stats`` counts ``n`` accounts (None: not within ``timeout``)."""
        deadline = self.started + timeout
        while time.perf_counter() < deadline:
            self._alive()
            with contextlib.suppress(OSError, ValueError, http.client.HTTPException):
                store = self.get_json("/-/stats").get("store")
                if isinstance(store, dict) and int(store.get("accounts", -1)) >= n:
                    return time.perf_counter() - self.started
            time.sleep(0.1)
        return None

    def stop(self, timeout: float = 300) -> tuple[float, int]:
        """SIGTERM and wait: (seconds to exit, exit code)."""
        assert self.proc is not None
        t0 = time.perf_counter()
        self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            code = self.proc.wait()
        return time.perf_counter() - t0, code


# --- one size × store kind ----------------------------------------------------------------------


@dataclass
class Row:
    accounts: int
    kind: str
    first_start_s: float | None = None
    first_indexed_s: float | None = None
    first_hwm_mb: float | None = None
    first_stop_s: float | None = None
    second_start_s: float | None = None
    second_indexed_s: float | None = None
    rss_after_gets_mb: float | None = None
    hwm_after_gets_mb: float | None = None
    get: wrk.Result | None = None
    post: wrk.Result | None = None
    post_counted: dict[str, int] = field(default_factory=dict)
    hwm_end_mb: float | None = None
    second_stop_s: float | None = None
    import_s: float | None = None
    notes: list[str] = field(default_factory=list)


def sqlite_import_available() -> bool:
    try:
        r = subprocess.run([*ACCOUNTD, "import", "dir", "--help"], capture_output=True, text=True, timeout=60,
                           cwd="/")
    except OSError:
        return False
    return r.returncode == 0 and "--store" in r.stdout


def _sqlite_db(ds: data.Dataset, run_dir: Path, row: Row) -> Path:
    """The pristine imported database of ``ds`` (imported once, from a hard-linked copy)."""
    db, complete = ds.root / "sqlite" / "accounts.db", ds.root / "sqlite" / "complete"
    if complete.exists():
        with contextlib.suppress(ValueError, IndexError):
            row.import_s = float(complete.read_text().split()[1])
        return db
    data.remove(db.parent)
    db.parent.mkdir(parents=True)
    src = run_dir / "import-src"
    data.link_copy(ds.store, src)
    say(f"importing {ds.n:,} accounts into {db}")
    t0 = time.perf_counter()
    r = subprocess.run([*ACCOUNTD, "import", "dir", str(src), "--store", f"sqlite:{db}"],
                       capture_output=True, text=True, cwd=run_dir)
    row.import_s = time.perf_counter() - t0
    data.remove(src)
    if r.returncode != 0:
        raise RuntimeError(f"accountd import dir failed ({r.returncode}):\n{r.stdout}{r.stderr}")
    complete.write_text(f"{ds.n} {row.import_s:.3f}\n")
    return db


def _fresh_store(ds: data.Dataset, kind: str, run_dir: Path, row: Row) -> str:
    """A fresh working copy of the store for one run: its ``--store`` spec."""
    if kind == "dir":
        data.link_copy(ds.store, run_dir / "store")
        return f"dir:{run_dir / 'store'}"
    db = _sqlite_db(ds, run_dir, row)
    work = run_dir / "sqlite"
    data.remove(work)
    work.mkdir(parents=True)
    for f in db.parent.iterdir():
        if f.name.startswith(db.name):
            shutil.copy2(f, work / f.name)
    return f"sqlite:{work / db.name}"


def measure(ds: data.Dataset, kind: str, args: argparse.Namespace) -> Row:
    row = Row(ds.n, kind)
    run_dir = args.work / "run" / f"{kind}-{ds.n}"
    data.remove(run_dir)
    run_dir.mkdir(parents=True)
    pubs = ds.accounts()
    rng = random.Random()
    spec = _fresh_store(ds, kind, run_dir, row)
    get_paths = data.get_paths(ds, 100_000)
    posts = data.post_versions(ds, args.post_jwts, args.workers, say) if args.post_seconds else None
    log = run_dir / "accountd.log"

    say(f"[{ds.n:,} {kind}] first start")
    server = Server(spec, ds.operator_jwt, log)
    server.start()
    try:
        row.first_start_s = server.first_get(f"/jwt/v1/accounts/{rng.choice(pubs)}", args.start_timeout)
        row.first_indexed_s = server.wait_indexed(ds.n, args.index_timeout)
        if row.first_indexed_s is None:
            row.notes.append(f"first start: /-/stats did not count {ds.n:,} accounts within {args.index_timeout:.0f} s")
        row.first_hwm_mb = memory_mb(server.pid)[1]
    finally:
        row.first_stop_s, code = server.stop()
    if code != 0:
        row.notes.append(f"first start exited with {code} on SIGTERM")

    say(f"[{ds.n:,} {kind}] second start")
    server = Server(spec, ds.operator_jwt, log)
    server.start()
    try:
        row.second_start_s = server.first_get(f"/jwt/v1/accounts/{rng.choice(pubs)}", args.start_timeout)
        row.second_indexed_s = server.wait_indexed(ds.n, args.index_timeout)
        if shutil.which("wrk") is None:
            row.notes.append("wrk is not installed (apt-get install wrk): no GET/POST figures")
        else:
            say(f"[{ds.n:,} {kind}] GETs for {args.get_seconds} s")
            row.get = wrk.run(server.url, wrk.get_script(get_paths), args.get_seconds, args.connections,
                              run_dir, "get")
            row.rss_after_gets_mb, row.hwm_after_gets_mb = memory_mb(server.pid)
            if posts is not None:
                say(f"[{ds.n:,} {kind}] durable POSTs for {args.post_seconds} s")
                before = server.counters()
                row.post = wrk.run(server.url, wrk.post_script(posts, 1), args.post_seconds, args.connections,
                                   run_dir, "post")
                time.sleep(0.5)  # requests wrk abandoned at its deadline finish
                after = server.counters()
                row.post_counted = {k: after[k] - before.get(k, 0) for k in after}
                if row.post.repeats:
                    row.notes.append(f"POST: {row.post.repeats:,} JWTs sent twice (no-op repeats): "
                                     f"raise --post-jwts above {args.post_jwts:,}")
            row.hwm_end_mb = memory_mb(server.pid)[1]
    finally:
        row.second_stop_s, code = server.stop()
    if code != 0:
        row.notes.append(f"second start exited with {code} on SIGTERM")
    if not args.keep:
        data.remove(run_dir / "store")
        data.remove(run_dir / "sqlite")
    return row


# --- report ---------------------------------------------------------------------------------------


def _s(v: float | None) -> str:
    return "—" if v is None else f"{v:.2f}"


def _mb(v: float | None) -> str:
    return "—" if v is None else f"{v:,.0f}"


def _rate(r: wrk.Result | None) -> str:
    if r is None:
        return "—"
    bad = f", {r.non200 + r.socket_errors:,} failed" if r.non200 or r.socket_errors else ""
    rep = " †" if r.repeats else ""
    return f"{r.rps:,.0f} ({r.p99_ms:.1f}){bad}{rep}"


def table(rows: list[Row]) -> str:
    lines = [
        "| accounts | store | first start → first GET (s) | second start → first GET (s) | RSS after GETs (MB) "
        "| GET/s (p99 ms) | durable POST/s (p99 ms) |",
        "|---:|---|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(f"| {r.accounts:,} | {r.kind} | {_s(r.first_start_s)} | {_s(r.second_start_s)} | "
                     f"{_mb(r.rss_after_gets_mb)} | {_rate(r.get)} | {_rate(r.post)} |")
    return "\n".join(lines)


def details(rows: list[Row]) -> str:
    out = []
    for r in rows:
        bits = [f"first start indexed {_s(r.first_indexed_s)} s, peak RSS {_mb(r.first_hwm_mb)} MB, "
                f"stopped in {_s(r.first_stop_s)} s",
                f"second start indexed {_s(r.second_indexed_s)} s, VmHWM after GETs {_mb(r.hwm_after_gets_mb)} MB, "
                f"at the end {_mb(r.hwm_end_mb)} MB, stopped in {_s(r.second_stop_s)} s"]
        if r.import_s is not None:
            bits.append(f"import {r.import_s:.1f} s")
        for name, w in (("GET", r.get), ("POST", r.post)):
            if w is not None:
                bits.append(f"{name} {w.requests:,} requests, p50 {w.p50_ms:.2f} ms, max {w.max_ms:.1f} ms, "
                            f"non-200 {w.non200:,}, socket errors {w.socket_errors:,}")
        if r.post_counted:
            bits.append("the server counted " + ", ".join(f"{v:,} {k}" for k, v in r.post_counted.items()))
        out.append(f"- {r.accounts:,} {r.kind}: " + "; ".join(bits + r.notes))
    return "\n".join(out)


def _verdict(name: str, value: float | None, target: float, unit: str, higher_is_better: bool) -> str:
    if value is None:
        return f"{name}: not measured"
    ok = value >= target if higher_is_better else value <= target
    shown = f"{value:,.2f}" if unit == "s" or unit == "ms" else f"{value:,.0f}"
    bound = f"{'≥' if higher_is_better else '≤'} {target:,.2f}" if unit in ("s", "ms") else \
        f"{'≥' if higher_is_better else '≤'} {target:,.0f}"
    if ok:
        return f"{name} {shown} {unit} ({bound}): met"
    gap = abs(value - target)
    pct = gap / target * 100 if target else float("inf")
    gap_s = f"{gap:,.2f}" if unit in ("s", "ms") else f"{gap:,.0f}"
    return f"{name} {shown} {unit} ({bound}): missed by {gap_s} {unit} ({pct:.0f} %)"


def targets(rows: list[Row]) -> str:
    out = []
    for kind in dict.fromkeys(r.kind for r in rows):
        mine = sorted((r for r in rows if r.kind == kind), key=lambda r: r.accounts)
        big = mine[-1]
        base = next((r for r in mine if r.accounts == 1000), None)
        label = f"{big.accounts:,} accounts" + ("" if big.accounts == 1_000_000 else " (1,000,000 not run)")
        parts = [_verdict("first GET after start", big.first_start_s, 2.0, "s", False),
                 _verdict("second start → first GET", big.second_start_s, 2.0, "s", False),
                 _verdict("RSS", big.rss_after_gets_mb, 150, "MB", False)]
        if base and base.get and big.get:
            parts.append(_verdict("GET/s", big.get.rps, 0.9 * base.get.rps, "/s", True))
            parts.append(_verdict("GET p99", big.get.p99_ms, 20, "ms", False))
        else:
            parts.append("GET/s: no 1,000-account figure to compare with")
        if base and base.post and big.post:
            parts.append(_verdict("durable POST/s", big.post.rps, 0.9 * base.post.rps, "/s", True))
        else:
            parts.append("durable POST/s: no 1,000-account figure to compare with")
        out.append(f"- **{kind}, {label}** against 1,000: " + "; ".join(parts))
    return "\n".join(out)


def machine() -> str:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    rev = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                         cwd=Path(__file__).parent).stdout.strip()
    load = os.getloadavg()[0]
    what = f"accountd {rev or '?'}" if ACCOUNTD == DEFAULT_ACCOUNTD else f"accountd run as `{shlex.join(ACCOUNTD)}`"
    return (f"{time.strftime('%Y-%m-%d %H:%M')}, {what}; {os.cpu_count()} cores, {cpu}; "
            f"Python {platform.python_version()}; load average {load:.1f} at the end")


# --- main -----------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.scale", description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,100000,1000000",
                        help="accounts per store, comma-separated (default 1000,100000,1000000)")
    parser.add_argument("--store-kind", default="",
                        help="dir, sqlite or dir,sqlite (default: both when `accountd import dir` exists)")
    parser.add_argument("--work", type=Path, default=WORK, help=f"cache and results (default {WORK})")
    parser.add_argument("--get-seconds", type=int, default=60)
    parser.add_argument("--post-seconds", type=int, default=20, help="0 skips the POSTs")
    parser.add_argument("--post-jwts", type=int, default=100_000,
                        help="new versions signed for the POSTs; each is sent once (default 100,000)")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="processes for signing")
    parser.add_argument("--start-timeout", type=float, default=1800, help="seconds to wait for the first GET")
    parser.add_argument("--index-timeout", type=float, default=1800,
                        help="seconds to wait until /-/stats counts every account")
    parser.add_argument("--accountd", default="", metavar="CMD",
                        help="command to run as accountd (default: the accountd next to this Python)")
    parser.add_argument("--keep", action="store_true", help="keep the served working copies")
    parser.add_argument("--history-search", action="store_true",
                        help="instead: start-up with --history 0 and 50, and search latency (sqlite)")
    args = parser.parse_args(argv)
    args.work = args.work.resolve()
    if args.accountd:
        ACCOUNTD[:] = shlex.split(args.accountd)
    sizes = [int(s.replace("_", "")) for s in args.sizes.split(",") if s]

    have_sqlite = sqlite_import_available()
    kinds = [k.strip() for k in args.store_kind.split(",") if k.strip()] or (
        ["dir", "sqlite"] if have_sqlite else ["dir"])
    if bad := set(kinds) - {"dir", "sqlite"}:
        parser.error(f"unknown store kind {', '.join(sorted(bad))}")
    if "sqlite" in kinds and not have_sqlite:
        say("skipping --store-kind sqlite: `accountd import dir` does not exist in this checkout")
        kinds.remove("sqlite")
    if not have_sqlite and not args.store_kind:
        say("no `accountd import dir` here: directory store only")

    args.work.mkdir(parents=True, exist_ok=True)
    if args.history_search:
        _history_search(args, sizes)
        return
    rows = []
    for n in sizes:
        ds = data.dataset(args.work, n)
        spent = data.generate(ds, args.workers, say)
        if spent:
            say(f"generated {n:,} accounts in {spent:.0f} s ({n / spent:,.0f}/s)")
        for kind in kinds:
            try:
                rows.append(measure(ds, kind, args))
            except (RuntimeError, TimeoutError, subprocess.CalledProcessError) as exc:
                say(f"[{n:,} {kind}] failed: {exc}")
                rows.append(Row(n, kind, notes=[f"failed: {str(exc).splitlines()[0]}"]))

    text = "\n\n".join([
        f"Machine: {machine()}. Load: wrk -t1 -c{args.connections}, GETs {args.get_seconds} s, "
        f"durable POSTs {args.post_seconds} s, same machine.",
        table(rows),
        "Cells: requests/s (p99 ms); † = some POSTs were repeats of a JWT already sent.",
        "Targets (reported, not asserted):\n" + targets(rows) if rows else "",
        "Details:\n" + details(rows) if rows else "",
    ]) + "\n"
    print(text)
    (args.work / "results.md").write_text(text)
    (args.work / "results.json").write_text(json.dumps([asdict(r) for r in rows], indent=2) + "\n")
    say(f"written {args.work / 'results.md'} and results.json")


def _history_search(args: argparse.Namespace, sizes: list[int]) -> None:
    from accountd.claims.codec import decode_unverified
    from bench import _scale_history

    parts = [f"Machine: {machine()}."]
    for n in sizes:
        ds = data.dataset(args.work, n)
        data.generate(ds, args.workers, say)
        db = _sqlite_db(ds, args.work / "run", Row(n, "sqlite"))
        run_dir = args.work / "run" / f"history-{n}"

        def name_of(pub: str, ds: data.Dataset = ds) -> str:
            return str(getattr(decode_unverified((ds.store / f"{pub}.jwt").read_text()), "name", ""))

        report = _scale_history.run(db, run_dir, ds.operator_jwt, ds.accounts(), Server, say, name_of)
        parts.append(f"**{n:,} accounts**\n\n{report}")
        if not args.keep:
            data.remove(run_dir)
    text = "\n".join(parts)
    print(text)
    (args.work / "results-history.md").write_text(text)


if __name__ == "__main__":
    main()
