"""The JetStream KV store passes the store contract on a real 3-node cluster, and shares one bucket.

The cluster (operator mode, JetStream, full resolver) is started once for the module; every test
gets a bucket of its own.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path

import nats
import pytest
from contract import A, B, PersistentContract, StoreContract, jwt, key
from contract_history import HistoryContract, Make, PersistentHistoryContract
from nats.js.api import KeyValueConfig
from nats.js.errors import KeyNotFoundError

from accountd.store import Conflict, KVStore, Record, Store, StoreError, open_store
from accountd.types import AccountKey
from harness import NatsFactory, operator_mode_config
from scaleout.cluster import Cluster, start_cluster

_buckets = itertools.count()


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory, nats_server_binary: str) -> Iterator[Cluster]:
    cluster = start_cluster(tmp_path_factory.mktemp("kv-cluster"), nats_server_binary)
    yield cluster
    cluster.stop()


@pytest.fixture
def bucket() -> str:
    return f"t{next(_buckets)}"


def kv(cluster: Cluster, bucket: str, **options: object) -> KVStore:
    store = open_store(cluster.kv_spec(bucket, **options))
    assert isinstance(store, KVStore)
    return store


async def until(check: Callable[[], Awaitable[bool]], timeout: float = 10.0) -> None:
    """Poll ``check`` until it is true (bounded; no fixed sleeps in the assertions)."""
    async with asyncio.timeout(timeout):
        while not await check():
            await asyncio.sleep(0.01)


@pytest.fixture
async def opened(cluster: Cluster, bucket: str) -> AsyncIterator[Callable[..., Awaitable[KVStore]]]:
    """Open KV stores on this test's bucket; all are closed and the bucket deleted at the end."""
    stores: list[KVStore] = []

    async def open_(**options: object) -> KVStore:
        store = kv(cluster, bucket, **options)
        await store.open()
        stores.append(store)
        return store

    yield open_
    for store in stores:
        await store.close()
    nc = await nats.connect(cluster.urls, user_credentials=str(cluster.kv_creds))
    try:
        await nc.jetstream().delete_stream(f"KV_{bucket}")
    except Exception:
        pass
    await nc.close()


class TestKVStore(StoreContract, PersistentContract, HistoryContract, PersistentHistoryContract):
    @pytest.fixture
    async def store(self, opened: Callable[..., Awaitable[KVStore]]) -> KVStore:
        return await opened()

    @pytest.fixture
    def make(self, opened: Callable[..., Awaitable[KVStore]]) -> Make:
        return lambda history: opened(history=history)

    @pytest.fixture
    def reopen(self, opened: Callable[..., Awaitable[KVStore]]) -> Callable[[Store], Awaitable[Store]]:
        async def reopen(store: Store) -> Store:
            await store.close()
            return await opened()

        return reopen


# --- the spec ------------------------------------------------------------------------------------


def test_the_spec_names_the_bucket_and_its_options(tmp_path: Path) -> None:
    store = open_store(f"nats-kv://accounts?replicas=1&history=10&servers=nats://a:4222,nats://b:4222"
                       f"&creds={tmp_path}/kv.creds&ack_wait=2.5")
    assert isinstance(store, KVStore)
    assert (store.bucket, store.stream, store.replicas, store.versions_kept, store.ack_wait) == (
        "accounts", "KV_accounts", 1, 10, 2.5)
    assert store.servers == ["nats://a:4222", "nats://b:4222"]
    assert store.creds == f"{tmp_path}/kv.creds"


def test_the_connection_defaults_to_the_servers_nats_settings() -> None:
    store = open_store("nats-kv://accounts", nats=["nats://n1:4222"], creds="/etc/accountd/sys.creds")
    assert isinstance(store, KVStore)
    assert (store.servers, store.creds, store.replicas, store.versions_kept) == (
        ["nats://n1:4222"], "/etc/accountd/sys.creds", None, 50)


