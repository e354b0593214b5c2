"""accountd add|delete import: public and private imports, and the bad input that writes nothing."""

from __future__ import annotations

from pathlib import Path

import pytest

from accountd.claims import AccountClaims, Role, create, decode, decode_account

from .helpers import Cli, snapshot
from .test_exports import assert_round_trips


def account(cli: Cli, name: str) -> AccountClaims:
    return decode_account((cli.opdir / "accounts" / name / f"{name}.jwt").read_text())


@pytest.fixture
def two(cli: Cli) -> Cli:
    """SVC exports a public service, a private service and a public stream; TENANT and OTHER import."""
    cli("add", "operator", "--name", "OP", "--sys")
    for name in ("SVC", "TENANT", "OTHER"):
        cli("add", "account", "--name", name)
    cli("add", "export", "-a", "SVC", "--service", "-s", "pub.echo")
    cli("add", "export", "-a", "SVC", "--service", "--private", "-s", "priv.>")
    cli("add", "export", "-a", "SVC", "-s", "feed.>")
    return cli


def activation(cli: Cli, tmp_path: Path, target: str = "TENANT", *args: str) -> Path:
    out = tmp_path / f"{target}-{len(list(tmp_path.iterdir()))}.jwt"
    cli("generate", "activation", "-a", "SVC", "-s", "priv.>", "-t", target, "-o", str(out), *args)
    return out


def test_public_service_import_by_account_name(two: Cli) -> None:
    doc = two.json("add", "import", "-a", "TENANT", "--src-account", "SVC", "--remote-subject", "pub.echo",
                   "--service", "--local-subject", "echo", "--share")
    svc = account(two, "SVC").sub
    assert doc["import"] == {"name": "pub.echo", "subject": "pub.echo", "account": svc, "local_subject": "echo",
                             "type": "service", "share": True}
    assert doc["exporter"] == "SVC" and doc["checked"] is True
    assert [i.to_go() for i in account(two, "TENANT").nats.imports] == [doc["import"]]
    assert_round_trips(two, two.opdir / "accounts" / "TENANT" / "TENANT.jwt")


def test_stream_import_of_part_of_a_wildcard_export_by_key(two: Cli) -> None:
    svc = account(two, "SVC").sub
    two("add", "import", "-a", "TENANT", "--src-account", svc, "--remote-subject", "feed.eu", "--allow-tracing")
    (imp,) = account(two, "TENANT").nats.imports
    assert imp.to_go() == {"name": "feed.eu", "subject": "feed.eu", "account": svc, "type": "stream",
                           "allow_trace": True}


def test_importing_a_subject_the_exporter_does_not_export_writes_nothing(two: Cli) -> None:
    before = snapshot(two.home)
    doc = two.json("add", "import", "-a", "TENANT", "--src-account", "SVC", "--remote-subject", "nope",
                   "--service", code=1)
    assert doc["error"]["code"] == "not_exported"
    assert doc["error"]["message"] == "account 'SVC' does not export the service 'nope'"
    assert "pub.echo" in doc["error"]["hint"]
    # a stream import of a service-only subject is not exported either
    assert "does not export the stream 'pub.echo'" in two(
        "add", "import", "-a", "TENANT", "--src-account", "SVC", "--remote-subject", "pub.echo", code=1).stderr
    assert snapshot(two.home) == before


def test_a_private_export_needs_a_token(two: Cli) -> None:
    before = snapshot(two.home)
    err = two("add", "import", "-a", "TENANT", "--src-account", "SVC", "--remote-subject", "priv.x", "--service",
              code=1).stderr
    assert "'priv.>' of account 'SVC' is private: the import needs an activation" in err
    assert "accountd generate activation --account SVC --subject priv.x --target-account TENANT" in err
    assert snapshot(two.home) == before


def test_private_import_with_an_activation(two: Cli, tmp_path: Path) -> None:
    token = activation(two, tmp_path)
    assert token.read_text().startswith("-----BEGIN NATS ACTIVATION JWT-----\n")
    doc = two.json("add", "import", "-a", "TENANT", "--token", str(token))
    svc = account(two, "SVC").sub
    imp = doc["import"]
    assert (imp["subject"], imp["account"], imp["type"], imp["local_subject"]) == ("priv.>", svc, "service", "priv.>")
    assert imp["token"] in token.read_text()
    assert_round_trips(two, two.opdir / "accounts" / "TENANT" / "TENANT.jwt")
    # the same import twice is refused
    before = snapshot(two.home)
    assert "already imports service 'priv.>' from SVC" in two("add", "import", "-a", "TENANT", "--token",
                                                             str(token), code=1).stderr
    assert snapshot(two.home) == before


@pytest.mark.parametrize(("make", "problem"), [
    (lambda cli, tmp: activation(cli, tmp, "OTHER"), "the activation is for account OTHER ("),
    (lambda cli, tmp: activation(cli, tmp, "TENANT", "--expiry", "2020-01-01"),
     "the activation expired at 2020-01-01 00:00:00 UTC"),
])
def test_a_bad_activation_is_refused_naming_the_problem(two: Cli, tmp_path: Path, make, problem: str) -> None:  # type: ignore[no-untyped-def]
    token = make(two, tmp_path)
    before = snapshot(two.home)
    doc = two.json("add", "import", "-a", "TENANT", "--token", str(token), code=1)
    assert doc["error"]["code"] == "bad_activation" and problem in doc["error"]["message"]
    assert snapshot(two.home) == before


