"""Account JWT stores: one small async interface, several implementations, one factory.

``open_store(spec)`` picks the implementation from ``--store``:

=====================================  ===========================================================
``memory:``                            :class:`MemoryStore` (nothing persists)
``sqlite:PATH``                        :class:`SQLiteStore`, one SQLite database file: the store
                                       for a million accounts
``PATH`` or ``dir:PATH``               :class:`DirectoryStore`, flat ``<PATH>/<PUB>.jwt``
``PATH?shard=true``                    the same, sharded ``<PATH>/<last 2 chars>/<PUB>.jwt``
``nats-kv://BUCKET[?options]``         :class:`KVStore`, a JetStream KV bucket shared by several
                                       instances (options: ``replicas``, ``history``, ``servers``,
                                       ``creds``, ``ack_wait``, ``tls_ca``, ``tls_cert``,
                                       ``tls_key``; see :mod:`accountd.store.kv`)
=====================================  ===========================================================

Every store keeps the last ``history`` versions of each account (``open_store(spec, history=N)``,
:data:`DEFAULT_HISTORY` by default, 0: none); a ``nats-kv://`` bucket keeps at most 64, its own
``history=`` option wins, and a bucket that exists keeps the history it was made with.

The store is returned unopened: call ``await store.open()``.
"""

from __future__ import annotations

import os
import re

from accountd.natsclient import NatsTLS
from accountd.store.base import DEFAULT_HISTORY, Conflict, NotFound, Record, Store, StoreError, Version
from accountd.store.directory import DirectoryStore
from accountd.store.failing import FailingStore
from accountd.store.kv import KVStore
from accountd.store.memory import MemoryStore
from accountd.store.sqlite import SQLiteStore

__all__ = [
    "DEFAULT_HISTORY",
    "Conflict",
    "DirectoryStore",
    "FailingStore",
    "KVStore",
    "MemoryStore",
    "NotFound",
    "Record",
    "SQLiteStore",
    "Store",
    "StoreError",
    "Version",
    "open_store",
]

_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]+):")
_TRUE = {"true", "1", "yes"}
_FALSE = {"false", "0", "no"}


def open_store(spec: str, *, nats: list[str] | None = None, creds: str = "", tls: NatsTLS | None = None,
               history: int = DEFAULT_HISTORY) -> Store:
    """The store named by ``spec`` (see the module docstring); ``ValueError`` if it names none.

    ``nats``/``creds``/``tls`` (the server's ``--nats``/``--creds``/``--nats-tls-*``) are the
    defaults of a ``nats-kv://`` store's own connection.
    """
    spec = spec.strip()
    match = _SCHEME.match(spec)
    scheme = match.group(1).lower() if match else ""
    rest = spec[match.end() :] if match else spec
    if scheme == "memory":
        if rest not in ("", "//"):
            raise ValueError(f"store {spec!r}: memory: takes no path")
        return MemoryStore(history=history)
    if scheme == "sqlite":
        path = rest[2:] if rest.startswith("//") else rest
        if not path or "?" in path:
            raise ValueError(f"store {spec!r}: write sqlite:PATH (a database file; it takes no options)")
        return SQLiteStore(os.path.expanduser(path), history=history)
    if scheme == "nats-kv":
        return KVStore.from_spec(spec, nats=nats, creds=creds, tls=tls, history=history)
    if scheme not in ("", "dir"):
        raise ValueError(
            f"store {spec!r}: unknown scheme {scheme + ':'!r}; use memory:, sqlite:PATH, dir:PATH, "
            "nats-kv://BUCKET or a directory path"
        )
    path, _, query = rest.partition("?")
    if not path:
        raise ValueError(f"store {spec!r}: no directory given")
    return DirectoryStore(path, shard=_shard_option(spec, query), history=history)


def _shard_option(spec: str, query: str) -> bool:
    shard = False
    for item in filter(None, query.split("&")):
        key, _, value = item.partition("=")
        if key != "shard" or value.lower() not in _TRUE | _FALSE:
            raise ValueError(f"store {spec!r}: unknown option {item!r}; the only option is shard=true|false")
        shard = value.lower() in _TRUE
    return shard
