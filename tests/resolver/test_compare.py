"""compare(): each account × server gets a status, from a hand-made survey (no I/O)."""

from __future__ import annotations

from accountd.claims import Role, create
from accountd.resolver import AccountdView, Status, Survey, compare
from accountd.resolver.fleet import Held, ServerRef

FULL, FULL2, URL = "NFULL", "NFULL2", "NURL"


def held(account: str, iat: int, name: str = "A") -> Held:
    return Held(account, name, f"J{iat}", iat)


def survey(accountd: dict[str, Held], **kw: object) -> Survey:
    servers = {FULL: ServerRef(FULL, "full"), FULL2: ServerRef(FULL2, "full2"), URL: ServerRef(URL, "url")}
    s = Survey(servers, AccountdView(accountd, "http"), **kw)  # type: ignore[arg-type]
    s.listed.setdefault(FULL, set())
    s.listed.setdefault(FULL2, set())
    return s


def cells(s: Survey, account: str) -> dict[str, Status]:
    row = next(r for r in compare(s).rows if r.account == account)
    return {sid: c.status for sid, c in row.cells.items()}


def test_loaded_jwts_are_current_stale_or_ahead() -> None:
    a = create(Role.ACCOUNT).public_key
    s = survey({a: held(a, 200)}, held={a: {FULL: held(a, 200), FULL2: held(a, 100), URL: held(a, 300)}})
    assert cells(s, a) == {FULL: Status.CURRENT, FULL2: Status.STALE, URL: Status.AHEAD}


def test_a_full_resolver_without_the_account_is_missing_others_just_did_not_load_it() -> None:
    a = create(Role.ACCOUNT).public_key
    s = survey({a: held(a, 200)}, cache_servers={FULL2})
    assert cells(s, a) == {FULL: Status.MISSING, FULL2: Status.NOT_LOADED, URL: Status.NOT_LOADED}


def test_stored_copies_are_judged_by_lookup_replies() -> None:
    a = create(Role.ACCOUNT).public_key
    current = held(a, 200)
    # one holder, one stale reply (plus accountd's current one): that holder is stale
    s = survey({a: current}, listed={FULL: {a}}, lookups={a: [current, held(a, 100)]})
    assert cells(s, a)[FULL] is Status.STALE
    # two holders, one stale reply: which one cannot be told
    s = survey({a: current}, listed={FULL: {a}, FULL2: {a}}, lookups={a: [current, current, held(a, 100)]})
    assert cells(s, a)[FULL] is Status.UNVERIFIED and cells(s, a)[FULL2] is Status.UNVERIFIED
    # every reply current
    s = survey({a: current}, listed={FULL: {a}, FULL2: {a}}, lookups={a: [current, current, current]})
    assert cells(s, a)[FULL] is Status.CURRENT


def test_accounts_accountd_does_not_hold_are_extra_except_the_system_account() -> None:
    a, sys = create(Role.ACCOUNT).public_key, create(Role.ACCOUNT).public_key
    s = survey({}, listed={FULL: {a, sys}}, held={sys: {URL: held(sys, 1)}}, system_account=sys)
    report = compare(s)
    assert [r.account for r in report.rows] == [a]
    assert cells(s, a) == {FULL: Status.EXTRA, FULL2: Status.NOT_LOADED, URL: Status.NOT_LOADED}
    assert report.kinds == {FULL: "full", FULL2: "full", URL: "url/memory"}


def test_expired_accounts_in_accountd_are_not_compared() -> None:
    a = create(Role.ACCOUNT).public_key
    s = survey({a: Held(a, "A", "J", 100, exp=1)})
    assert compare(s).rows == []


def test_the_report_as_json() -> None:
    a = create(Role.ACCOUNT).public_key
    s = survey({a: held(a, 200)}, held={a: {FULL: held(a, 100)}})
    doc = compare(s).to_dict()
    assert doc["in_step"] is False
    assert doc["accounts"][0]["servers"]["full"] == {"status": "stale", "jti": "J100", "iat": 100,
                                                     "detail": "iat 100, accountd has 200"}
    assert doc["summary"] == {"missing": 1, "not_loaded": 1, "stale": 1}
    assert [x["name"] for x in doc["servers"]] == ["full", "full2", "url"]
