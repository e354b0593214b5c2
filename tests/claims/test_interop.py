"""A real nats-server accepts what accountd makes: operator, accounts, users, creds files.

One server per module, in operator mode with ``resolver: MEMORY``; every key and JWT below is
made by accountd (fresh keys, :func:`accountd.claims.encode`, :func:`format_creds`), nothing by Go.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import nats
import pytest
from nats.aio.client import Client

from accountd.claims import (
    KeyPair,
    Role,
    create,
    encode,
    format_creds,
    new_account,
    new_operator,
    new_user,
)
from accountd.natsclient import flushed
from accountd.natsserver import NatsServer
from accountd.types import UserKey
from harness import operator_mode_config


@dataclass
class Deployment:
    """The module's server and a creds file per user made for it."""

    server: NatsServer
    creds: dict[str, Path] = field(default_factory=dict)


def _user_creds(path: Path, signer: KeyPair, issuer_account: str = "", iat: int | None = None) -> UserKey:
    """Make a user signed by ``signer`` and write its creds (Go's bytes) to ``path``."""
    user = create(Role.USER)
    token = encode(new_user(user.public_key, path.stem, issuer_account=issuer_account), signer, now=iat)
    path.write_text(format_creds(token, user.seed))
    return user.user_key


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory, nats_server_binary: str) -> Iterator[Deployment]:
    work = tmp_path_factory.mktemp("interop")
    creds = {name: work / f"{name}.creds" for name in ["sys", "alice", "revoked", "bob", "carol", "dave"]}
    preload: dict[str, str] = {}

    # The operator has a signing key (not strict), so both signing paths can be shown on one server.
    operator, operator_sk, system = create(Role.OPERATOR), create(Role.OPERATOR), create(Role.ACCOUNT)
    op = new_operator(operator.public_key, "accountd-op")
    op.nats.signing_keys = [operator_sk.public_key]
    op.nats.system_account = system.public_key
    (work / "operator.jwt").write_text(encode(op, operator))

    # SYS and A: signed by the operator's identity key; their users by the accounts themselves.
    preload[system.public_key] = encode(new_account(system.public_key, "SYS"), operator)
    _user_creds(creds["sys"], system)

    a = create(Role.ACCOUNT)
    a_claims = new_account(a.public_key, "A")
    _user_creds(creds["alice"], a)
    issued = int(time.time()) - 60
    revoked = _user_creds(creds["revoked"], a, iat=issued)
    a_claims.nats.revocations = {revoked: issued}  # revoked in the very second it was issued (>=)
    preload[a.public_key] = encode(a_claims, operator)

    # B: signed by the operator's signing key; its user by B's signing key, with issuer_account.
    b, b_sk = create(Role.ACCOUNT), create(Role.ACCOUNT)
    b_claims = new_account(b.public_key, "B")
    b_claims.nats.signing_keys = [b_sk.public_key]
    preload[b.public_key] = encode(b_claims, operator_sk)
    _user_creds(creds["bob"], b_sk, issuer_account=b.public_key)

    # C: limits.conn = 0, so nobody may connect.
    c = create(Role.ACCOUNT)
    c_claims = new_account(c.public_key, "C")
    c_claims.nats.limits.conn = 0
    preload[c.public_key] = encode(c_claims, operator)
    _user_creds(creds["carol"], c)

    # D: never preloaded, so a MEMORY resolver cannot find it.
    _user_creds(creds["dave"], create(Role.ACCOUNT))

    # debug: the log then says why a connection was refused ("User authentication revoked").
    config = operator_mode_config(work / "operator.jwt", system.public_key, "MEMORY", preload, extra="debug: true\n")
    server = NatsServer(workdir=work / "server", config=config, name="interop", binary=nats_server_binary)
    server.start()
    try:
        yield Deployment(server, creds)
    finally:
        server.stop()


async def _connect(deployment: Deployment, user: str) -> Client:
    return await nats.connect(
        deployment.server.url,
        user_credentials=str(deployment.creds[user]),
        allow_reconnect=False,
        max_reconnect_attempts=0,
        connect_timeout=5,
    )


async def _round_trip(nc: Client, subject: str) -> bytes:
    sub = await nc.subscribe(subject)
    await nc.publish(subject, b"ping " + subject.encode())
    msg = await sub.next_msg(timeout=5)
    await sub.unsubscribe()
    return bytes(msg.data)


async def _refusal(deployment: Deployment, user: str) -> str:
    """Connect as ``user``, expecting the server to refuse; returns what the client saw."""
    errors: list[Exception] = []

    async def on_error(exc: Exception) -> None:
        errors.append(exc)

    with pytest.raises(Exception) as exc:
        nc = await nats.connect(
            deployment.server.url,
            user_credentials=str(deployment.creds[user]),
            allow_reconnect=False,
            max_reconnect_attempts=0,
            connect_timeout=5,
            error_cb=on_error,
        )
        await nc.close()
    return " ".join(str(e) for e in [exc.value, *errors]).lower()


async def test_server_accepts_accountd_operator_account_and_user(deployment: Deployment) -> None:
    nc = await _connect(deployment, "alice")
    try:
        assert await _round_trip(nc, "greet.alice") == b"ping greet.alice"
    finally:
        await nc.close()


async def test_server_accepts_the_system_account_user(deployment: Deployment) -> None:
    nc = await _connect(deployment, "sys")
    try:
        assert await _round_trip(nc, "sys.ping") == b"ping sys.ping"
    finally:
        await nc.close()


async def test_server_accepts_signing_key_account_and_issuer_account_user(deployment: Deployment) -> None:
    nc = await _connect(deployment, "bob")
    try:
        assert await _round_trip(nc, "greet.bob") == b"ping greet.bob"
    finally:
        await nc.close()


async def test_accounts_are_isolated(deployment: Deployment) -> None:
    alice, bob = await _connect(deployment, "alice"), await _connect(deployment, "bob")
    try:
        sub = await bob.subscribe("shared")
        await flushed(bob)
        await alice.publish("shared", b"from A")
        await flushed(alice)
        with pytest.raises(nats.errors.TimeoutError):
            await sub.next_msg(timeout=0.3)
    finally:
        await alice.close()
        await bob.close()


async def test_server_refuses_a_user_whose_account_has_conn_zero(deployment: Deployment) -> None:
    seen = await _refusal(deployment, "carol")
    assert "maximum account active connections exceeded" in seen


async def test_server_refuses_a_user_revoked_in_the_second_it_was_issued(deployment: Deployment) -> None:
    seen = await _refusal(deployment, "revoked")
    assert "authorization violation" in seen
    assert "User authentication revoked" in deployment.server.read_log()


async def test_server_refuses_a_user_of_an_account_it_does_not_know(deployment: Deployment) -> None:
    seen = await _refusal(deployment, "dave")
    assert "authorization violation" in seen
    assert "Account fetch failed: account missing" in deployment.server.read_log()


async def test_server_trusts_the_accountd_operator(deployment: Deployment) -> None:
    log = deployment.server.read_log()
    assert 'Operator: "accountd-op"' in log
