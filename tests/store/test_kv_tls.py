"""The KV store over TLS to a JetStream nats-server with ``verify: true``, the ``tls_*`` options of
``nats-kv://``, and a refused client certificate failing the store's open at once."""

from __future__ import annotations

from pathlib import Path

import pytest
from contract import A, jwt

from accountd.natsclient import NatsTLS
from accountd.natsserver import NatsServer
from accountd.store import KVStore, StoreError, open_store
from harness import NatsFactory, operator_mode_config
from tlsfiles import TLSFiles, tls_url
from world import World


@pytest.fixture
def kv_server(tmp_path: Path, nats_factory: NatsFactory, world: World, tls: TLSFiles) -> tuple[NatsServer, Path]:
    kv = world.account("KV", mem_storage=-1, disk_storage=-1, streams=-1, consumer=-1)
    files = world.write(tmp_path / "world")
    creds = tmp_path / "world" / "kv.creds"
    world.user_creds(kv, "kv", creds)
    config = operator_mode_config(files["operator"], world.sys.pub, f'{{ type: full, dir: "{tmp_path / "jwt"}" }}',
                                  {world.sys.pub: world.sys.jwt, kv.pub: kv.jwt},
                                  f'jetstream {{ store_dir: "{tmp_path / "js"}" }}\n' + tls.server_block())
    return nats_factory(config, name="kv"), creds


async def test_the_kv_store_works_over_tls_with_the_spec_options(
    kv_server: tuple[NatsServer, Path], tls: TLSFiles
) -> None:
    server, creds = kv_server
    store = open_store(f"nats-kv://tlsbucket?servers={tls_url(server)}&creds={creds}&tls_ca={tls.ca}"
                       f"&tls_cert={tls.client_cert}&tls_key={tls.client_key}")
    await store.open()
    try:
        record = await store.put(A, jwt(1))
        assert await store.get(A) == record
    finally:
        await store.close()


async def test_the_kv_store_inherits_the_serve_tls_files(kv_server: tuple[NatsServer, Path], tls: TLSFiles) -> None:
    server, creds = kv_server
    store = open_store("nats-kv://inherited", nats=[tls_url(server)], creds=str(creds), tls=tls.client())
    await store.open()
    try:
        await store.put(A, jwt(2))
        assert (await store.get(A)).jwt == jwt(2)
    finally:
        await store.close()


async def test_a_refused_client_certificate_fails_the_open_at_once(
    kv_server: tuple[NatsServer, Path], tls: TLSFiles
) -> None:
    server, creds = kv_server
    store = open_store(f"nats-kv://refused?tls_ca={tls.ca}", nats=[tls_url(server)], creds=str(creds))
    assert isinstance(store, KVStore)
    store.open_timeout = 300.0  # would it retry, the test would time out; it does not
    with pytest.raises(StoreError, match="client certificate") as e:
        await store.open()
    assert "\n" not in str(e.value)


def test_each_tls_option_replaces_the_one_file_it_names(tmp_path: Path, tls: TLSFiles) -> None:
    inherited = NatsTLS(str(tls.other_ca), str(tls.client_cert), str(tls.client_key))
    store = open_store(f"nats-kv://b?tls_ca={tls.ca}", nats=["tls://n1:4222"], tls=inherited)
    assert isinstance(store, KVStore)
    assert store.tls == NatsTLS(str(tls.ca), str(tls.client_cert), str(tls.client_key))
    plain = open_store("nats-kv://b", nats=["nats://n1:4222"])
    assert isinstance(plain, KVStore) and not plain.tls


@pytest.mark.parametrize(("query", "message"), [
    ("tls_cert={cert}", "go together"),
    ("tls_ca={missing}", "No such file"),
])
def test_unusable_tls_options_are_refused(tls: TLSFiles, tmp_path: Path, query: str, message: str) -> None:
    query = query.format(cert=tls.client_cert, missing=tmp_path / "missing.pem")
    with pytest.raises(ValueError, match=message):
        open_store(f"nats-kv://b?{query}", nats=["tls://n1:4222"])
