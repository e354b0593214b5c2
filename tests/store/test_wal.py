"""The write-ahead log format: whole batches only, torn tails cut, damage before intact batches refused."""

from __future__ import annotations

import pytest
from contract import A, B, jwt

from accountd.store._wal import encode_batch, parse_log
from accountd.store.base import Record, StoreError

FIRST = encode_batch([Record(A, jwt(1), 1, meta={"iat": 5})], [])
SECOND = encode_batch([Record(B, jwt(2), 2), Record(A, jwt("token"), 3, deleted=True)], [(B, 2)])


def test_a_batch_round_trips() -> None:
    entries, good = parse_log(FIRST + SECOND)
    assert good == len(FIRST + SECOND)
    assert entries == [
        {"op": "put", "account": A, "revision": 1, "jwt": jwt(1), "meta": {"iat": 5}},
        {"op": "put", "account": B, "revision": 2, "jwt": jwt(2), "meta": {}},
        {"op": "delete", "account": A, "revision": 3, "token": jwt("token"), "meta": {}},
        {"op": "published", "account": B, "revision": 2},
    ]


def test_every_line_is_checksummed_json() -> None:
    for line in SECOND.splitlines():
        crc, _, body = line.partition(b" ")
        assert len(crc) == 8 and body.startswith(b"{")


@pytest.mark.parametrize("cut", [1, 10, len(SECOND) // 2, len(SECOND) - 1])
def test_a_final_batch_cut_anywhere_is_dropped_whole(cut: int) -> None:
    entries, good = parse_log(FIRST + SECOND[:cut])
    assert good == len(FIRST)
    assert [e["account"] for e in entries] == [A]


def test_a_hole_inside_the_final_batch_drops_that_batch() -> None:
    torn = bytearray(SECOND)
    torn[5:60] = bytes(55)  # a page that never reached the disk, then intact lines and commit
    entries, good = parse_log(FIRST + bytes(torn))
    assert good == len(FIRST) and len(entries) == 1


def test_garbage_after_the_last_batch_is_ignored() -> None:
    entries, good = parse_log(FIRST + b"\x00\x00garbage\nmore garbage")
    assert good == len(FIRST) and len(entries) == 1


def test_damage_followed_by_an_intact_batch_is_refused() -> None:
    damaged = bytearray(FIRST)
    damaged[12] ^= 0x01
    with pytest.raises(StoreError, match="damaged"):
        parse_log(bytes(damaged) + SECOND)


def test_an_empty_log_has_no_entries() -> None:
    assert parse_log(b"") == ([], 0)
