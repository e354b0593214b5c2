"""accountd generate activation and revocations add-|delete-|list-activations; the home stays nsc's layout."""

from __future__ import annotations

import base64
import json
import stat
from pathlib import Path

import pytest

from accountd.claims import AccountClaims, ActivationClaims, decode, decode_account, encode, load_seed
from nsc.test_layout import nsc_tree

from .helpers import Cli, snapshot


def account(cli: Cli, name: str) -> AccountClaims:
    return decode_account((cli.opdir / "accounts" / name / f"{name}.jwt").read_text())


@pytest.fixture
def svc(cli: Cli) -> Cli:
    cli("add", "operator", "--name", "OP", "--sys")
    for name in ("SVC", "TENANT"):
        cli("add", "account", "--name", name)
    cli("add", "export", "-a", "SVC", "--service", "--private", "-s", "priv.>")
    return cli


def payload(token: str) -> dict[str, object]:
    part = token.split(".")[1]
    data: dict[str, object] = json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
    return data


def test_generate_activation_is_go_shaped_and_round_trips(svc: Cli) -> None:
    doc = svc.json("generate", "activation", "-a", "SVC", "-s", "priv.orders", "-t", "TENANT",
                   "--expiry", "2099-01-01", "--start", "2020-01-01")
    act = decode(doc["jwt"])
    assert isinstance(act, ActivationClaims)
    svc_key, tenant = account(svc, "SVC").sub, account(svc, "TENANT").sub
    assert (act.iss, act.sub, act.name, act.exp, act.nbf) == (svc_key, tenant, "priv.orders", 4070908800, 1577836800)
    body = payload(doc["jwt"])
    assert list(body) == ["exp", "jti", "iat", "iss", "name", "nbf", "sub", "nats"]
    assert body["nats"] == {"subject": "priv.orders", "kind": "service", "type": "activation", "version": 2}
    assert (doc["target_account"], doc["kind"], doc["issuer"], doc["path"]) == (tenant, "service", svc_key, None)
    seed = (svc.home / "keys" / "keys" / svc_key[0] / svc_key[1:3] / f"{svc_key}.nk").read_text()
    assert str(encode(act, load_seed(seed), now=act.iat)) == doc["jwt"]


def test_generate_activation_prints_the_armored_token_and_defaults_to_the_only_private_export(svc: Cli,
                                                                                             tmp_path: Path) -> None:
    text = svc("generate", "activation", "-a", "SVC", "-t", account(svc, "TENANT").sub).stdout
    assert text.startswith("-----BEGIN NATS ACTIVATION JWT-----\neyJ")
    assert text.endswith("\n------END NATS ACTIVATION JWT------\n")
    token = text.splitlines()[1]
    assert decode(token).nats.subject == "priv.>"  # type: ignore[attr-defined]
    out = tmp_path / "a.jwt"
    assert svc("generate", "activation", "-a", "SVC", "-t", "TENANT", "-o", str(out)).stdout == ""
    assert out.read_text().startswith("-----BEGIN NATS ACTIVATION JWT-----\n")


@pytest.mark.parametrize(("setup", "args", "code", "message"), [
    ((), ("-s", "other.x", "-t", "TENANT"), 1, "a private export for 'other.x' was not found in account 'SVC'"),
    ((), ("-t", "NOBODY"), 2, "'NOBODY' is neither an account public key"),
    ((("add", "export", "-a", "SVC", "--private", "-s", "feed"),), ("-t", "TENANT"), 2,
     "several private exports: pick one with --subject"),
    ((("delete", "export", "-a", "SVC", "-s", "priv.>"), ("add", "export", "-a", "SVC", "-s", "pub")),
     ("-t", "TENANT"), 1, "account 'SVC' has no private exports"),
])
def test_generate_activation_errors(svc: Cli, setup: tuple[tuple[str, ...], ...], args: tuple[str, ...], code: int,
                                    message: str) -> None:
    for command in setup:
        svc(*command)
    assert message in svc("generate", "activation", "-a", "SVC", *args, code=code).stderr


