"""The nsc-style commands write what the official Go library writes (tests/vectors/nsc, `make vectors`).

Each vector is decoded (signature verified) and re-encoded byte for byte; then the same claims are
built with accountd's commands in an nsc home holding the vector seeds and the Go-made JWTs of
``before/`` (what nsc's add operator/account/user leave), and the JWT a command wrote — re-encoded
with the vector's iat, which also recomputes the jti — must equal the Go vector byte for byte.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from accountd.claims import Claims, KeyPair, decode, decode_account, encode, load_seed
from claims.tokens import payload_of

from .helpers import Cli

NSC = Path(__file__).parent.parent / "vectors" / "nsc"
SUMMARY: dict[str, Any] = json.loads((NSC / "summary.json").read_text())
KEYS: dict[str, dict[str, str]] = SUMMARY["keys"]
VECTOR_FILES = [v["file"] for v in SUMMARY["vectors"]]
ACCOUNTS = ("SVC", "TENANT", "MAP", "JST", "JSG")


def pub(name: str) -> str:
    return KEYS[name]["public_key"]


def signer(name: str) -> KeyPair:
    return load_seed(KEYS[name]["seed"])


def vector(file: str) -> str:
    return (NSC / file).read_text()


def entry(file: str) -> dict[str, Any]:
    found: dict[str, Any] = next(v for v in SUMMARY["vectors"] if v["file"] == file)
    return found


def at_vector_iat(token: str, file: str) -> str:
    """``token`` re-signed by its own issuer with the vector's iat (and so the vector's jti)."""
    claims = decode(token)
    name = next(n for n, k in KEYS.items() if k["public_key"] == claims.iss)
    return str(encode(claims, signer(name), now=entry(file)["iat"]))


# --- the vectors themselves ------------------------------------------------------------------------


@pytest.mark.parametrize("file", VECTOR_FILES)
def test_vector_decodes_verified_to_the_claims_its_json_shows(file: str) -> None:
    token = vector(file)
    claims = decode(token)
    assert claims.iss == pub(entry(file)["signed_by"])
    assert claims.to_go() == payload_of(token)


@pytest.mark.parametrize("file", VECTOR_FILES)
def test_vector_reencodes_byte_for_byte(file: str) -> None:
    claims: Claims = decode(vector(file))
    assert str(encode(claims, signer(entry(file)["signed_by"]), now=claims.iat)) == vector(file)


@pytest.mark.parametrize("name", list(KEYS))
def test_vector_seed_gives_the_public_key_of_the_summary(name: str) -> None:
    assert (NSC / f"{name}.nk").read_text() == KEYS[name]["seed"]
    assert signer(name).public_key == pub(name)


# --- the same claims made by the commands -------------------------------------------------------------


def nsc_home(root: Path) -> Path:
    """An nsc data dir as nsc's add operator/add account/add user leave it, with every vector seed."""
    op = root / "stores" / "OP"
    files = {op / ".nsc": '{"managed":false,"name":"OP","kind":"operator","version":"1"}',
             op / "OP.jwt": vector("before/OP.jwt"),
             op / "accounts" / "TENANT" / "users" / "U.jwt": vector("before/U.jwt")}
    for account in ACCOUNTS:
        files[op / "accounts" / account / f"{account}.jwt"] = vector(f"before/{account}.jwt")
    for k in KEYS.values():
        p = k["public_key"]
        files[root / "keys" / "keys" / p[0] / p[1:3] / f"{p}.nk"] = k["seed"]
    for path, text in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        path.chmod(0o600)
    for d in [root, *root.rglob("*")]:
        if d.is_dir():
            d.chmod(0o700)
    return root


@dataclass
class Session:
    """What the commands wrote, step by step (a later command re-signs the same file)."""

    cli: Cli
    written: dict[str, str] = field(default_factory=dict)

    def account_jwt(self, name: str) -> str:
        return (self.cli.opdir / "accounts" / name / f"{name}.jwt").read_text()

    def keep(self, file: str, token: str) -> None:
        self.written[file] = token


