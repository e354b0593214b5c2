"""The home is nsc's layout (SPEC §8.3): what accountd writes, nsc reads, and the other way round."""

from __future__ import annotations

import json
import shutil
import stat
from pathlib import Path

from accountd.claims import decode_account, decode_operator, decode_user, parse_creds
from cli.helpers import Cli, make_world

VECTORS = Path(__file__).parent.parent / "vectors" / "basic"


def mode(p: Path) -> int:
    return stat.S_IMODE(p.stat().st_mode)


def nsc_tree(root: Path, vector_set: str = "basic") -> Path:
    """An nsc data directory built by hand from a set of Go-made vectors (every seed of its
    summary in the keystore), laid out as nsc lays it out."""
    vectors = VECTORS.parent / vector_set
    summary = json.loads((vectors / "summary.json").read_text())
    op = root / "stores" / "OP"
    files = {
        op / ".nsc": '{"managed":false,"name":"OP","kind":"operator","version":"1"}',
        op / "OP.jwt": (vectors / "operator.jwt").read_text().strip(),
        op / "accounts" / "SYS" / "SYS.jwt": (vectors / "SYS.jwt").read_text().strip(),
        op / "accounts" / "SYS" / "users" / "sys.jwt": (vectors / "sys.jwt").read_text().strip(),
        op / "accounts" / "A" / "A.jwt": (vectors / "A.jwt").read_text().strip(),
        op / "accounts" / "A" / "users" / "U.jwt": (vectors / "U.jwt").read_text().strip(),
        root / "keys" / "creds" / "OP" / "A" / "U.creds": (vectors / "U.creds").read_text(),
    }
    for entry in summary.values():
        if isinstance(entry, dict) and "seed" in entry:
            pub = entry["public_key"]
            files[root / "keys" / "keys" / pub[0] / pub[1:3] / f"{pub}.nk"] = entry["seed"]
    for path, text in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        path.chmod(0o600)  # as nsc keeps its keystore
    for d in [root / "keys", *(root / "keys").rglob("*")]:
        if d.is_dir():
            d.chmod(0o700)
    return root


def test_what_accountd_writes_is_nsc_layout(tmp_path: Path) -> None:
    cli = make_world(Cli(tmp_path / "home"))
    home, op = cli.home, cli.home / "stores" / "OP"
    assert (op / ".nsc").read_text() == '{"managed":false,"name":"OP","kind":"operator","version":"1"}'
    op_jwt = (op / "OP.jwt").read_text()
    assert not op_jwt.endswith("\n")
    claims = decode_operator(op_jwt)
    account = decode_account((op / "accounts" / "A" / "A.jwt").read_text())
    user = decode_user((op / "accounts" / "A" / "users" / "u.jwt").read_text())
    sys_account = decode_account((op / "accounts" / "SYS" / "SYS.jwt").read_text())
    assert claims.nats.system_account == sys_account.sub
    assert (op / "accounts" / "SYS" / "users" / "sys.jwt").is_file()
    for pub in (claims.sub, account.sub, user.sub, sys_account.sub):
        nk = home / "keys" / "keys" / pub[0] / pub[1:3] / f"{pub}.nk"
        seed = nk.read_bytes()
        assert len(seed) == 58 and seed.startswith(b"S" + pub[0].encode()) and not seed.endswith(b"\n")
        assert mode(nk) == 0o600
    creds = home / "keys" / "creds" / "OP" / "A" / "u.creds"
    assert parse_creds(creds).jwt == (op / "accounts" / "A" / "users" / "u.jwt").read_text()
    assert "**/*.nk" in (home / "keys" / ".gitignore").read_text()
    for path in home.rglob("*"):
        if path.name == ".lock":
            continue
        assert mode(path) == (0o700 if path.is_dir() else 0o600), path


