"""accountd add operator|account|user."""

from __future__ import annotations

from accountd.claims import decode_account, decode_operator, decode_user, parse_creds

from .helpers import Cli


def test_add_operator_with_sys_creates_system_account_and_user(cli: Cli) -> None:
    doc = cli.json("add", "operator", "--name", "OP", "--sys", "-u", "http://127.0.0.1:9090/jwt/v1")
    kinds = [(c["kind"], c["name"]) for c in doc["created"]]
    assert kinds == [("operator", "OP"), ("account", "SYS"), ("user", "sys")]
    op = decode_operator((cli.opdir / "OP.jwt").read_text())
    assert op.nats.account_server_url == "http://127.0.0.1:9090/jwt/v1"
    assert op.nats.system_account == doc["created"][1]["public_key"]
    sys_creds = parse_creds(cli.home / "keys" / "creds" / "OP" / "SYS" / "sys.creds")
    assert decode_user(sys_creds.jwt).iss == op.nats.system_account


def test_add_account_is_signed_by_the_operator_with_unlimited_defaults(cli: Cli) -> None:
    cli("add", "operator", "--name", "OP")
    cli("add", "account", "--name", "A", "--conn", "10", "--js-mem-storage", "1M")
    a = decode_account((cli.opdir / "accounts" / "A" / "A.jwt").read_text())
    op = decode_operator((cli.opdir / "OP.jwt").read_text())
    assert a.iss == op.sub
    assert (a.nats.limits.conn, a.nats.limits.subs, a.nats.limits.mem_storage) == (10, -1, 1 << 20)


def test_add_user_writes_jwt_seed_and_creds_with_permissions(cli: Cli) -> None:
    cli("add", "operator", "--name", "OP")
    cli("add", "account", "--name", "A")
    doc = cli.json("add", "user", "--name", "u", "--allow-pub", "a.>,b", "--deny-sub", "secret.>", "--expiry", "30d")
    made = doc["created"][0]
    u = decode_user((cli.opdir / "accounts" / "A" / "users" / "u.jwt").read_text())
    assert u.nats.pub.allow == ["a.>", "b"] and u.nats.sub.deny == ["secret.>"] and u.exp > u.iat
    creds = parse_creds(cli.home / "keys" / "creds" / "OP" / "A" / "u.creds")
    assert creds.jwt == (cli.opdir / "accounts" / "A" / "users" / "u.jwt").read_text()
    assert creds.key_pair().public_key == made["public_key"] == u.sub
    assert made["creds_path"].endswith("creds/OP/A/u.creds")


def test_add_user_with_a_signing_key_sets_issuer_account(cli: Cli) -> None:
    cli("add", "operator", "--name", "OP")
    cli("add", "account", "--name", "A")
    sk = cli.json("edit", "account", "--name", "A", "--sk", "generate")["changes"][0].split("=")[1]
    cli("add", "user", "--name", "u", "--signing-key", sk)
    a = decode_account((cli.opdir / "accounts" / "A" / "A.jwt").read_text())
    u = decode_user((cli.opdir / "accounts" / "A" / "users" / "u.jwt").read_text())
    assert (u.iss, u.nats.issuer_account) == (sk, a.sub)


def test_add_user_signed_by_a_scoped_key_carries_no_permissions(cli: Cli) -> None:
    cli("add", "operator", "--name", "OP")
    cli("add", "account", "--name", "A")
    sk = cli.json("edit", "account", "--name", "A", "--sk", "generate")["changes"][0].split("=")[1]
    cli("edit", "signing-key", "--account", "A", "--sk", sk, "--role", "svc", "--allow-pub", "svc.>")
    result = cli("add", "user", "--name", "bad", "--signing-key", sk, "--allow-pub", "x", code=1)
    assert "scoped signing key" in result.stderr
    cli("add", "user", "--name", "u", "--signing-key", sk)
    u = decode_user((cli.opdir / "accounts" / "A" / "users" / "u.jwt").read_text())
    assert not u.nats.has_permissions_or_limits() and u.nats.issuer_account
