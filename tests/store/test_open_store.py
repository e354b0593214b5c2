"""``open_store`` picks the store from a ``--store`` value; the public names are pinned."""

from __future__ import annotations

from pathlib import Path

import pytest

import accountd.store
from accountd.store import DirectoryStore, MemoryStore, open_store


def test_the_public_names_are_pinned() -> None:
    assert sorted(accountd.store.__all__) == [
        "Conflict",
        "DEFAULT_HISTORY",
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


@pytest.mark.parametrize("spec", ["memory:", "sqlite:{tmp}/a.db", "{tmp}/dir", "dir:{tmp}/dir?shard=true"])
def test_history_is_passed_to_every_local_store(tmp_path: Path, spec: str) -> None:
    store = open_store(spec.format(tmp=tmp_path), history=7)
    assert store.versions_kept == 7  # type: ignore[attr-defined]


def test_memory_scheme_opens_a_memory_store() -> None:
    assert isinstance(open_store("memory:"), MemoryStore)


def test_a_path_opens_a_flat_directory_store(tmp_path: Path) -> None:
    store = open_store(str(tmp_path))
    assert isinstance(store, DirectoryStore)
    assert (store.path, store.shard) == (tmp_path, False)


def test_a_relative_path_is_made_absolute(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    store = open_store("data/jwt")
    assert isinstance(store, DirectoryStore) and store.path == tmp_path / "data" / "jwt"


def test_dir_scheme_opens_a_directory_store(tmp_path: Path) -> None:
    store = open_store(f"dir:{tmp_path}")
    assert isinstance(store, DirectoryStore) and store.path == tmp_path


@pytest.mark.parametrize("spec", ["dir:{}?shard=true", "{}?shard=TRUE", "dir:{}?shard=1"])
def test_shard_option_selects_the_sharded_layout(tmp_path: Path, spec: str) -> None:
    store = open_store(spec.format(tmp_path))
    assert isinstance(store, DirectoryStore) and store.shard and store.path == tmp_path


def test_shard_false_selects_the_flat_layout(tmp_path: Path) -> None:
    store = open_store(f"dir:{tmp_path}?shard=false")
    assert isinstance(store, DirectoryStore) and not store.shard


def test_nats_kv_without_servers_is_refused() -> None:
    with pytest.raises(ValueError, match="needs NATS servers"):
        open_store("nats-kv://accounts")


@pytest.mark.parametrize("spec", ["s3://bucket", "redis:localhost"])
def test_an_unknown_scheme_is_refused(spec: str) -> None:
    with pytest.raises(ValueError, match="unknown scheme"):
        open_store(spec)


@pytest.mark.parametrize("spec", ["", "dir:", "dir:?shard=true"])
def test_a_spec_without_a_directory_is_refused(spec: str) -> None:
    with pytest.raises(ValueError, match="no directory"):
        open_store(spec)


@pytest.mark.parametrize("spec", ["dir:/x?shard=maybe", "dir:/x?sharded=true", "/x?fsync=off"])
def test_an_unknown_option_is_refused(spec: str) -> None:
    with pytest.raises(ValueError, match="unknown option"):
        open_store(spec)


def test_memory_with_a_path_is_refused() -> None:
    with pytest.raises(ValueError, match="takes no path"):
        open_store("memory:/tmp/x")
