"""The JetStream key-value store (``--store nats-kv://BUCKET``): one bucket, any number of accountd instances.

Layout — the bucket is the stream ``KV_<BUCKET>``, one subject ``$KV.<BUCKET>.<ACCOUNT>`` per account:

- a live record's value is the JWT itself (``nats kv get BUCKET A…`` prints it);
- a tombstone is a KV delete marker (header ``KV-Operation: DEL``) whose body is the delete token;
- ``meta`` rides in the header ``Accountd-Meta`` (compact JSON), absent when empty;
- a write made with ``publish=False`` (an import of what the servers already hold) has the header
  ``Accountd-Publish: no``;
- the revision is the KV revision (the stream sequence); compare-and-set is the header
  ``Nats-Expected-Last-Subject-Sequence`` (0: the key was never written — a tombstone counts);
- how a change arrived (its origin) rides in the header ``Accountd-Origin`` (compact JSON);
- the bucket keeps ``history`` versions per account (at most 64, fixed when the bucket is made):
  :meth:`KVStore.history` reads them from the stream leader, their ``stored_at`` the stream's
  timestamp, and older JWTs stay readable with ``nats kv history``;
- :meth:`KVStore.search` matches key prefixes only: an instance keeps no names or tags in memory;
- the stream allows direct gets, so that any replica answers a read.

The parts, one module each:

- :mod:`~accountd.store.kv.bucket`: the connection, the stream, reading and appending one account;
- :mod:`~accountd.store.kv.index`: each account's revision and tombstone flag, the sorted live keys
  (no JWTs: :meth:`KVStore.get` and :meth:`KVStore.lookup` read the record through from the stream);
- :mod:`~accountd.store.kv.watcher`: a headers-only consumer keeping that index current within
  milliseconds of any instance's write; :attr:`KVStore.on_external_change` is called for each
  account changed underneath;
- :mod:`~accountd.store.kv.outbox`: the shared durable consumer that hands each change to one
  instance to publish, and to another when that one dies;
- :mod:`~accountd.store.kv.store`: :class:`KVStore`, the store interface on top.
"""

from accountd.store.kv.store import KVStore

__all__ = ["KVStore"]