@pytest.fixture(scope="module")
def session(tmp_path_factory: pytest.TempPathFactory) -> Session:
    work = tmp_path_factory.mktemp("go-vectors")
    cli = Cli(nsc_home(work / "home"))
    s = Session(cli)

    cli("edit", "account", "--name", "SVC", "--sk", pub("SVC_sk"))
    cli("add", "export", "-a", "SVC", "--service", "--subject", "api.>", "--name", "api", "--response-type",
        "stream", "--response-threshold", "2s", "--advertise", "--description", "the public API",
        "--info-url", "https://example.com/api")
    cli("add", "export", "-a", "SVC", "--service", "--private", "--subject", "admin.>")
    cli("add", "export", "-a", "SVC", "--subject", "feed.>")
    cli("add", "export", "-a", "SVC", "--service", "--subject", "lat.headers", "--latency", "latency.headers")
    cli("add", "export", "-a", "SVC", "--service", "--subject", "lat.half", "--latency", "latency.half",
        "--sampling", "50")
    cli("add", "export", "-a", "SVC", "--subject", "events.*.changes", "--account-token-position", "2")
    s.keep("exports.jwt", s.account_jwt("SVC"))

    doc = cli.json("generate", "activation", "--account", "SVC", "--subject", "admin.>", "--target-account",
                   "TENANT", "--expiry", str(SUMMARY["activation_expiry"]), "-K", pub("SVC_sk"))
    s.keep("activation.jwt", doc["jwt"])
    # The import carries the token as issued at the vector's iat, so it can equal Go's import.
    token_file = work / "admin.jwt"
    token_file.write_text(at_vector_iat(doc["jwt"], "activation.jwt"))

    cli("add", "import", "-a", "TENANT", "--src-account", "SVC", "--remote-subject", "api.>", "--service",
        "--local-subject", "svc.api.>", "--name", "api", "--share")
    cli("add", "import", "-a", "TENANT", "--src-account", "SVC", "--remote-subject", "feed.>")
    cli("add", "import", "-a", "TENANT", "--token", str(token_file))
    s.keep("imports.jwt", s.account_jwt("TENANT"))

    revocations = SUMMARY["revocations"]
    cli("revocations", "add-activation", "-a", "SVC", "--service", "--subject", "admin.>", "--target-account",
        "TENANT", "--at", str(revocations["TENANT"]))
    cli("revocations", "add-activation", "-a", "SVC", "--service", "--subject", "admin.>", "--target-account",
        "*", "--at", str(revocations["*"]))
    s.keep("revocations.jwt", s.account_jwt("SVC"))

    cli("add", "mapping", "-a", "MAP", "--from", "orders.new", "--to", "orders.v1", "--weight", "60")
    cli("add", "mapping", "-a", "MAP", "--from", "orders.new", "--to", "orders.v2", "--weight", "40")
    cli("edit", "account", "--name", "MAP", "--tag", "Team:Orders", "--tag", "prod")
    s.keep("mappings.jwt", s.account_jwt("MAP"))

    cli("edit", "account", "--name", "JST", "--js-tier", "1", "--js-mem-storage", "1M", "--js-disk-storage", "1G",
        "--js-streams", "10", "--js-consumer", "100", "--js-max-ack-pending", "1000", "--js-max-mem-stream", "256K",
        "--js-max-disk-stream", "64M")
    cli("edit", "account", "--name", "JST", "--js-tier", "3", "--js-mem-storage", "0", "--js-disk-storage", "512M",
        "--js-streams", "5", "--js-consumer", "50", "--js-max-ack-pending", "-1", "--js-max-mem-stream", "-1",
        "--js-max-disk-stream", "128M", "--js-max-bytes-required")
    s.keep("js_tiered.jwt", s.account_jwt("JST"))

    cli("edit", "account", "--name", "JSG", "--js-mem-storage", "256M", "--js-disk-storage", "-1",
        "--js-streams", "20", "--js-consumer", "-1", "--js-max-ack-pending", "5000", "--js-max-mem-stream", "64M",
        "--js-max-disk-stream", "1G", "--js-max-bytes-required")
    s.keep("js_global.jwt", s.account_jwt("JSG"))

    cli("edit", "user", "--name", "U", "--account", "TENANT", "--bearer", "--conn-type", "STANDARD,WEBSOCKET",
        "--source-network", "192.168.1.0/24,10.0.0.0/8", "--time", "08:00:00-17:00:00",
        "--time", "20:00:00-22:30:00", "--locale", "Europe/Berlin", "--allow-pub-response", "5",
        "--response-ttl", "2s", "--subs", "100", "--data", "1M", "--payload", "64K")
    s.keep("user.jwt", (cli.opdir / "accounts" / "TENANT" / "users" / "U.jwt").read_text())
    return s


# Where accountd writes a list in another order than nsc does (nsc sorts it after adding; see
# tests/vectors/README.md): the vector, the field, what accountd writes.
COMMAND_VECTORS = ["exports.jwt", "activation.jwt", "imports.jwt", "revocations.jwt", "mappings.jwt",
                   "js_tiered.jwt", "js_global.jwt", "user.jwt"]


def test_every_command_vector_is_built_by_the_session() -> None:
    assert sorted(COMMAND_VECTORS) == sorted(f for f in VECTOR_FILES if not f.startswith("before/"))


@pytest.mark.parametrize("file", COMMAND_VECTORS)
def test_commands_write_the_go_claims(session: Session, file: str) -> None:
    """What the command wrote decodes to the claims of Go's vector (all but iat and jti)."""
    mine = payload_of(session.written[file])
    go = payload_of(vector(file))
    assert mine["iat"] != go["iat"]  # the commands stamp the clock, as Go's Encode does
    for payload in (mine, go):
        del payload["iat"], payload["jti"]
    assert mine == go


@pytest.mark.parametrize("file", COMMAND_VECTORS)
def test_commands_write_the_go_vector_byte_for_byte_at_its_iat(session: Session, file: str) -> None:
    assert at_vector_iat(session.written[file], file) == vector(file)


# --- where accountd and jwt 2.3.0 differ ---------------------------------------------------------------


def test_add_account_writes_authorization_which_jwt_2_3_0_does_not_have(tmp_path: Path) -> None:
    """accountd's new account is Go's NewAccountClaims plus ``"authorization": {}``: the field jwt/v2
    2.4+ has (and, an empty struct, always writes), which 2.3.0 — the vectors' library — lacks."""
    cli = Cli(nsc_home(tmp_path / "home"))
    cli("add", "account", "--name", "NEW")
    mine = payload_of((cli.opdir / "accounts" / "NEW" / "NEW.jwt").read_text())
    go = payload_of(vector("before/SVC.jwt"))
    assert mine["nats"].pop("authorization") == {}
    assert mine["nats"] == go["nats"]
    assert decode_account(vector("before/SVC.jwt")).nats.authorization is None


def test_add_user_writes_gos_new_user_claims(tmp_path: Path) -> None:
    cli = Cli(nsc_home(tmp_path / "home"))
    cli("add", "user", "--name", "V", "--account", "TENANT")
    mine = payload_of((cli.opdir / "accounts" / "TENANT" / "users" / "V.jwt").read_text())
    assert mine["nats"] == payload_of(vector("before/U.jwt"))["nats"]
    assert mine["iss"] == pub("TENANT")
