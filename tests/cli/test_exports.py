"""accountd add|edit|delete export and describe account's exports (the server side: test_imports_nats.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from accountd.claims import AccountClaims, decode, decode_account, encode, load_seed
from accountd.cli import main

from .helpers import Cli, snapshot


def account(cli: Cli, name: str) -> AccountClaims:
    return decode_account((cli.opdir / "accounts" / name / f"{name}.jwt").read_text())


def assert_round_trips(cli: Cli, path: Path) -> None:
    """The JWT decodes with our verifier and re-encodes byte for byte (same claims, signer and iat)."""
    token = path.read_text()
    claims = decode(token)
    seed = (cli.home / "keys" / "keys" / claims.iss[0] / claims.iss[1:3] / f"{claims.iss}.nk").read_text()
    assert str(encode(claims, load_seed(seed), now=claims.iat)) == token


@pytest.fixture
def svc(world: Cli) -> Cli:
    world("add", "account", "--name", "SVC")
    return world


def test_add_service_export_writes_go_shaped_export_and_round_trips(svc: Cli) -> None:
    doc = svc.json("add", "export", "-a", "SVC", "--service", "--subject", "api.>", "--latency", "lat.api",
                   "--sampling", "25", "--response-threshold", "1500ms", "--description", "the API",
                   "--info-url", "https://example.com/api")
    assert doc["export"] == {"name": "api.>", "subject": "api.>", "type": "service", "response_type": "Singleton",
                             "response_threshold": 1_500_000_000,
                             "service_latency": {"sampling": 25, "results": "lat.api"},
                             "description": "the API", "info_url": "https://example.com/api"}
    assert [e.to_go() for e in account(svc, "SVC").nats.exports] == [doc["export"]]
    assert_round_trips(svc, svc.opdir / "accounts" / "SVC" / "SVC.jwt")


def test_private_stream_export_with_defaults(svc: Cli) -> None:
    svc("add", "export", "-a", "SVC", "--subject", "feed.>", "--private", "--name", "Feed")
    (e,) = account(svc, "SVC").nats.exports
    assert e.to_go() == {"name": "Feed", "subject": "feed.>", "type": "stream", "token_req": True}


def test_latency_without_sampling_samples_headers_as_nsc_does(svc: Cli) -> None:
    svc("add", "export", "-a", "SVC", "--service", "-s", "q", "--latency", "lat.q")
    (e,) = account(svc, "SVC").nats.exports
    assert e.to_go()["service_latency"] == {"sampling": "headers", "results": "lat.q"}


def test_exports_are_written_sorted_by_subject(svc: Cli) -> None:
    for subject in ("zz", "aa", "mm"):
        svc("add", "export", "-a", "SVC", "-s", subject)
    assert [e.subject for e in account(svc, "SVC").nats.exports] == ["aa", "mm", "zz"]
    assert_round_trips(svc, svc.opdir / "accounts" / "SVC" / "SVC.jwt")


def test_account_token_position_must_point_at_a_star(svc: Cli) -> None:
    svc("add", "export", "-a", "SVC", "-s", "t.*.x", "--account-token-position", "2")
    assert account(svc, "SVC").nats.exports[0].account_token_position == 2
    before = snapshot(svc.home)
    err = svc("add", "export", "-a", "SVC", "-s", "u.*.x", "--account-token-position", "3", code=1).stderr
    assert "account token position 3 is not a '*'" in err and snapshot(svc.home) == before


@pytest.mark.parametrize(("args", "message"), [
    (("-s", "a.b", "--response-type", "stream"), "--response-type is only valid for service exports"),
    (("-s", "a.b", "--latency", "lat"), "--latency is only valid for service exports"),
    (("-s", "a.b", "--service", "--sampling", "5"), "--sampling needs a latency subject"),
    (("-s", "a.b", "--service", "--response-type", "many"), "'many' is not one of singleton, stream, chunked"),
    (("-s", "a.*", "--private", "--account-token-position", "2"), "only valid for public exports"),
    (("-s", "a.b", "--service", "--latency", "l", "--sampling", "101"), "not a percentage 1..100"),
])
def test_option_misuse_is_a_usage_error_and_writes_nothing(svc: Cli, args: tuple[str, ...], message: str) -> None:
    before = snapshot(svc.home)
    assert message in svc("add", "export", "-a", "SVC", *args, code=2).stderr
    assert snapshot(svc.home) == before


def test_an_export_inside_another_of_its_kind_is_refused(svc: Cli) -> None:
    svc("add", "export", "-a", "SVC", "--service", "-s", "api.>")
    before = snapshot(svc.home)
    doc = svc.json("add", "export", "-a", "SVC", "--service", "-s", "api.v1", code=1)
    assert doc["error"]["message"] == ("the account would be invalid: service export subject 'api.>' "
                                       "already exports 'api.v1'")
    assert svc("add", "export", "-a", "SVC", "--service", "-s", "api.>", code=1) and snapshot(svc.home) == before
    svc("add", "export", "-a", "SVC", "-s", "api.v1")  # a stream of that subject is another kind


def test_edit_export_changes_the_one_selected_and_keeps_the_rest(svc: Cli) -> None:
    svc("add", "export", "-a", "SVC", "--service", "-s", "api", "--latency", "lat", "--sampling", "50")
    svc("add", "export", "-a", "SVC", "-s", "api")
    before = account(svc, "SVC")
    assert "exports 'api' both as a stream and as a service" in svc(
        "edit", "export", "-a", "SVC", "-s", "api", "--name", "x", code=1).stderr
    doc = svc.json("edit", "export", "-a", "SVC", "-s", "api", "--service", "--name", "API", "--private",
                   "--response-type", "CHUNKED", "--sampling", "headers")
    assert doc["changes"] == ["name=API", "token_req=True", "response_type=Chunked", "sampling=headers"]
    after = account(svc, "SVC")
    assert after.iat > before.iat
    service = next(e for e in after.nats.exports if e.type == "service")
    assert service.to_go() == {"name": "API", "subject": "api", "type": "service", "token_req": True,
                               "response_type": "Chunked",
                               "service_latency": {"sampling": "headers", "results": "lat"}}
    svc("edit", "export", "-a", "SVC", "-s", "api", "--service", "--rm-latency-sampling", "--public")
    service = next(e for e in account(svc, "SVC").nats.exports if e.type == "service")
    assert service.service_latency is None and not service.token_req
    assert "nothing to change" in svc("edit", "export", "-a", "SVC", "-s", "api", "--stream", code=2).stderr
    assert "no export with subject 'nope'" in svc("edit", "export", "-a", "SVC", "-s", "nope", "-n", "x",
                                                  code=1).stderr


def test_delete_export_removes_it_and_resigns(svc: Cli) -> None:
    svc("add", "export", "-a", "SVC", "-s", "a")
    svc("add", "export", "-a", "SVC", "-s", "b", "--service")
    doc = svc.json("delete", "export", "-a", "SVC", "-s", "a")
    assert doc["deleted"] == {"name": "a", "subject": "a", "type": "stream"}
    assert [e.subject for e in account(svc, "SVC").nats.exports] == ["b"]
    before = snapshot(svc.home)
    assert "no export with subject 'a'" in svc("delete", "export", "-a", "SVC", "-s", "a", code=1).stderr
    assert snapshot(svc.home) == before


def test_describe_account_shows_exports_as_a_table_and_in_json(svc: Cli) -> None:
    svc("add", "export", "-a", "SVC", "--service", "--private", "-s", "api.>", "--name", "API")
    svc("add", "export", "-a", "SVC", "-s", "feed.>")
    text = svc("describe", "account", "-n", "SVC").stdout
    lines = [line.split() for line in text.splitlines()]
    assert ["API", "service", "api.>", "private", "Singleton", "-", "0"] in lines
    assert ["feed.>", "stream", "feed.>", "public", "-", "-", "0"] in lines
    exports = svc.json("describe", "account", "-n", "SVC")["nats"]["exports"]
    assert [e["subject"] for e in exports] == ["api.>", "feed.>"] and exports[0]["token_req"] is True


def test_the_export_commands_document_their_json() -> None:
    for group, name in (("add", "export"), ("edit", "export"), ("delete", "export")):
        cmd = main.commands[group].commands[name]  # type: ignore[attr-defined]
        assert "--json prints" in (cmd.epilog or "") and any(p.name == "as_json" for p in cmd.params)
