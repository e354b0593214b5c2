"""Delete operators, accounts and users from a home, as ``nsc delete`` does.

* an account goes with its users (``accounts/<A>/`` as a whole); with ``rm_nkeys`` also the seeds of
  the account, its signing keys and its users, with ``rm_creds`` the users' creds;
* a user goes alone; with ``revoke`` it is first revoked in its account, which is re-signed (nsc's
  ``delete user --revoke``);
* an operator goes with everything in ``stores/<Op>/`` (nsc has no command for it); with ``rm_nkeys``
  every seed its entities name, with ``rm_creds`` ``keys/creds/<Op>/``.

Seeds are removed only when asked: a key that is gone cannot sign again. Every function stages its
deletions in a :class:`~accountd.nsc.atomic.Transaction`; nothing changes until the caller commits.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from accountd.claims.models import AccountClaims, OperatorClaims
from accountd.nsc.atomic import Transaction
from accountd.nsc.home import Home
from accountd.nsc.resign import resign_account
from accountd.nsc.store import OperatorDir

__all__ = ["Deleted", "stage_delete_account", "stage_delete_operator", "stage_delete_users"]


@dataclass
class Deleted:
    """What a deletion removes: one entity, the files and seeds that go with it."""

    kind: str
    name: str
    public_key: str
    files: list[Path] = field(default_factory=list)
    keys: list[str] = field(default_factory=list)
    """Public keys whose seeds are removed."""
    revoked: bool = False

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "name": self.name, "public_key": self.public_key,
                "files": [str(f) for f in self.files], "keys": self.keys, "revoked": self.revoked}


def _stage_keys(home: Home, tx: Transaction, keys: list[str]) -> list[str]:
    removed = []
    for key in dict.fromkeys(keys):
        path = home.keystore.key_path(key)
        if path.is_file():
            tx.delete(path)
            removed.append(key)
    return removed


def _stage_file(tx: Transaction, path: Path, into: list[Path]) -> None:
    if path.is_file():
        tx.delete(path)
        into.append(path)


def _stage_user_files(home: Home, tx: Transaction, opdir: OperatorDir, account: str, user: str,
                      rm_nkeys: bool, rm_creds: bool) -> Deleted:
    entity = opdir.user(account, user)
    gone = Deleted("user", user, entity.public_key)
    _stage_file(tx, entity.path, gone.files)
    if rm_creds:
        _stage_file(tx, home.keystore.creds_path(opdir.name, account, user), gone.files)
    if rm_nkeys:
        gone.keys = _stage_keys(home, tx, [entity.public_key])
    return gone


def stage_delete_users(home: Home, tx: Transaction, opdir: OperatorDir, account: str, users: list[str],
                       op: OperatorClaims, *, revoke: bool, rm_nkeys: bool, rm_creds: bool) -> list[Deleted]:
    """Delete ``users`` of ``account``; with ``revoke`` revoke them first (the account is re-signed)."""
    claims: AccountClaims = opdir.account(account).claims
    deleted = []
    for user in users:
        gone = _stage_user_files(home, tx, opdir, account, user, rm_nkeys, rm_creds)
        if revoke and gone.public_key not in claims.nats.revocations:
            claims.nats.revocations[gone.public_key] = int(time.time())
            gone.revoked = True
        deleted.append(gone)
    if any(d.revoked for d in deleted):
        resign_account(home, tx, opdir, account, claims, op)
    return deleted


def stage_delete_account(home: Home, tx: Transaction, opdir: OperatorDir, account: str, *,
                         rm_nkeys: bool, rm_creds: bool) -> list[Deleted]:
    """Delete ``account`` and its users: the account first, then one entry per user."""
    entity = opdir.account(account)
    users = [_stage_user_files(home, tx, opdir, account, u, rm_nkeys, rm_creds) for u in opdir.users(account)]
    gone = Deleted("account", account, entity.public_key)
    trees = [opdir.account_dir(account)] + ([home.keystore.creds_dir / opdir.name / account] if rm_creds else [])
    listed = {f for u in users for f in u.files}  # the users' JWTs and creds are in their own entries
    gone.files = [f for tree in trees for f in tx.delete_tree(tree) if f not in listed]
    if rm_nkeys:
        gone.keys = _stage_keys(home, tx, [entity.public_key, *entity.claims.nats.signing_key_ids()])
    return [gone, *users]


def stage_delete_operator(home: Home, tx: Transaction, opdir: OperatorDir, *, rm_nkeys: bool,
                          rm_creds: bool) -> list[Deleted]:
    """Delete the operator's store directory; its accounts and users are listed after it."""
    op = opdir.operator()
    gone = Deleted("operator", opdir.name, op.public_key)
    keys = [op.public_key, *op.claims.nats.signing_keys]
    rest: list[Deleted] = []
    for account in opdir.accounts():
        a = opdir.account(account)
        keys += [a.public_key, *a.claims.nats.signing_key_ids()]
        rest.append(Deleted("account", account, a.public_key))
        for user in opdir.users(account):
            u = opdir.user(account, user)
            keys.append(u.public_key)
            rest.append(Deleted("user", user, u.public_key))
    gone.files = tx.delete_tree(opdir.dir)
    if rm_creds:
        gone.files += tx.delete_tree(home.keystore.creds_dir / opdir.name)
    if rm_nkeys:
        gone.keys = _stage_keys(home, tx, keys)
    return [gone, *rest]
