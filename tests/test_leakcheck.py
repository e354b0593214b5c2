"""The seed-leak check itself finds what it looks for, and accountd's error paths give it nothing."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from accountd.claims import Role, create
from leakcheck import LEAKS, check_tree, seeds_in
from serving import Running, StartServer

SEED = create(Role.ACCOUNT).seed.reveal()


def test_a_seed_is_recognised_and_a_public_key_or_jwt_is_not(api: Running) -> None:
    assert seeds_in(f"x {SEED} y")
    assert not seeds_in(create(Role.ACCOUNT).public_key)
    assert not seeds_in(api.world.account("A").jwt)


def test_a_logged_seed_is_caught() -> None:
    before = len(LEAKS.found)
    logging.getLogger("accountd.test").warning("oops %s", SEED)
    try:
        assert len(LEAKS.found) == before + 1
    finally:
        del LEAKS.found[before:]


def test_stray_seeds_and_loose_modes_are_caught(tmp_path: Path) -> None:
    (tmp_path / "serve.log").write_text(f"seed {SEED}\n")
    nk = tmp_path / "home" / "keys" / "keys" / "A" / "AB" / "AB.nk"
    nk.parent.mkdir(parents=True)
    nk.write_text(SEED)
    nk.chmod(0o644)
    problems = check_tree(tmp_path)
    assert any("serve.log" in p for p in problems)
    assert any(p.endswith("mode 0644, not 0600") for p in problems)
    assert any("AB: mode" in p and "not 0700" in p for p in problems)
    (tmp_path / "serve.log").unlink()
    nk.chmod(0o600)
    for d in (tmp_path / "home" / "keys").rglob("*"):
        if d.is_dir():
            d.chmod(0o700)
    (tmp_path / "home" / "keys").chmod(0o700)
    assert check_tree(tmp_path) == []


@pytest.mark.parametrize("body", [SEED, f"eyJ0eXAiOiJKV1QifQ.{SEED}.x", f"SUAM{SEED[4:]}"])
async def test_a_seed_sent_as_a_jwt_is_not_echoed(api: Running, body: str) -> None:
    pub = create(Role.ACCOUNT).public_key
    async with api.http.post(api.account_url(pub), data=body, headers={"Accept": "application/json"}) as r:
        assert r.status == 400
        assert not seeds_in(await r.read())


async def test_a_signing_key_path_is_shown_but_not_its_seed(start_server: StartServer, tmp_path: Path) -> None:
    api = await start_server()
    files = api.world.write(tmp_path / "w")
    api2 = await start_server(signing_key=str(files["signing_key"]))
    async with api2.http.get(api2.url + "/-/config") as r:
        text = await r.text()
    assert str(files["signing_key"]) in text and "contents not shown" in text
    assert not seeds_in(text)
