"""Decoding ``$SYS`` payloads of nats-server 2.9 and 2.15 into typed events."""

from __future__ import annotations

import json

import pytest

from accountd.monitor.events import (
    AccountConnsEvent,
    AuthErrorEvent,
    ConnectEvent,
    DisconnectEvent,
    LeafnodeConnectEvent,
    MalformedEvent,
    ShutdownEvent,
    StatszEvent,
    decode,
    decode_account_statz,
    decode_statsz,
    kind_of_subject,
)

from .payloads import (
    CLIENT_29,
    CLIENT_215,
    N1,
    N2,
    SERVER_29,
    SERVER_215,
    A,
    U,
    connect,
    conns,
    disconnect,
    statsz,
)


@pytest.mark.parametrize(
    ("subject", "kind", "token"),
    [
        (f"$SYS.ACCOUNT.{A}.CONNECT", "connect", A),
        (f"$SYS.ACCOUNT.{A}.DISCONNECT", "disconnect", A),
        (f"$SYS.SERVER.ACCOUNT.{A}.CONNS", "conns", A),
        (f"$SYS.ACCOUNT.{A}.SERVER.CONNS", "conns", A),
        (f"$SYS.SERVER.{N1}.CLIENT.AUTH.ERR", "auth", N1),
        (f"$SYS.ACCOUNT.{A}.LEAFNODE.CONNECT", "leafnode", A),
        (f"$SYS.SERVER.{N1}.STATSZ", "stats", N1),
        (f"$SYS.SERVER.{N1}.SHUTDOWN", "shutdown", N1),
        (f"$SYS.ACCOUNT.{A}.CLAIMS.UPDATE", "", ""),
        ("foo.bar", "", ""),
    ],
)
def test_kind_of_subject_names_each_event_subject(subject: str, kind: str, token: str) -> None:
    assert kind_of_subject(subject) == (kind, token)


def test_connect_from_29_reads_account_from_client() -> None:
    event = decode(f"$SYS.ACCOUNT.{A}.CONNECT", connect(SERVER_29, CLIENT_29))
    assert isinstance(event, ConnectEvent)
    assert event.account == A
    assert event.client.user == U
    assert event.client.name == "client-u"
    assert event.server.version == "2.9.10"
    assert event.server.cluster == ""
    assert event.time is not None and event.time.microsecond == 732976  # nanoseconds truncated


def test_connect_from_215_without_acc_takes_account_from_subject() -> None:
    event = decode(f"$SYS.ACCOUNT.{A}.CONNECT", connect(SERVER_215, CLIENT_215))
    assert isinstance(event, ConnectEvent)
    assert event.client.account == ""
    assert event.account == A


def test_unknown_fields_are_kept_in_extra() -> None:
    event = decode(f"$SYS.ACCOUNT.{A}.CONNECT", connect(SERVER_215, CLIENT_215))
    assert isinstance(event, ConnectEvent)
    assert event.server.extra == {"feature_flags": {"js_ack_fc_v2": False}, "metadata": {"zone": "a"}, "flags": 0}
    assert event.client.extra == {"reply": "_INBOX.x"}  # the nonce is dropped, it is auth material


def test_user_jwt_never_appears_in_repr_or_dict() -> None:
    event = decode(f"$SYS.ACCOUNT.{A}.CONNECT", connect(SERVER_29, CLIENT_29))
    assert isinstance(event, ConnectEvent)
    assert event.client.jwt
    assert event.client.jwt not in repr(event)
    assert event.client.jwt not in json.dumps(event.to_dict())


def test_claimed_reads_the_presented_jwt_without_verifying() -> None:
    event = decode(f"$SYS.ACCOUNT.{A}.CONNECT", connect(SERVER_29, CLIENT_29))
    assert isinstance(event, ConnectEvent)
    assert event.client.claimed() == {"user": U, "name": "alice", "issuer": A}


@pytest.mark.parametrize("server", [SERVER_29, SERVER_215], ids=["2.9", "2.15"])
def test_disconnect_carries_reason_and_traffic(server: dict[str, object]) -> None:
    client = CLIENT_29 if server is SERVER_29 else CLIENT_215
    event = decode(f"$SYS.ACCOUNT.{A}.DISCONNECT", disconnect(server, client))
    assert isinstance(event, DisconnectEvent)
    assert event.reason == "Client Closed"
    assert event.sent.msgs == 3
    assert event.client.rtt_ns == 2128305
    assert event.client.stop is not None


def test_auth_error_is_its_own_kind() -> None:
    client = {**CLIENT_215, "acc": "$G"}
    client.pop("user")
    event = decode(f"$SYS.SERVER.{N1}.CLIENT.AUTH.ERR", disconnect(SERVER_215, client, "Authentication Failure"))
    assert isinstance(event, AuthErrorEvent)
    assert event.kind == "auth"
    assert event.reason == "Authentication Failure"
    assert event.to_dict()["claimed"]["user"] == U


