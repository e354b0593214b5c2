"""The entities ``accountd dev`` needs, created once and kept in step (idempotent).

Operator ``accountd`` (with system account ``SYS`` and its user ``sys``), demo account ``DEMO``
and its user ``demo``. Each missing piece is created in its own transaction, so an interrupted
first run simply continues on the next one. When the HTTP port changed, the operator's
``account_server_url`` is updated and the operator re-signed.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from accountd.claims.creds import format_creds
from accountd.nsc import entities
from accountd.nsc.errors import LayoutError
from accountd.nsc.home import Home
from accountd.nsc.resign import resign_operator

__all__ = ["DEMO_ACCOUNT", "DEMO_USER", "OPERATOR", "DevEntities", "ensure_dev_entities"]

OPERATOR = "accountd"
DEMO_ACCOUNT = "DEMO"
DEMO_USER = "demo"


@dataclass(frozen=True)
class DevEntities:
    operator_jwt: Path
    system_account: str
    system_creds: Path
    demo_creds: Path
    created: list[str]
    accounts: dict[str, str]
    """account public key → JWT, for SYS and DEMO."""


def _ensure_creds(home: Home, account: str, user: str) -> Path:
    opdir = home.operator_dir(OPERATOR)
    path = home.keystore.creds_path(OPERATOR, account, user)
    if not path.is_file():
        entity = opdir.user(account, user)
        kp = home.keystore.require(entity.public_key, f"user {user!r}")
        with home.writing() as tx:
            home.keystore.stage_creds(tx, OPERATOR, account, user, format_creds(entity.token, kp.seed))
    return path


def ensure_dev_entities(home: Home, account_server_url: str) -> DevEntities:
    created: list[str] = []
    opdir = home.operator_dir(OPERATOR)
    if not opdir.exists():
        with home.writing(create=True) as tx:
            entities.add_operator(home, tx, OPERATOR, account_server_url=account_server_url, system_account=True)
        created += [f"operator {OPERATOR}", "account SYS", "user sys"]
    op = opdir.operator()
    if op.claims.nats.account_server_url != account_server_url:
        with home.writing() as tx:
            op.claims.nats.account_server_url = account_server_url
            resign_operator(home, tx, opdir, op.claims)
        op = opdir.operator()
    sys_key = op.claims.nats.system_account
    sys_name = opdir.account_by_key(sys_key) if sys_key else None
    if sys_name is None:
        raise LayoutError(f"operator {OPERATOR!r} in {home.root} has no system account in its store",
                          "use another --home, or add one and set it with `accountd edit operator --system-account`")
    if not opdir.has_account(DEMO_ACCOUNT):
        with home.writing() as tx:
            entities.add_account(home, tx, opdir, DEMO_ACCOUNT, entities.account_issuer(home, op.claims))
        created.append(f"account {DEMO_ACCOUNT}")
    if not opdir.has_user(DEMO_ACCOUNT, DEMO_USER):
        with home.writing() as tx:
            demo = opdir.account(DEMO_ACCOUNT).claims
            signer = entities.user_signer(home, demo, op.claims)
            entities.add_user(home, tx, opdir, DEMO_ACCOUNT, demo, DEMO_USER, signer)
        created.append(f"user {DEMO_USER}")
    sys_users = opdir.users(sys_name)
    sys_user = "sys" if "sys" in sys_users else next(
        (u for u in sys_users if home.keystore.has(opdir.user(sys_name, u).public_key)), None)
    if sys_user is None:
        with home.writing() as tx:
            account = opdir.account(sys_name).claims
            entities.add_user(home, tx, opdir, sys_name, account, "sys",
                              entities.user_signer(home, account, op.claims))
        sys_user = "sys"
        created.append("user sys")
    accounts = {opdir.account(a).public_key: opdir.account(a).token for a in (sys_name, DEMO_ACCOUNT)}
    return DevEntities(
        operator_jwt=opdir.jwt_path,
        system_account=sys_key,
        system_creds=_ensure_creds(home, sys_name, sys_user),
        demo_creds=_ensure_creds(home, DEMO_ACCOUNT, DEMO_USER),
        created=created,
        accounts=accounts,
    )
