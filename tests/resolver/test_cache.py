"""The LRU of validated accounts."""

from __future__ import annotations

import pytest

from accountd.claims import Role, create, new_account
from accountd.resolver import AccountCache, Entry


def entry(exp: int = 0, jti: str = "J") -> Entry:
    claims = new_account(create(Role.ACCOUNT).public_key, "A")
    claims.exp, claims.jti = exp, jti
    return Entry(claims, "jwt")


def test_least_recently_used_goes_first() -> None:
    cache = AccountCache(2)
    a, b, c = entry(), entry(), entry()
    cache.put(a)
    cache.put(b)
    assert cache.get(a.account) is a  # a is used: b is now the oldest
    assert cache.put(c) == [b]
    assert b.account not in cache and len(cache) == 2


def test_peek_does_not_count_as_use() -> None:
    cache = AccountCache(2)
    a, b, c = entry(), entry(), entry()
    cache.put(a)
    cache.put(b)
    cache.peek(a.account)
    assert cache.put(c) == [a]


def test_expired_entries_come_out_by_expiry_time() -> None:
    cache = AccountCache(10)
    soon, later, never = entry(exp=100), entry(exp=200), entry()
    for e in (later, never, soon):
        cache.put(e)
    assert cache.next_expiry() == 100
    assert cache.expired(now=100) == []  # expired only when now > exp
    assert cache.expired(now=150) == [soon]
    assert cache.next_expiry() == 200
    assert cache.expired(now=1000) == [later]
    assert cache.next_expiry() is None and never.account in cache


def test_a_replaced_entry_keeps_only_its_own_expiry() -> None:
    cache = AccountCache(10)
    first = entry(exp=100, jti="J1")
    cache.put(first)
    renewed = Entry(first.claims.__class__.from_go({**first.claims.to_go(), "exp": 0, "jti": "J2"}), "jwt2")
    cache.put(renewed)
    assert cache.expired(now=1000) == []
    assert cache.next_expiry() is None


def test_size_must_be_positive() -> None:
    with pytest.raises(ValueError):
        AccountCache(0)