def test_revoke_list_and_lift_activations(svc: Cli) -> None:
    tenant = account(svc, "TENANT").sub
    doc = svc.json("revocations", "add-activation", "-a", "SVC", "--service", "-t", "TENANT", "--at", "1800000000")
    assert doc == {"account": "SVC", "export": "priv.>", "kind": "service", "target_account": tenant,
                   "at": 1800000000}
    svc("revocations", "add-activation", "-a", "SVC", "--service", "-t", "*", "--at", "1700000000")
    # Go's RevokeAt: an earlier time does not replace a later revocation
    assert svc.json("revocations", "add-activation", "-a", "SVC", "--service", "-t", tenant,
                    "--at", "1600000000")["at"] == 1800000000
    (export,) = account(svc, "SVC").nats.exports
    assert export.revocations == {"*": 1700000000, tenant: 1800000000}
    listed = svc.json("revocations", "list-activations", "-a", "SVC", "--service")
    assert listed["revocations"] == [{"target_account": "*", "name": None, "at": 1700000000},
                                     {"target_account": tenant, "name": "TENANT", "at": 1800000000}]
    assert "all accounts" in svc("revocations", "list-activations", "-a", "SVC", "--service").stdout
    svc("revocations", "delete-activation", "-a", "SVC", "--service", "-t", "TENANT")
    assert account(svc, "SVC").nats.exports[0].revocations == {"*": 1700000000}
    before = snapshot(svc.home)
    assert "has no revocation in service export 'priv.>'" in svc(
        "revocations", "delete-activation", "-a", "SVC", "--service", "-t", "TENANT", code=1).stderr
    assert "account 'SVC' has no stream exports" in svc(
        "revocations", "add-activation", "-a", "SVC", "-t", "TENANT", code=1).stderr
    assert snapshot(svc.home) == before


def test_a_home_with_an_export_and_an_import_is_nsc_layout(svc: Cli, tmp_path: Path) -> None:
    token = tmp_path / "act.jwt"
    svc("generate", "activation", "-a", "SVC", "-t", "TENANT", "-o", str(token))
    svc("add", "import", "-a", "TENANT", "--token", str(token))
    files = sorted(str(p.relative_to(svc.home)) for p in svc.home.rglob("*") if p.is_file() and p.name != ".lock")
    stores = [f for f in files if f.startswith("stores/")]
    assert stores == ["stores/OP/.nsc", "stores/OP/OP.jwt", "stores/OP/accounts/SVC/SVC.jwt",
                      "stores/OP/accounts/SYS/SYS.jwt", "stores/OP/accounts/SYS/users/sys.jwt",
                      "stores/OP/accounts/TENANT/TENANT.jwt"]
    keys = {account(svc, n).sub for n in ("SVC", "TENANT", "SYS")} | {decode((svc.opdir / "OP.jwt").read_text()).sub}
    assert {f for f in files if f.endswith(".nk")} == {f"keys/keys/{k[0]}/{k[1:3]}/{k}.nk" for k in keys} | {
        f for f in files if f.startswith("keys/keys/U")}
    for path in svc.home.rglob("*"):
        if path.name != ".lock":
            assert stat.S_IMODE(path.stat().st_mode) == (0o700 if path.is_dir() else 0o600), path
    for name in ("SVC", "TENANT"):
        assert not (svc.opdir / "accounts" / name / f"{name}.jwt").read_text().endswith("\n")


def test_exports_and_imports_extend_an_nsc_made_tree(tmp_path: Path) -> None:
    cli = Cli(nsc_tree(tmp_path / "nsc"))
    cli("add", "export", "-a", "A", "--service", "-s", "api.>")
    cli("add", "import", "-a", "SYS", "--src-account", "A", "--remote-subject", "api.x", "--service")
    imp = account(cli, "SYS").nats.imports[0]
    assert imp.account == account(cli, "A").sub
    assert sorted(p.name for p in (cli.home / "stores" / "OP" / "accounts").iterdir()) == ["A", "SYS"]
    assert cli.json("list", "accounts")["accounts"][0]["name"] == "A"
