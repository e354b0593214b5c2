"""The audit log on real files: order, filters, reading from the end, rotation by size."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from accountd.service.audit import Attempt, AuditLog, parse_bytes
from accountd.service.origin import http_origin

A = "A" + "B" * 55
B = "A" + "C" * 55


def _attempt(account: str | None = A, **kw: object) -> Attempt:
    return Attempt("put", http_origin("127.0.0.1"), account=account, **kw)  # type: ignore[arg-type]


async def test_records_are_json_lines_in_order_with_the_origin_flattened(tmp_path: Path) -> None:
    log = AuditLog(tmp_path / "audit.jsonl")
    log.record(_attempt(jti="J1", iat=10, revision=3), status=200, message="stored")
    log.record(_attempt(jti="J2", iat=9), status=409, code="stale_iat", message="stale JWT")
    await log.close()
    lines = [json.loads(line) for line in (tmp_path / "audit.jsonl").read_text().splitlines()]
    assert [d["jti"] for d in lines] == ["J1", "J2"]
    assert list(lines[1]) == ["time", "op", "account", "via", "client", "ok", "status", "code", "message",
                              "revision", "jti", "iat"]
    assert lines[1] | {"time": 0} == {"time": 0, "op": "put", "account": A, "via": "http", "client": "127.0.0.1",
                                      "ok": False, "status": 409, "code": "stale_iat", "message": "stale JWT",
                                      "revision": None, "jti": "J2", "iat": 9}
    assert lines[0]["ok"] is True and lines[0]["revision"] == 3
    assert lines[0]["time"] <= lines[1]["time"]


async def test_read_is_newest_first_and_filters_by_account_since_and_limit(tmp_path: Path) -> None:
    clock = iter(range(100, 200))
    log = AuditLog(tmp_path / "audit.jsonl", clock=lambda: float(next(clock)))
    for i in range(6):
        log.record(_attempt(A if i % 2 == 0 else B, jti=f"J{i}"), status=200)
    delete = Attempt("delete", http_origin("::1"), accounts=[A, B])
    log.record(delete, status=200, message="deleted 2 accounts")
    records = await log.read()
    assert [r.get("jti") for r in records] == [None, "J5", "J4", "J3", "J2", "J1", "J0"]
    assert [r["jti"] for r in await log.read(account=B)][1:] == ["J5", "J3", "J1"]
    assert [r["time"] for r in await log.read(since=103)] == [106, 105, 104, 103]
    assert [r["jti"] for r in await log.read(account=A, limit=2)] == [None, "J4"]
    await log.close()


async def test_rotation_keeps_four_older_files_and_read_walks_them(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    log = AuditLog(path, max_bytes=600)
    for i in range(40):
        log.record(_attempt(jti=f"J{i:02}"), status=200)
        await log.flush()  # one batch per record: each rotation sees the size it would see live
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["audit.jsonl", "audit.jsonl.1", "audit.jsonl.2", "audit.jsonl.3", "audit.jsonl.4"]
    assert all(p.stat().st_size <= 600 for p in tmp_path.iterdir())
    assert log.counters["audit_rotations"] > 4
    kept = await log.read(limit=1000)
    jtis = [r["jti"] for r in kept]
    assert jtis == sorted(jtis, reverse=True)
    assert jtis[0] == "J39" and "J00" not in jtis  # the oldest went with the fifth file
    on_disk = sum(len(p.read_text().splitlines()) for p in tmp_path.iterdir())
    assert len(kept) == on_disk
    await log.close()


async def test_a_torn_line_is_skipped_and_a_missing_file_reads_empty(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    assert await AuditLog(path).read() == []
    log = AuditLog(path)
    log.record(_attempt(jti="J1"), status=200)
    await log.close()
    with path.open("a") as f:
        f.write('{"time": 1, "op": "pu')  # a crash in the middle of a write
    log = AuditLog(path)
    assert [r["jti"] for r in await log.read()] == ["J1"]
    log.record(_attempt(jti="J2"), status=200)
    await log.close()


async def test_reading_backwards_crosses_block_boundaries(tmp_path: Path) -> None:
    log = AuditLog(tmp_path / "audit.jsonl")
    for i in range(2000):  # ~300 KB: several 64 KiB blocks
        log.record(_attempt(jti=f"J{i:04}", message="x" * (i % 37)), status=200)
    records = await log.read(limit=1000)
    assert [r["jti"] for r in records] == [f"J{i:04}" for i in range(1999, 999, -1)]
    await log.close()


def test_off_records_nothing(tmp_path: Path) -> None:
    log = AuditLog(None)
    log.record(_attempt(), status=200)
    assert not log.enabled and log.files() == []


def test_sizes_parse_as_bytes() -> None:
    assert parse_bytes("64MiB") == 64 << 20
    assert parse_bytes("1000") == 1000
    assert parse_bytes(4096) == 4096


def test_an_audit_log_that_cannot_be_written_fails_at_open(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    log = AuditLog(tmp_path / "file" / "audit.jsonl")  # its directory would be a file
    with pytest.raises(OSError):
        log.open()


async def test_times_never_go_back_across_a_restart_even_if_the_clock_does(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    log = AuditLog(path, clock=lambda: 2000.0)
    log.record(_attempt(jti="J1"), status=200)
    await log.close()
    log = AuditLog(path, clock=lambda: 1000.0)  # the clock stepped back while accountd was down
    log.open()
    log.record(_attempt(jti="J2"), status=200)
    assert [r["jti"] for r in await log.read(since=1500)] == ["J2", "J1"]
    await log.close()
