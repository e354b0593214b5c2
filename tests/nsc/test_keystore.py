"""accountd.nsc.keystore: nsc's seed files (SPEC §2.5) and creds paths."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from accountd.claims import Role, create
from accountd.nsc import KeyConflict, KeyStore, LayoutError, Transaction
from accountd.nsc.keystore import GITIGNORE


def test_seed_goes_to_x_yy_pub_nk_without_newline_0600(tmp_path: Path) -> None:
    ks = KeyStore(tmp_path / "keys")
    kp = create(Role.ACCOUNT)
    tx = Transaction()
    path = ks.stage_key(tx, kp)
    tx.commit()
    pub = kp.public_key
    assert path == tmp_path / "keys" / "keys" / pub[0] / pub[1:3] / f"{pub}.nk"
    assert path.read_bytes() == kp.seed.reveal().encode()
    assert len(path.read_bytes()) == 58
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert (tmp_path / "keys" / ".gitignore").read_text() == GITIGNORE
    assert "**/*.nk" in GITIGNORE and "**/*.creds" in GITIGNORE
    assert ks.load(pub) is not None and ks.public_keys() == [pub]


def test_same_seed_again_is_fine_a_different_one_is_refused(tmp_path: Path) -> None:
    ks = KeyStore(tmp_path)
    kp = create(Role.USER)
    tx = Transaction()
    ks.stage_key(tx, kp)
    tx.commit()
    ks.stage_key(Transaction(), kp)
    ks.key_path(kp.public_key).write_text(create(Role.USER).seed.reveal())
    with pytest.raises(KeyConflict, match="already exists and is different"):
        ks.stage_key(Transaction(), kp)


def test_reading_strips_whitespace_and_checks_crc_and_owner(tmp_path: Path) -> None:
    ks = KeyStore(tmp_path)
    kp = create(Role.OPERATOR)
    path = ks.key_path(kp.public_key)
    path.parent.mkdir(parents=True)
    path.write_text(kp.seed.reveal() + "\n")
    loaded = ks.load(kp.public_key)
    assert loaded is not None and loaded.public_key == kp.public_key
    seed = kp.seed.reveal()
    # change a middle character: the last one also carries padding bits a decoder ignores
    path.write_text(seed[:20] + ("A" if seed[20] != "A" else "B") + seed[21:])
    with pytest.raises(LayoutError, match="checksum"):
        ks.load(kp.public_key)
    path.write_text(create(Role.OPERATOR).seed.reveal())
    with pytest.raises(LayoutError, match="seed of another key"):
        ks.load(kp.public_key)


def test_creds_path_is_creds_operator_account_user(tmp_path: Path) -> None:
    assert KeyStore(tmp_path).creds_path("OP", "A", "u") == tmp_path / "creds" / "OP" / "A" / "u.creds"
