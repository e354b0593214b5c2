"""The monitor's live state, fed hand-written events with a fake clock."""

from __future__ import annotations

import json

import pytest

from accountd.monitor.events import decode, decode_account_statz, decode_statsz
from accountd.monitor.state import MonitorState

from .payloads import CLIENT_29, CLIENT_215, N1, N2, SERVER_29, SERVER_215, A, U, connect, conns, disconnect, statsz


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def state(clock: Clock) -> MonitorState:
    return MonitorState(clock=clock, stale_after=30, gone_after=90, forget_after=3600, recent=5)


def feed(state: MonitorState, subject: str, payload: bytes) -> None:
    state.apply(decode(subject, payload))


def account(state: MonitorState, key: str) -> dict[str, object]:
    return next(a for a in state.accounts_view() if a["account"] == key)


def test_conns_sum_over_servers(state: MonitorState) -> None:
    feed(state, f"$SYS.SERVER.ACCOUNT.{A}.CONNS", conns(SERVER_29 | {"name": "n2"}, A, 2))
    feed(state, f"$SYS.SERVER.ACCOUNT.{A}.CONNS", conns(SERVER_215, A, 3, leafnodes=1))
    row = account(state, A)
    assert row["connections"] == 5
    assert row["leafnodes"] == 1
    assert row["servers"] == {"n2": 2, "n1": 4}


def test_conns_of_zero_removes_the_server_entry(state: MonitorState) -> None:
    feed(state, f"$SYS.SERVER.ACCOUNT.{A}.CONNS", conns(SERVER_215, A, 3))
    feed(state, f"$SYS.SERVER.ACCOUNT.{A}.CONNS", conns(SERVER_215, A, 0))
    assert account(state, A)["connections"] == 0
    assert account(state, A)["servers"] == {}


def test_connect_and_disconnect_count_but_do_not_change_connections(state: MonitorState) -> None:
    feed(state, f"$SYS.SERVER.ACCOUNT.{A}.CONNS", conns(SERVER_215, A, 1))
    feed(state, f"$SYS.ACCOUNT.{A}.CONNECT", connect(SERVER_215, CLIENT_215))
    feed(state, f"$SYS.ACCOUNT.{A}.DISCONNECT", disconnect(SERVER_215, CLIENT_215))
    row = account(state, A)
    assert (row["connections"], row["connects"], row["disconnects"]) == (1, 1, 1)
    assert row["disconnect_reasons"] == {"Client Closed": 1}


def test_recent_events_are_newest_first_and_bounded(state: MonitorState) -> None:
    for i in range(7):
        feed(state, f"$SYS.ACCOUNT.{A}.CONNECT", connect(SERVER_29, {**CLIENT_29, "name": f"c{i}"}))
    rows = state.events_view()
    assert [r["client"]["name"] for r in rows] == ["c6", "c5", "c4", "c3", "c2"]
    assert rows[0]["account"] == A and rows[0]["user"] == U and rows[0]["user_name"] == "alice"


def test_events_view_filters_by_account_name_and_kind(clock: Clock) -> None:
    state = MonitorState(clock=clock, account_name={A: "orders"}.get)
    feed(state, f"$SYS.ACCOUNT.{A}.CONNECT", connect(SERVER_29, CLIENT_29))
    feed(state, f"$SYS.ACCOUNT.{A}.DISCONNECT", disconnect(SERVER_29, CLIENT_29))
    assert len(state.events_view(accounts=["orders"])) == 2
    assert len(state.events_view(accounts=[A], kinds=["disconnect"])) == 1
    assert state.events_view(accounts=["other"]) == []


