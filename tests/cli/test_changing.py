"""changing_account: an account changed under the write lock, re-signed on a normal exit, untouched otherwise."""

from __future__ import annotations

import pytest

from accountd.claims import decode_account
from accountd.cli.changing import changing_account
from accountd.cli.output import CommandFailed, fail

from .helpers import Cli, snapshot


def test_a_normal_exit_re_signs_the_account(world: Cli) -> None:
    path = world.opdir / "accounts" / "A" / "A.jwt"
    before = path.read_bytes()
    with changing_account(world.home, None, "A") as change:
        assert (change.name, change.opdir.name, change.home.root) == ("A", "OP", world.home)
        change.claims.nats.description = "changed"
        assert path.read_bytes() == before  # staged, not yet written
    claims = decode_account(path.read_text())
    assert claims.nats.description == "changed" and claims.iss == change.operator_claims.sub


def test_an_error_in_the_block_writes_nothing(world: Cli) -> None:
    before = snapshot(world.home)
    with pytest.raises(CommandFailed), changing_account(world.home, None, "A") as change:
        change.claims.nats.description = "changed"
        fail("refused", code="usage")
    assert snapshot(world.home) == before


def test_invalid_claims_are_refused_unless_told_not_to_check(world: Cli) -> None:
    before = snapshot(world.home)
    with pytest.raises(CommandFailed, match="the account would be invalid"), \
            changing_account(world.home, None, "A") as change:
        change.claims.nats.revocations["not-a-user-key"] = 1
    assert snapshot(world.home) == before
    with changing_account(world.home, None, "A", validate=False) as change:
        change.claims.nats.revocations["not-a-user-key"] = 1
    assert decode_account((world.opdir / "accounts" / "A" / "A.jwt").read_text()).nats.revocations == {
        "not-a-user-key": 1}


def test_an_unknown_account_is_refused_before_anything_runs(world: Cli) -> None:
    with pytest.raises(CommandFailed, match="account 'NOPE' does not exist"), \
            changing_account(world.home, None, "NOPE"):
        pytest.fail("the block ran")


def test_an_early_resign_is_not_repeated(world: Cli) -> None:
    with changing_account(world.home, None, "A", operator_first=True) as change:
        change.claims.nats.description = "once"
        token = change.resign()
        assert change.tx.staged(change.opdir.account_path("A")) == token.encode()
    assert (world.opdir / "accounts" / "A" / "A.jwt").read_text() == token
