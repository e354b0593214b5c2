"""One account's claims changed and re-signed under the home's write lock (what ``add export``,
``add mapping``, ``revocations add-user``, ``edit account`` … share).

::

    with changing_account(home, operator, account) as change:
        change.claims.nats.mappings[...] = ...

opens the home, takes its write lock, picks the operator and the account (nsc's choices), and when
the block ends normally validates the claims and stages them re-signed by the operator; the
transaction is committed then. When the block raises — a lower-layer error, :func:`fail`, a usage
error — nothing is written.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from accountd.claims.models import AccountClaims, OperatorClaims
from accountd.cli.common import open_home, pick_account, require_valid, waiting
from accountd.nsc.atomic import Transaction
from accountd.nsc.home import Home
from accountd.nsc.resign import resign_account
from accountd.nsc.store import OperatorDir

__all__ = ["AccountChange", "changing_account"]


class AccountChange:
    """The account being changed. Its claims and the operator's claims are read when first used
    (the operator's for the re-signing, unless asked for earlier) and then kept."""

    def __init__(self, home: Home, tx: Transaction, opdir: OperatorDir, name: str, *, validate: bool,
                 operator_claims: OperatorClaims | None = None) -> None:
        self.home = home
        self.tx = tx
        self.opdir = opdir
        self.name = name
        self.validate = validate
        self.resigned = False
        self._claims: AccountClaims | None = None
        self._operator_claims = operator_claims

    @property
    def claims(self) -> AccountClaims:
        if self._claims is None:
            self._claims = self.opdir.account(self.name).claims
        return self._claims

    @property
    def operator_claims(self) -> OperatorClaims:
        if self._operator_claims is None:
            self._operator_claims = self.opdir.operator().claims
        return self._operator_claims

    def resign(self) -> str:
        """Validate the claims (unless told not to) and stage them re-signed; the new token.

        The end of the block does this; call it earlier when more must be staged after the account
        in the same transaction (its users, re-signed by it). It is done once.
        """
        if self.validate:
            require_valid(self.claims, "account")
        token = resign_account(self.home, self.tx, self.opdir, self.name, self.claims, self.operator_claims)
        self.resigned = True
        return token


@contextmanager
def changing_account(home: Path | None, operator: str | None, account: str | None, *, validate: bool = True,
                     operator_first: bool = False) -> Iterator[AccountChange]:
    """Change one account of ``home`` (see the module); ``account`` None means nsc's choice.

    ``validate=False`` re-signs without the structure check (commands that only remove or revoke
    things have never refused an account for it); ``operator_first`` reads the operator's JWT
    before the account is picked.
    """
    h = open_home(home)
    with h.writing(waiting) as tx:
        opdir = h.pick_operator(operator)
        op = opdir.operator().claims if operator_first else None
        change = AccountChange(h, tx, opdir, pick_account(opdir, account), validate=validate, operator_claims=op)
        yield change
        if not change.resigned:
            change.resign()