def test_pseudo_accounts_are_not_counted(state: MonitorState) -> None:
    # 2.9.10 counts a client in $G while it authenticates; every version closes it there on failure.
    assert not state.apply(decode("$SYS.SERVER.ACCOUNT.$G.CONNS", conns(SERVER_29, "$G", 1)))
    closed = disconnect(SERVER_29, {**CLIENT_29, "acc": "$G"}, "Authentication Failure")
    assert not state.apply(decode("$SYS.ACCOUNT.$G.DISCONNECT", closed))
    assert state.ignored == 2
    assert state.accounts_view() == []
    assert state.events_view() == []


def test_auth_errors_name_server_client_and_claimed_user(state: MonitorState) -> None:
    client = {**CLIENT_215, "acc": "$G", "name": "intruder", "host": "10.1.2.3"}
    client.pop("user")
    feed(state, f"$SYS.SERVER.{N1}.CLIENT.AUTH.ERR", disconnect(SERVER_215, client, "Authentication Failure"))
    (row,) = state.auth_errors_view()
    assert row["server"] == "n1"
    assert row["client"]["name"] == "intruder" and row["client"]["host"] == "10.1.2.3"
    assert row["user"] == U and row["account"] == A
    assert row["reason"] == "Authentication Failure"
    assert state.totals()["auth_errors"] == 1


def test_server_status_ages_from_up_to_stale_to_gone(state: MonitorState, clock: Clock) -> None:
    feed(state, f"$SYS.SERVER.{N1}.STATSZ", statsz(SERVER_215))
    assert state.servers_view()[0]["status"] == "up"
    clock.now += 31
    assert state.servers_view()[0]["status"] == "stale"
    clock.now += 60
    assert state.servers_view()[0]["status"] == "gone"
    feed(state, f"$SYS.SERVER.{N1}.STATSZ", statsz(SERVER_215))
    assert state.servers_view()[0]["status"] == "up"


def test_shutdown_marks_the_server_gone_and_drops_its_connections(state: MonitorState) -> None:
    feed(state, f"$SYS.SERVER.{N1}.STATSZ", statsz(SERVER_215))
    feed(state, f"$SYS.SERVER.ACCOUNT.{A}.CONNS", conns(SERVER_215, A, 2))
    feed(state, f"$SYS.SERVER.{N1}.SHUTDOWN", json.dumps(SERVER_215).encode())
    assert state.servers_view()[0]["status"] == "gone"
    assert account(state, A)["connections"] == 0


def test_silent_servers_are_forgotten(state: MonitorState, clock: Clock) -> None:
    feed(state, f"$SYS.SERVER.{N1}.STATSZ", statsz(SERVER_215))
    clock.now += 3601
    feed(state, f"$SYS.SERVER.{N2}.STATSZ", statsz(SERVER_29 | {"name": "n2"}))
    assert [s["name"] for s in state.servers_view()] == ["n2"]


def test_a_restarted_server_replaces_its_old_id(state: MonitorState) -> None:
    feed(state, f"$SYS.SERVER.{N1}.STATSZ", statsz(SERVER_215))
    feed(state, f"$SYS.SERVER.{N2}.STATSZ", statsz(SERVER_215 | {"id": N2}))
    assert [s["id"] for s in state.servers_view()] == [N2]


def test_stats_rates_come_from_two_samples(state: MonitorState, clock: Clock) -> None:
    feed(state, f"$SYS.SERVER.{N1}.STATSZ", statsz(SERVER_215, msgs=10))
    assert state.servers_view()[0]["rates"]["in_msgs"] is None
    clock.now += 10
    feed(state, f"$SYS.SERVER.{N1}.STATSZ", statsz(SERVER_215, msgs=110))
    rates = state.servers_view()[0]["rates"]
    assert rates["in_msgs"] == 10.0 and rates["out_bytes"] == 1000.0