def test_history_comes_from_the_argument_unless_the_spec_says_and_is_at_most_64() -> None:
    def kept(spec: str, history: int) -> int:
        store = open_store(spec, nats=["nats://n1:4222"], history=history)
        assert isinstance(store, KVStore)
        return store.versions_kept

    assert kept("nats-kv://accounts", 7) == 7
    assert kept("nats-kv://accounts", 500) == 64
    assert kept("nats-kv://accounts?history=3", 7) == 3
    assert kept("nats-kv://accounts?history=0", 7) == 0


@pytest.mark.parametrize(("spec", "message"), [
    ("nats-kv://accounts", "needs NATS servers"),
    ("nats-kv:accounts?servers=nats://a", "nats-kv://BUCKET"),
    ("nats-kv://acc.ounts?servers=nats://a", "bad bucket name"),
    ("nats-kv://accounts?servers=nats://a&replicas=7", "bad value"),
    ("nats-kv://accounts?servers=nats://a&history=65", "bad value"),
    ("nats-kv://accounts?servers=nats://a&ack_wait=x", "bad value"),
    ("nats-kv://accounts?servers=nats://a&shard=true", "unknown option"),
    ("nats-kv://accounts?servers=nats://u:secret@a:4222", "no passwords"),
])
def test_a_bad_spec_is_refused(spec: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        open_store(spec)


# --- the bucket ----------------------------------------------------------------------------------


async def test_the_bucket_is_created_with_three_replicas_and_fifty_versions_by_default(
    opened: Callable[..., Awaitable[KVStore]], cluster: Cluster, bucket: str
) -> None:
    await opened()
    nc = await nats.connect(cluster.urls, user_credentials=str(cluster.kv_creds))
    status = await (await nc.jetstream().key_value(bucket)).status()
    await nc.close()
    assert (status.stream_info.config.num_replicas, status.history) == (3, 50)


async def test_replicas_and_history_options_are_used_for_a_new_bucket(
    opened: Callable[..., Awaitable[KVStore]], cluster: Cluster, bucket: str
) -> None:
    await opened(replicas=1, history=2)
    nc = await nats.connect(cluster.urls, user_credentials=str(cluster.kv_creds))
    status = await (await nc.jetstream().key_value(bucket)).status()
    await nc.close()
    assert (status.stream_info.config.num_replicas, status.history) == (1, 2)


async def test_a_standalone_server_gets_a_bucket_with_one_replica(
    cluster: Cluster, nats_factory: NatsFactory, tmp_path: Path
) -> None:
    world, kv_account = cluster.world, cluster.kv_account
    config = operator_mode_config(cluster.operator, world.sys.pub, f'{{ type: full, dir: "{tmp_path / "jwt"}" }}',
                                  {world.sys.pub: world.sys.jwt, kv_account.pub: kv_account.jwt},
                                  f'jetstream {{ store_dir: "{tmp_path / "js"}" }}\n')
    server = nats_factory(config, name="standalone")
    store = open_store("nats-kv://solo", nats=[server.url], creds=str(cluster.kv_creds))
    await store.open()
    try:
        assert isinstance(store, KVStore)
        nc = await nats.connect(server.url, user_credentials=str(cluster.kv_creds))
        info = await nc.jetstream().stream_info("KV_solo")
        await nc.close()
        assert (info.config.num_replicas, info.config.max_msgs_per_subject) == (1, 50)
        record = await store.put(A, jwt(1))
        assert await store.get(A) == record
    finally:
        await store.close()


async def test_values_are_the_jwts_and_tombstones_are_kv_delete_markers(
    opened: Callable[..., Awaitable[KVStore]], cluster: Cluster, bucket: str
) -> None:
    store = await opened()
    records = [await store.put(A, jwt(1), meta={"self_iat": 7}), await store.put(A, jwt(2)),
               await store.delete(A, jwt("token"), meta={"iat": 9})]
    await store.put(B, jwt("b"))
    nc = await nats.connect(cluster.urls, user_credentials=str(cluster.kv_creds))
    js = nc.jetstream()
    raw = [await js.get_msg(f"KV_{bucket}", seq=r.revision) for r in records]
    other = await js.key_value(bucket)
    live = await other.get(B)
    with pytest.raises(KeyNotFoundError):  # what `nats kv get` says of a deleted key
        await other.get(A)
    await nc.close()
    assert live.value == jwt("b").encode()
    assert {m.subject for m in raw} == {f"$KV.{bucket}.{A}"}
    assert [m.data for m in raw] == [jwt(1).encode(), jwt(2).encode(), jwt("token").encode()]
    headers = [{k: v for k, v in (m.headers or {}).items() if k != "Nats-Msg-Id"} for m in raw]
    assert headers == [
        {"Accountd-Meta": '{"self_iat":7}'},
        {},
        {"Accountd-Meta": '{"iat":9}', "KV-Operation": "DEL",
         "Nats-Expected-Last-Subject-Sequence": str(records[1].revision)},
    ]


async def test_the_system_account_cannot_hold_the_bucket(cluster: Cluster, bucket: str) -> None:
    store = open_store(f"nats-kv://{bucket}", nats=cluster.urls, creds=str(cluster.sys_creds))
    with pytest.raises(StoreError, match="JetStream-enabled account"):
        await store.open()


async def test_a_user_the_servers_refuse_fails_the_open_at_once(cluster: Cluster, bucket: str, tmp_path: Path) -> None:
    stranger = cluster.world.account("STRANGER")  # not preloaded, and nobody answers its LOOKUP
    creds = tmp_path / "stranger.creds"
    cluster.world.user_creds(stranger, "u", creds)
    store = open_store(f"nats-kv://{bucket}", nats=cluster.urls, creds=str(creds))
    assert isinstance(store, KVStore)
    store.open_timeout = 3600  # an authorization violation is not retried: this never runs out
    with pytest.raises(StoreError, match=r"(?i)authorization violation"):
        await store.open()


# --- several instances on one bucket -------------------------------------------------------------


async def test_a_write_on_one_instance_is_seen_by_the_other(opened: Callable[..., Awaitable[KVStore]]) -> None:
    one, two = await opened(), await opened()
    changed: list[AccountKey] = []
    two.on_external_change = changed.append
    record = await one.put(A, jwt(1))

    async def seen() -> bool:
        return await two.lookup(A) == record

    await until(seen)
    assert changed == [A]
    await one.delete(A, jwt("token"))

    async def gone() -> bool:
        return await two.list() == []

    await until(gone)


async def test_a_new_instance_loads_the_current_state(opened: Callable[..., Awaitable[KVStore]]) -> None:
    one = await opened()
    for n in range(5):
        await one.put(A, jwt(n))
    tombstone = await one.delete(A, jwt("token"))
    live = await one.put(B, jwt("b"), meta={"iat": 1})
    two = await opened()
    assert await two.lookup(A) == tombstone
    assert await two.get(B) == live
    assert await two.list() == [B]


async def test_compare_and_set_sees_through_a_lagging_index(opened: Callable[..., Awaitable[KVStore]]) -> None:
    """An instance that has not seen the other's write yet gets Conflict, then the winner."""
    one, two = await opened(), await opened()
    base = await one.put(A, jwt(1))
    await until(lambda: _has(two, base))
    newer = await one.put(A, jwt(2), expect=base.revision)
    with pytest.raises(Conflict) as info:
        await two.put(A, jwt(3), expect=base.revision)
    assert info.value.actual == newer.revision
    assert await two.lookup(A) == newer


async def test_each_change_is_pending_on_one_instance_only(opened: Callable[..., Awaitable[KVStore]]) -> None:
    one, two = await opened(), await opened()
    record = await one.put(A, jwt(1))
    assert await one.pending() == [record]
    assert await two.pending() == []
    await one.mark_published(A, record.revision)
    assert await one.pending() == [] and await two.pending() == []


async def test_a_change_held_by_an_instance_that_died_goes_to_another(
    opened: Callable[..., Awaitable[KVStore]]
) -> None:
    one, two = await opened(ack_wait=1), await opened(ack_wait=1)
    record = await one.put(A, jwt(1))
    assert await one.pending() == [record]
    assert one._bucket.nc is not None
    await one._bucket.nc.close()  # a crash: no acknowledgement, no NAK

    got: list[Record] = []

    async def redelivered() -> bool:
        got[:] = await two.pending()
        return bool(got)

    await until(redelivered)
    assert got == [record]


async def test_a_closing_instance_hands_its_changes_over_at_once(opened: Callable[..., Awaitable[KVStore]]) -> None:
    one, two = await opened(ack_wait=60), await opened(ack_wait=60)
    record = await one.put(A, jwt(1))
    assert await one.pending() == [record]
    await one.close()  # NAKs what it holds

    got: list[Record] = []

    async def handed_over() -> bool:
        got[:] = await two.pending()
        return bool(got)

    await until(handed_over)
    assert got == [record]


async def test_an_instance_that_cannot_publish_hands_its_changes_over(
    opened: Callable[..., Awaitable[KVStore]]
) -> None:
    one, two = await opened(ack_wait=60), await opened(ack_wait=60)
    one._outbox.release_after = 0.2
    record = await one.put(A, jwt(1))
    assert await one.pending() == [record]  # and its notifier never marks it published

    got: list[Record] = []

    async def handed_over() -> bool:
        await one.pending()  # offers it again until release_after has passed, then hands it back
        got[:] = await two.pending()
        return bool(got)

    await until(handed_over)
    assert got == [record]
    assert int(one.stats()["released"]) == 1
    assert await one.pending() == []  # and takes nothing for a while


async def test_a_newer_change_found_after_publishing_is_published_again(
    opened: Callable[..., Awaitable[KVStore]]
) -> None:
    one, two = await opened(), await opened()
    old = await one.put(A, jwt(1))
    assert await one.pending() == [old]
    newer = await two.put(A, jwt(2), expect=old.revision)  # and two's notifier may publish it first
    await one.mark_published(A, old.revision)
    assert await one.pending() == [newer]


async def test_the_watcher_recovers_when_its_consumer_disappears(
    opened: Callable[..., Awaitable[KVStore]], cluster: Cluster, bucket: str
) -> None:
    one, two = await opened(), await opened()
    assert two._watcher.consumer is not None
    nc = await nats.connect(cluster.urls, user_credentials=str(cluster.kv_creds))
    await nc.jetstream().delete_consumer(f"KV_{bucket}", two._watcher.consumer)
    await nc.close()
    record = await one.put(A, jwt(1))
    await until(lambda: _has(two, record), timeout=15)
    assert int(two.stats()["watch_restarts"]) >= 1


async def test_an_existing_outbox_consumer_gets_the_configured_ack_wait(
    opened: Callable[..., Awaitable[KVStore]], cluster: Cluster, bucket: str
) -> None:
    old = await opened(ack_wait=10)
    await old.close()
    await opened()  # the default
    nc = await nats.connect(cluster.urls, user_credentials=str(cluster.kv_creds))
    info = await nc.jetstream().consumer_info(f"KV_{bucket}", "accountd")
    await nc.close()
    assert info.config.ack_wait == 1.0


async def test_a_bucket_made_without_direct_gets_is_given_them(
    opened: Callable[..., Awaitable[KVStore]], cluster: Cluster, bucket: str
) -> None:
    nc = await nats.connect(cluster.urls, user_credentials=str(cluster.kv_creds))
    js = nc.jetstream()
    other = await js.create_key_value(KeyValueConfig(bucket=bucket, history=3, replicas=3))
    revision = await other.put(A, jwt(1).encode())  # as `nats kv put` does it
    store = await opened()
    info = await js.stream_info(f"KV_{bucket}")
    await nc.close()
    assert (info.config.allow_direct, info.config.max_msgs_per_subject) == (True, 3)
    assert await store.get(A) == Record(A, jwt(1), revision)


async def test_a_read_that_a_lagging_replica_answers_is_asked_again_of_the_leader(
    opened: Callable[..., Awaitable[KVStore]], monkeypatch: pytest.MonkeyPatch
) -> None:
    store = await opened()
    old = await store.put(A, jwt(1))
    stale = await store._bucket.last(A)
    new = await store.put(A, jwt(2))
    last = store._bucket.last
    asked: list[bool] = []

    async def lagging(account: AccountKey, *, leader: bool = False) -> object:
        asked.append(leader)
        return await last(account, leader=True) if leader else stale

    monkeypatch.setattr(store._bucket, "last", lagging)
    store._recent.clear()  # (what it wrote itself is read from memory)
    assert stale.seq == old.revision
    assert await store.get(A) == new
    assert asked == [False, True]


async def test_a_held_change_is_kept_alive_past_ack_wait(opened: Callable[..., Awaitable[KVStore]]) -> None:
    """In-progress acknowledgements: a notifier slower than ack_wait causes no redelivery."""
    one, two = await opened(ack_wait=0.5), await opened(ack_wait=0.5)
    one._outbox.release_after = 60
    record = await one.put(A, jwt(1))
    assert await one.pending() == [record]
    for _ in range(8):  # 2 s, four times ack_wait
        await asyncio.sleep(0.25)
        assert await two.pending() == []
    await one.mark_published(A, record.revision)
    assert (one.stats()["redeliveries"], two.stats()["redeliveries"]) == (0, 0)
    assert await one.pending() == []


async def test_a_put_without_publish_is_acknowledged_by_whichever_instance_fetches_it(
    opened: Callable[..., Awaitable[KVStore]], cluster: Cluster, bucket: str
) -> None:
    one, two = await opened(), await opened()
    imported = [key(n) for n in range(300)]  # more than one pull's batch: the rest is fetched in the background
    for account in imported:
        await one.put(account, jwt(account), publish=False)
    assert await two.pending() == []
    assert await one.pending() == []
    await until(lambda: _outbox_empty(cluster, bucket))
    changed = await one.put(imported[0], jwt("changed"))
    assert await one.pending() == [changed]
    assert await two.list(limit=3) == sorted(imported)[:3]


async def test_a_backlog_is_fetched_in_the_background_and_announced(
    opened: Callable[..., Awaitable[KVStore]], cluster: Cluster, bucket: str
) -> None:
    store = await opened()
    announced = asyncio.Event()
    store.on_pending = announced.set
    nc = await nats.connect(cluster.urls, user_credentials=str(cluster.kv_creds))
    js = nc.jetstream()
    accounts = sorted(key(n) for n in range(300))
    for account in accounts:  # written by something else: no instance holds these yet
        await js.publish(f"$KV.{bucket}.{account}", jwt(account).encode())
    await nc.close()
    first = await store.pending()
    assert len(first) == 256
    await until(lambda: _is_set(announced))
    rest = await store.pending()
    assert [r.account for r in rest] == accounts  # and the first ones are still held, unpublished
    for record in rest:
        await store.mark_published(record.account, record.revision)
    await until(lambda: _outbox_empty(cluster, bucket))


async def test_check_fails_once_closed(opened: Callable[..., Awaitable[KVStore]]) -> None:
    store = await opened()
    await store.check()
    await store.close()
    with pytest.raises(StoreError, match="not open"):
        await store.check()


async def _has(store: KVStore, record: Record) -> bool:
    return await store.lookup(record.account) == record


async def _is_set(event: asyncio.Event) -> bool:
    return event.is_set()


async def _outbox_empty(cluster: Cluster, bucket: str) -> bool:
    """The outbox consumer delivered everything and has nothing unacknowledged."""
    nc = await nats.connect(cluster.urls, user_credentials=str(cluster.kv_creds))
    try:
        info = await nc.jetstream().consumer_info(f"KV_{bucket}", "accountd")
    finally:
        await nc.close()
    return bool(info.num_pending == 0 and info.num_ack_pending == 0)


async def test_search_matches_key_prefixes_only_paged_without_deleted_accounts(
    opened: Callable[..., Awaitable[KVStore]]
) -> None:
    store = await opened()
    accounts = sorted(key(n) for n in range(40))
    for account in accounts:
        await store.put(account, jwt(account), meta={"name": "tenant", "tags": "gold"})
    await store.delete(accounts[0], jwt("token"))
    prefix = accounts[1][:2]
    expected = [a for a in accounts[1:] if a.startswith(prefix)]
    assert await store.search(prefix.lower()) == expected
    assert await store.search(prefix, after=expected[0], limit=1) == expected[1:2]
    assert await store.search(accounts[0]) == []
    assert await store.search("tenant") == [] and await store.search("gold") == []
    assert await store.search("") == accounts[1:41][:100]