def test_an_activation_revoked_by_the_exporter_is_refused(two: Cli, tmp_path: Path) -> None:
    token = activation(two, tmp_path)
    two("revocations", "add-activation", "-a", "SVC", "--service", "-s", "priv.>", "-t", "TENANT")
    before = snapshot(two.home)
    err = two("add", "import", "-a", "TENANT", "--token", str(token), code=1).stderr
    assert "account 'SVC' revoked this activation of 'priv.>'" in err and snapshot(two.home) == before


def test_an_activation_signed_by_a_key_the_exporter_does_not_list_is_refused(two: Cli, tmp_path: Path) -> None:
    two("edit", "account", "-n", "SVC", "--sk", "generate")
    sk = account(two, "SVC").nats.signing_key_ids()[0]
    token = activation(two, tmp_path, "TENANT", "-K", sk)
    two("edit", "account", "-n", "SVC", "--rm-sk", sk)
    before = snapshot(two.home)
    err = two("add", "import", "-a", "TENANT", "--token", str(token), code=1).stderr
    assert f"the activation is signed by {sk}, which is not a signing key of account 'SVC'" in err
    assert snapshot(two.home) == before


def test_an_activation_from_a_signing_key_works(two: Cli, tmp_path: Path) -> None:
    two("edit", "account", "-n", "SVC", "--sk", "generate")
    sk = account(two, "SVC").nats.signing_key_ids()[0]
    doc = two.json("generate", "activation", "-a", "SVC", "-s", "priv.>", "-t", "TENANT", "-K", sk)
    assert doc["issuer"] == sk and decode(doc["jwt"]).nats.issuer_account == account(two, "SVC").sub  # type: ignore[attr-defined]
    token = activation(two, tmp_path, "TENANT", "-K", sk)
    two("add", "import", "-a", "TENANT", "--token", str(token))
    (imp,) = account(two, "TENANT").nats.imports
    assert imp.account == account(two, "SVC").sub


def test_token_and_public_flags_do_not_mix(two: Cli, tmp_path: Path) -> None:
    token = activation(two, tmp_path)
    assert "drop --src-account" in two("add", "import", "-a", "TENANT", "--token", str(token), "--src-account",
                                       "SVC", code=2).stderr
    assert "give --src-account and --remote-subject" in two("add", "import", "-a", "TENANT", "--src-account",
                                                            "SVC", code=2).stderr
    assert "--share is only valid for service imports" in two(
        "add", "import", "-a", "TENANT", "--src-account", "SVC", "--remote-subject", "feed.x", "--share",
        code=2).stderr


def test_an_exporter_outside_the_home_is_imported_with_a_warning(two: Cli) -> None:
    foreign = create(Role.ACCOUNT).public_key
    result = two("add", "import", "-a", "TENANT", "--src-account", foreign, "--remote-subject", "x.y")
    assert "is not in this home; whether it exports 'x.y' is not checked" in result.stderr
    assert account(two, "TENANT").nats.imports[0].account == foreign


def test_delete_import(two: Cli, tmp_path: Path) -> None:
    two("add", "import", "-a", "TENANT", "--src-account", "SVC", "--remote-subject", "feed.x")
    two("add", "import", "-a", "TENANT", "--token", str(activation(two, tmp_path)))
    doc = two.json("delete", "import", "-a", "TENANT", "-s", "feed.x")
    assert doc["deleted"]["subject"] == "feed.x"
    assert [i.subject for i in account(two, "TENANT").nats.imports] == ["priv.>"]
    before = snapshot(two.home)
    assert "no import of 'feed.x'" in two("delete", "import", "-a", "TENANT", "-s", "feed.x", code=1).stderr
    assert snapshot(two.home) == before


def test_describe_account_lists_imports_with_their_exporter(two: Cli, tmp_path: Path) -> None:
    two("add", "import", "-a", "TENANT", "--src-account", "SVC", "--remote-subject", "feed.x")
    two("add", "import", "-a", "TENANT", "--token", str(activation(two, tmp_path, "TENANT", "--expiry", "2099-01-01")))
    svc = account(two, "SVC").sub
    text = two("describe", "account", "-n", "TENANT").stdout
    assert f"feed.x   stream   feed.x  -       SVC ({svc})  public" in text
    assert "activation, expires 2099-01-01 00:00:00 UTC" in text
    assert len(two.json("describe", "account", "-n", "TENANT")["nats"]["imports"]) == 2


def test_an_account_token_position_needs_the_importers_key_there(two: Cli) -> None:
    two("add", "export", "-a", "SVC", "-s", "per.*.events", "--account-token-position", "2")
    tenant = account(two, "TENANT").sub
    before = snapshot(two.home)
    err = two("add", "import", "-a", "TENANT", "--src-account", "SVC", "--remote-subject", "per.OTHER.events",
              code=1).stderr
    assert "requires the importing account's key as token 2" in err and f"per.{tenant}.events" in err
    assert snapshot(two.home) == before
    two("add", "import", "-a", "TENANT", "--src-account", "SVC", "--remote-subject", f"per.{tenant}.events",
        "--local-subject", "events")