def test_commands_read_and_extend_an_nsc_tree(tmp_path: Path) -> None:
    cli = Cli(nsc_tree(tmp_path / "nsc"))
    accounts = cli.json("list", "accounts")["accounts"]
    assert [(a["name"], a["system"]) for a in accounts] == [("A", False), ("SYS", True)]
    assert cli.json("describe", "user", "--name", "U", "--account", "A")["name"] == "U"
    # generate creds gives back exactly the bytes nsc (Go's FormatUserConfig) wrote
    creds = cli("generate", "creds", "--account", "A", "--name", "U").stdout
    assert creds == (VECTORS / "U.creds").read_text()
    cli("add", "user", "--name", "v", "--account", "A")
    cli("edit", "account", "--name", "A", "--conn", "7")
    edited = decode_account((cli.home / "stores" / "OP" / "accounts" / "A" / "A.jwt").read_text())
    assert edited.nats.limits.conn == 7 and edited.iss == decode_operator((VECTORS / "operator.jwt").read_text()).sub
    keys = {k["name"]: k["stored"] for k in cli.json("list", "keys")["keys"]}
    assert keys == {"OP": True, "A": True, "U": True, "v": True, "SYS": True, "sys": True}


def test_import_nsc_copies_a_data_directory(tmp_path: Path) -> None:
    src = nsc_tree(tmp_path / "nsc")
    cli = Cli(tmp_path / "home")
    doc = cli.json("import", "nsc", str(src))
    assert doc["operators"] == ["OP"]
    assert (doc["accounts"], doc["users"], doc["keys"], doc["creds"]) == (2, 2, 5, 1)
    assert doc["skipped"] == []
    for path in src.rglob("*"):
        if path.is_file():
            assert (cli.home / path.relative_to(src)).read_bytes().strip() == path.read_bytes().strip()
    assert cli.json("describe", "account", "--name", "A")["sub"].startswith("A")
    again = cli.json("import", "nsc", str(src))
    assert again["unchanged"] == 12 and again["keys"] == 0  # .nsc, 5 JWTs, 5 seeds, 1 creds


def test_import_refuses_conflicts_unless_overwrite_and_skips_broken_files(tmp_path: Path) -> None:
    src = nsc_tree(tmp_path / "nsc")
    cli = Cli(tmp_path / "home")
    cli("import", "nsc", str(src))
    a_jwt = src / "stores" / "OP" / "accounts" / "A" / "A.jwt"
    a_jwt.write_text((VECTORS / "SYS.jwt").read_text())  # valid JWT, different content
    (src / "stores" / "OP" / "accounts" / "A" / "users" / "broken.jwt").write_text("")
    before = (cli.home / "stores" / "OP" / "accounts" / "A" / "A.jwt").read_bytes()
    result = cli("import", "nsc", str(src), code=1)
    assert "already exist" in result.stderr and "--overwrite" in result.stderr
    assert (cli.home / "stores" / "OP" / "accounts" / "A" / "A.jwt").read_bytes() == before
    doc = cli.json("import", "nsc", str(src), "--overwrite")
    assert [s["path"].endswith("broken.jwt") for s in doc["skipped"]] == [True]
    assert (cli.home / "stores" / "OP" / "accounts" / "A" / "A.jwt").read_text() == a_jwt.read_text()


def test_import_takes_a_separate_keystore_and_legacy_creds(tmp_path: Path) -> None:
    src = nsc_tree(tmp_path / "nsc")
    keystore = tmp_path / "nkeys"
    shutil.move(src / "keys", keystore)
    legacy = keystore / "OP" / "accounts" / "A" / "users"
    legacy.mkdir(parents=True)
    shutil.move(keystore / "creds" / "OP" / "A" / "U.creds", legacy / "U.creds")
    cli = Cli(tmp_path / "home")
    doc = cli.json("import", "nsc", str(src / "stores"), "--keystore", str(keystore))
    assert (doc["keys"], doc["creds"]) == (5, 1)
    assert (cli.home / "keys" / "creds" / "OP" / "A" / "U.creds").read_text() == (VECTORS / "U.creds").read_text()


def test_import_of_something_else_says_what_it_expects(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    result = Cli(tmp_path / "home")("import", "nsc", str(tmp_path / "empty"), code=1)
    assert "not an nsc directory" in result.stderr
    assert not (tmp_path / "home").exists()
