"""wrk runs for ``bench.scale``: Lua scripts that read their requests from a file, and their result.

Both scripts print one ``SCALE key=value …`` line from ``done()`` (latency percentiles from wrk's
own histogram, in µs), which :func:`run` parses. The files are read in ``init()``, which runs in
the request threads only, so the main Lua state never holds a copy.

* GET picks a random path of the file for every request.
* POST walks its file once, each thread its own stride, and counts the answers that are not 200
  and the JWTs sent a second time after the file ran out (a repeat is an "unchanged" no-op, not
  a write: the result is then flagged).
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

_DONE = r"""
function done(summary, latency, requests)
  local non200, repeats, counted = 0, 0, false
  for _, t in ipairs(threads) do
    local n, r = t:get("non200"), t:get("repeats")
    if n ~= nil then non200, counted = non200 + n, true end
    if r ~= nil then repeats = repeats + r end
  end
  if not counted then non200 = summary.errors.status end
  local e = summary.errors
  io.write(string.format(
    "SCALE requests=%d duration_us=%d p50=%d p90=%d p99=%d p999=%d max=%d non200=%d repeats=%d " ..
    "socket_errors=%d\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency:percentile(99.9), latency.max, non200, repeats,
    e.connect + e.read + e.write + e.timeout))
end
"""

_THREADS = r"""
threads = {}
local next_id = 0
function setup(thread)
  thread:set("id", next_id)
  next_id = next_id + 1
  table.insert(threads, thread)
end
"""


def get_script(paths: Path) -> str:
    return _THREADS + f"""
local paths = {{}}
function init(args)
  for line in io.lines("{paths}") do paths[#paths + 1] = line end
  math.randomseed(os.time() + id)
end
function request()
  return wrk.format("GET", paths[math.random(#paths)])
end
""" + _DONE


def post_script(bodies: Path, threads: int) -> str:
    return _THREADS + f"""
local paths, jwts = {{}}, {{}}
non200, repeats = 0, 0
function init(args)
  for line in io.lines("{bodies}") do
    local sp = line:find(" ", 1, true)
    paths[#paths + 1] = "/jwt/v1/accounts/" .. line:sub(1, sp - 1)
    jwts[#jwts + 1] = line:sub(sp + 1)
  end
end
local headers = {{["Content-Type"] = "application/jwt"}}
local sent = 0
function request()
  local k = id + sent * {threads}
  sent = sent + 1
  if k >= #paths then repeats = repeats + 1 end
  k = k % #paths + 1
  return wrk.format("POST", paths[k], headers, jwts[k])
end
function response(status, headers, body)
  if status ~= 200 then non200 = non200 + 1 end
end
""" + _DONE


@dataclass(frozen=True)
class Result:
    rps: float
    p50_ms: float
    p99_ms: float
    max_ms: float
    requests: int
    non200: int
    repeats: int
    socket_errors: int


def run(url: str, script: str, seconds: int, connections: int, workdir: Path, name: str,
        threads: int = 1) -> Result:
    path = workdir / f"{name}.lua"
    path.write_text(script)
    out = subprocess.run(
        ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--timeout", "30s", "-s", str(path), url],
        capture_output=True, text=True, check=True,
    ).stdout
    (workdir / f"{name}.out").write_text(out)
    match = re.search(r"^SCALE (.*)$", out, re.M)
    if not match:
        raise RuntimeError(f"wrk printed no result:\n{out}")
    v = {k: int(x) for k, x in (item.split("=") for item in match.group(1).split())}
    return Result(rps=v["requests"] / (v["duration_us"] / 1e6), p50_ms=v["p50"] / 1000, p99_ms=v["p99"] / 1000,
                  max_ms=v["max"] / 1000, requests=v["requests"], non200=v["non200"], repeats=v["repeats"],
                  socket_errors=v["socket_errors"])
