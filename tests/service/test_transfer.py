"""``accountd import dir`` / ``export dir``: a directory of ``<PUB>.jwt`` files round-trips through a store."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from accountd.claims import KeyPair, Role, create, encode, new_account, new_operator
from accountd.store import SQLiteStore

ACCOUNTS = 20_000


def _accounts(operator: KeyPair, root: Path, n: int, *, shard: bool) -> dict[str, bytes]:
    files: dict[str, bytes] = {}
    for i in range(n):
        pub = create(Role.ACCOUNT).public_key
        claims = new_account(pub, f"T{i:05d}")
        claims.nats.limits.conn = 10 + i % 7
        token = encode(claims, operator).encode()
        rel = f"{pub[-2:]}/{pub}.jwt" if shard else f"{pub}.jwt"
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(token)
        files[rel] = token
    return files


@pytest.fixture(scope="module")
def operator() -> KeyPair:
    return create(Role.OPERATOR)


@pytest.fixture(scope="module")
def nats_dir(tmp_path_factory: pytest.TempPathFactory, operator: KeyPair) -> tuple[Path, dict[str, bytes], Path]:
    """20,000 accounts in nats-server's flat layout, plus the operator JWT."""
    root = tmp_path_factory.mktemp("nats") / "jwt"
    root.mkdir()
    files = _accounts(operator, root, ACCOUNTS, shard=False)
    op_jwt = root.parent / "operator.jwt"
    op_jwt.write_text(encode(new_operator(operator.public_key, "OP"), operator))
    return root, files, op_jwt


def accountd(*args: str) -> dict[str, object]:
    done = subprocess.run([sys.executable, "-m", "accountd", *args, "--json"], capture_output=True, text=True,
                          timeout=600, check=False)
    assert done.returncode == 0, done.stderr + done.stdout
    doc: dict[str, object] = json.loads(done.stdout)
    return doc


def tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*.jwt")}


def test_a_directory_round_trips_through_import_and_export_byte_for_byte(
    nats_dir: tuple[Path, dict[str, bytes], Path], tmp_path: Path
) -> None:
    root, files, op_jwt = nats_dir
    db = tmp_path / "accounts.db"
    imported = accountd("import", "dir", str(root), "--store", f"sqlite:{db}", "--operator", str(op_jwt))
    assert (imported["files"], imported["stored"], imported["skipped"]) == (ACCOUNTS, ACCOUNTS, 0)
    exported = accountd("export", "dir", str(tmp_path / "out"), "--store", f"sqlite:{db}")
    assert exported["stored"] == ACCOUNTS
    assert tree(tmp_path / "out") == files
    again = accountd("import", "dir", str(root), "--store", f"sqlite:{db}")
    assert (again["stored"], again["unchanged"]) == (0, ACCOUNTS)


async def test_imported_accounts_carry_their_meta_and_are_not_pending(operator: KeyPair, tmp_path: Path) -> None:
    root = tmp_path / "src"
    root.mkdir()
    files = _accounts(operator, root, 20, shard=False)
    db = tmp_path / "accounts.db"
    accountd("import", "dir", str(root), "--store", f"sqlite:{db}")
    store = SQLiteStore(db)
    await store.open()
    try:
        assert await store.pending() == []
        name = next(iter(files))
        record = await store.get(name[:-4])  # type: ignore[arg-type]
        assert record.jwt.encode() == files[name]
        assert {"iat", "jti", "exp"} <= record.meta.keys()
    finally:
        await store.close()


def test_a_sharded_export_and_bad_files_skipped_by_name(
    operator: KeyPair, tmp_path: Path, nats_dir: tuple[Path, dict[str, bytes], Path]
) -> None:
    _, _, op_jwt = nats_dir
    src = tmp_path / "src"
    src.mkdir()
    files = _accounts(operator, src, 30, shard=True)
    other = create(Role.OPERATOR)
    stranger = create(Role.ACCOUNT).public_key
    (src / f"{stranger}.jwt").write_text(encode(new_account(stranger, "X"), other))
    garbage = create(Role.ACCOUNT).public_key
    (src / f"{garbage}.jwt").write_text("not a jwt")
    db = tmp_path / "accounts.db"
    doc = accountd("import", "dir", str(src), "--store", f"sqlite:{db}", "--operator", str(op_jwt))
    assert (doc["stored"], doc["skipped"]) == (30, 2)
    reasons = {Path(str(s["path"])).name: s["reason"] for s in doc["skipped_files"]}  # type: ignore[attr-defined]
    assert "not a valid account JWT" in reasons[f"{garbage}.jwt"]
    assert "not by the operator" in reasons[f"{stranger}.jwt"]
    accountd("export", "dir", str(tmp_path / "out"), "--store", f"sqlite:{db}", "--shard")
    assert tree(tmp_path / "out") == files


def test_export_refuses_a_directory_that_is_not_empty(tmp_path: Path) -> None:
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "keep.txt").write_text("mine")
    done = subprocess.run([sys.executable, "-m", "accountd", "export", "dir", str(tmp_path / "out"), "--store",
                           f"sqlite:{tmp_path / 'a.db'}"], capture_output=True, text=True, check=False)
    assert done.returncode == 1 and "not empty" in done.stderr and "Traceback" not in done.stderr
    assert os.listdir(tmp_path / "out") == ["keep.txt"]


async def test_imported_accounts_are_versions_whose_source_is_import(tmp_path: Path) -> None:
    from accountd.service.transfer import import_directory
    from accountd.store import MemoryStore

    operator = create(Role.OPERATOR)
    root = tmp_path / "jwt"
    root.mkdir()
    files = _accounts(operator, root, 3, shard=False)
    store = MemoryStore()
    await store.open()
    result = await import_directory(store, root, workers=1)
    assert result.stored == 3
    for rel, token in files.items():
        pub = rel.removesuffix(".jwt")
        [version] = await store.history(pub)  # type: ignore[arg-type]
        assert (version.jwt, dict(version.origin)) == (token.decode(), {"via": "import"})
        assert (await store.get(pub)).meta["name"].startswith("T")  # type: ignore[arg-type, union-attr]
    await store.close()
