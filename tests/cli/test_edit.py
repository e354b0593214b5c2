"""accountd edit operator|account|user|signing-key and revocations."""

from __future__ import annotations

from accountd.claims import decode_account, decode_operator, decode_user, is_revoked, parse_creds

from .helpers import Cli


def account(cli: Cli, name: str = "A"):  # type: ignore[no-untyped-def]
    return decode_account((cli.opdir / "accounts" / name / f"{name}.jwt").read_text())


def test_edit_account_limits_resigns_with_a_newer_iat(world: Cli) -> None:
    before = account(world)
    doc = world.json("edit", "account", "--name", "A", "--conn", "1", "--subs", "-1", "--payload", "1K",
                     "--js-disk-storage", "1G", "--js-streams", "3", "--tag", "Blue")
    after = account(world)
    assert after.iat > before.iat and after.jti != before.jti
    lim = after.nats.limits
    assert (lim.conn, lim.subs, lim.payload, lim.disk_storage, lim.streams) == (1, -1, 1024, 1 << 30, 3)
    assert after.nats.tags == ["blue"]
    assert "conn=1" in doc["changes"]


def test_edit_without_changes_is_a_usage_error(world: Cli) -> None:
    assert "nothing to change" in world("edit", "account", "--name", "A", code=2).stderr


def test_edit_user_rewrites_jwt_and_creds(world: Cli) -> None:
    world("edit", "user", "--name", "u", "--account", "A", "--allow-sub", "in.>", "--bearer",
          "--source-network", "10.0.0.0/8", "--time", "08:00:00-17:00:00")
    u = decode_user((world.opdir / "accounts" / "A" / "users" / "u.jwt").read_text())
    assert u.nats.sub.allow == ["in.>"] and u.nats.bearer_token and u.nats.src == ["10.0.0.0/8"]
    assert parse_creds(world.home / "keys" / "creds" / "OP" / "A" / "u.creds").jwt == \
        (world.opdir / "accounts" / "A" / "users" / "u.jwt").read_text()
    world("edit", "user", "--name", "u", "--account", "A", "--rm", "in.>", "--no-bearer")
    u = decode_user((world.opdir / "accounts" / "A" / "users" / "u.jwt").read_text())
    assert u.nats.sub.allow == [] and not u.nats.bearer_token


def test_edit_operator_strict_signing_keys_resigns_accounts(world: Cli) -> None:
    world("edit", "operator", "--sk", "generate")
    op = decode_operator((world.opdir / "OP.jwt").read_text())
    sk = op.nats.signing_keys[0]
    doc = world.json("edit", "operator", "--require-signing-keys", "--resign")
    assert sorted(r["name"] for r in doc["resigned"]) == ["A", "SYS"]
    assert account(world).iss == sk and account(world, "SYS").iss == sk
    world("add", "account", "--name", "B")
    assert account(world, "B").iss == sk


def test_edit_operator_urls_and_system_account(world: Cli) -> None:
    world("edit", "operator", "-u", "http://10.1.1.1:9090/jwt/v1", "--service-url", "nats://10.1.1.1:4222",
          "--system-account", "A")
    op = decode_operator((world.opdir / "OP.jwt").read_text())
    assert op.nats.account_server_url == "http://10.1.1.1:9090/jwt/v1"
    assert op.nats.operator_service_urls == ["nats://10.1.1.1:4222"]
    assert op.nats.system_account == account(world).sub
    world("edit", "operator", "--rm-account-server-url")
    assert decode_operator((world.opdir / "OP.jwt").read_text()).nats.account_server_url == ""


def test_edit_signing_key_scopes_a_key_with_a_template(world: Cli) -> None:
    sk = world.json("edit", "account", "--name", "A", "--sk", "generate")["changes"][0].split("=")[1]
    world("edit", "signing-key", "--account", "A", "--sk", sk, "--role", "svc",
          "--allow-pub", "svc.{{name()}}.>", "--allow-sub", "_INBOX.>", "--subs", "10")
    scoped = account(world).nats.scoped_key(sk)
    assert scoped is not None and scoped.role == "svc"
    assert scoped.template.pub.allow == ["svc.{{name()}}.>"] and scoped.template.subs == 10
    world("edit", "signing-key", "--account", "A", "--sk", sk, "--unscope")
    assert account(world).nats.scoped_key(sk) is None and sk in account(world).nats.signing_key_ids()


def test_removing_a_signing_key_resigns_its_users(world: Cli) -> None:
    sk = world.json("edit", "account", "--name", "A", "--sk", "generate")["changes"][0].split("=")[1]
    world("add", "user", "--name", "v", "--account", "A", "--signing-key", sk)
    doc = world.json("edit", "account", "--name", "A", "--rm-sk", sk, "--resign")
    assert doc["resigned"] == [{"kind": "user", "name": "v"}]
    v = decode_user((world.opdir / "accounts" / "A" / "users" / "v.jwt").read_text())
    assert v.iss == account(world).sub and v.nats.issuer_account == ""


def test_revocations_add_list_delete(world: Cli) -> None:
    u = decode_user((world.opdir / "accounts" / "A" / "users" / "u.jwt").read_text())
    doc = world.json("revocations", "add-user", "--account", "A", "--name", "u")
    assert doc["public_key"] == u.sub and is_revoked(account(world), u.sub, u.iat)
    listed = world.json("revocations", "list-users", "--account", "A")["revocations"]
    assert [(r["user"], r["public_key"]) for r in listed] == [("u", u.sub)]
    world("revocations", "add-user", "--account", "A", "--user-public-key", "*")
    world("revocations", "delete-user", "--account", "A", "--name", "u")
    world("revocations", "delete-user", "--account", "A", "--user-public-key", "*")
    assert account(world).nats.revocations == {}
    assert "is not revoked" in world("revocations", "delete-user", "--account", "A", "--name", "u", code=1).stderr