def test_account_statz_snapshot_replaces_that_servers_counts(state: MonitorState) -> None:
    other = "ACUFFEPSHQL7DXPRKVQO6S2NIFO4QWFVUG6VQMD3MP2JLLW7CGM3JJES"
    feed(state, f"$SYS.SERVER.ACCOUNT.{other}.CONNS", conns(SERVER_215, other, 4))
    reply = {"server": SERVER_215, "data": {"account_statz": [{"acc": A, "conns": 2, "total_conns": 2}]}}
    state.apply(decode_account_statz("_INBOX.x", json.dumps(reply).encode()))
    assert account(state, A)["connections"] == 2
    assert account(state, other)["connections"] == 0


def test_names_prefer_the_callback_then_what_the_server_reported(clock: Clock) -> None:
    def boom(key: str) -> str | None:
        raise RuntimeError("store down")

    named = MonitorState(clock=clock, account_name={A: "orders"}.get)
    feed(named, f"$SYS.SERVER.ACCOUNT.{A}.CONNS", conns(SERVER_215, A, 1))
    assert account(named, A)["name"] == "orders"
    broken = MonitorState(clock=clock, account_name=boom)
    feed(broken, f"$SYS.SERVER.ACCOUNT.{A}.CONNS", conns(SERVER_215, A, 1))
    assert account(broken, A)["name"] == "A"  # 2.11+ CONNS carry the account's name


def test_totals_summarise_everything(state: MonitorState) -> None:
    feed(state, f"$SYS.SERVER.{N1}.STATSZ", statsz(SERVER_215))
    feed(state, f"$SYS.SERVER.ACCOUNT.{A}.CONNS", conns(SERVER_215, A, 2))
    feed(state, f"$SYS.ACCOUNT.{A}.CONNECT", connect(SERVER_215, CLIENT_215))
    state.note_malformed("connect")
    totals = state.totals()
    assert totals["servers"] == totals["servers_up"] == 1
    assert (totals["accounts"], totals["connections"], totals["connects"], totals["malformed"]) == (1, 2, 1, 1)


def test_an_older_snapshot_does_not_overwrite_newer_counts(state: MonitorState) -> None:
    # The account STATZ reply was sent (seq 5) before the CONNS (seq 17) but is applied after it.
    feed(state, f"$SYS.SERVER.ACCOUNT.{A}.CONNS", conns(SERVER_215, A, 2))
    older = {"server": SERVER_215 | {"seq": 5}, "data": {"account_statz": []}}
    state.apply(decode_account_statz("_INBOX.x", json.dumps(older).encode()))
    assert account(state, A)["connections"] == 2
    newer = {"server": SERVER_215 | {"seq": 30}, "data": {"account_statz": []}}
    state.apply(decode_account_statz("_INBOX.x", json.dumps(newer).encode()))
    assert account(state, A)["connections"] == 0


def test_an_older_stats_sample_is_ignored(state: MonitorState) -> None:
    feed(state, f"$SYS.SERVER.{N1}.STATSZ", statsz(SERVER_215, connections=4))
    state.apply(decode_statsz("_INBOX.x", statsz(SERVER_215 | {"seq": 3}, connections=1)))
    assert state.servers_view()[0]["connections"] == 4


def test_accounts_idle_for_forget_after_are_forgotten_accounts_in_use_stay(state: MonitorState, clock: Clock) -> None:
    busy = "ABUSYAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
    feed(state, f"$SYS.ACCOUNT.{A}.CONNECT", connect(SERVER_215, CLIENT_215))
    feed(state, f"$SYS.SERVER.ACCOUNT.{A}.CONNS", conns(SERVER_215, A, 0))
    feed(state, f"$SYS.SERVER.ACCOUNT.{busy}.CONNS", conns(SERVER_215, busy, 2))
    for _ in range(61):  # an hour of STATSZ from the server, nothing about either account
        clock.now += 60
        feed(state, f"$SYS.SERVER.{N1}.STATSZ", statsz(SERVER_215))
    assert set(state.accounts) == {busy}
    assert account(state, busy)["connections"] == 2
    assert len(state.events_view()) == 1  # the event ring keeps its own bounded history