@pytest.mark.parametrize("server", [SERVER_29, SERVER_215], ids=["2.9", "2.15"])
def test_conns_from_either_version(server: dict[str, object]) -> None:
    event = decode(f"$SYS.SERVER.ACCOUNT.{A}.CONNS", conns(server, A, 2, leafnodes=1))
    assert isinstance(event, AccountConnsEvent)
    assert (event.conns.account, event.conns.conns, event.conns.leafnodes, event.conns.total_conns) == (A, 2, 1, 3)
    if server is SERVER_29:
        assert event.conns.num_subscriptions is None and event.conns.name == ""
    else:
        assert event.conns.num_subscriptions == 4 and event.conns.name == "A"


@pytest.mark.parametrize("server", [SERVER_29, SERVER_215], ids=["2.9", "2.15"])
def test_statsz_from_either_version(server: dict[str, object]) -> None:
    event = decode(f"$SYS.SERVER.{server['id']}.STATSZ", statsz(server, connections=3, msgs=7))
    assert isinstance(event, StatszEvent)
    assert event.stats.connections == 3
    assert event.stats.sent.msgs == 7 and event.stats.received.bytes == 70
    assert event.stats.cpu == 1.5
    if server is SERVER_215:
        assert event.stats.routes == 1
        assert "sent_to_clients" in event.stats.extra and "gomaxprocs" in event.stats.extra
    else:
        assert event.stats.routes == 0 and event.stats.extra == {}


def test_ping_reply_decodes_like_statsz() -> None:
    event = decode_statsz("_INBOX.abc", statsz(SERVER_29))
    assert event.server.id == N2


def test_ping_error_reply_is_malformed() -> None:
    reply = json.dumps({"server": SERVER_215, "error": {"code": 400, "description": "bad filter"}}).encode()
    with pytest.raises(MalformedEvent):
        decode_statsz("_INBOX.abc", reply)


def test_account_statz_reply_lists_accounts() -> None:
    reply = {"server": SERVER_29, "data": {"server_id": N2, "now": "2026-11-24T15:58:03.356137014Z",
             "account_statz": [{"acc": A, "conns": 2, "leafnodes": 0, "total_conns": 2}]}}  # fmt: skip
    event = decode_account_statz("_INBOX.abc", json.dumps(reply).encode())
    assert [(a.account, a.conns) for a in event.accounts] == [(A, 2)]


def test_leafnode_connect_and_shutdown() -> None:
    leaf = decode(f"$SYS.ACCOUNT.{A}.LEAFNODE.CONNECT", json.dumps({"server": SERVER_215, "acc": A}).encode())
    assert isinstance(leaf, LeafnodeConnectEvent) and leaf.account == A
    down = decode(f"$SYS.SERVER.{N1}.SHUTDOWN", json.dumps(SERVER_215).encode())
    assert isinstance(down, ShutdownEvent) and down.server.id == N1


@pytest.mark.parametrize(
    ("subject", "payload"),
    [
        (f"$SYS.ACCOUNT.{A}.CONNECT", b"not json"),
        (f"$SYS.ACCOUNT.{A}.CONNECT", b"\xff\xfe"),
        (f"$SYS.ACCOUNT.{A}.CONNECT", b"[1, 2]"),
        (f"$SYS.ACCOUNT.{A}.CONNECT", b'{"client": {}}'),
        (f"$SYS.ACCOUNT.{A}.CONNECT", json.dumps({"server": SERVER_29}).encode()),
        (f"$SYS.ACCOUNT.{A}.CONNECT", json.dumps({"server": {"name": "no id"}, "client": {}}).encode()),
        (f"$SYS.ACCOUNT.{A}.CONNECT", json.dumps({"server": SERVER_29, "client": {"id": "seven"}}).encode()),
        (f"$SYS.ACCOUNT.{A}.CONNECT", json.dumps({"server": SERVER_29, "client": {"start": "yesterday"}}).encode()),
        (f"$SYS.SERVER.ACCOUNT.{A}.CONNS", json.dumps({"server": SERVER_29, "conns": "2"}).encode()),
        (f"$SYS.SERVER.{N1}.STATSZ", json.dumps({"server": SERVER_29, "statsz": []}).encode()),
        (f"$SYS.SERVER.{N1}.STATSZ", json.dumps({"server": SERVER_29, "statsz": {"sent": 5}}).encode()),
        (f"$SYS.SERVER.{N1}.SHUTDOWN", b"{}"),
        ("$SYS.SOMETHING.ELSE", b"{}"),
    ],
)
def test_malformed_payloads_raise_malformed_event(subject: str, payload: bytes) -> None:
    with pytest.raises(MalformedEvent):
        decode(subject, payload)
