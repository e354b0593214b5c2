"""``accountd env`` — show, and set, the current operator and account (nsc's ``env``).

The context is nsc's own ``nsc.json`` (:mod:`accountd.nsc.context`), so nsc and accountd agree on
it. Without ``--operator``/``--account`` a command uses: the option (or
``$ACCOUNTD_OPERATOR_NAME``), else the only operator/account there is, else the current one.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import click

from accountd.cli.common import JsonCommand, nsc_command, open_home
from accountd.cli.output import emit, fail, table
from accountd.cli.root import main
from accountd.nsc.context import NSC_HOME_ENV, load_context
from accountd.nsc.errors import NscError
from accountd.nsc.home import HOME_ENV, Home

__all__ = ["env"]

_ENV_VARS = (HOME_ENV, "ACCOUNTD_OPERATOR_NAME", NSC_HOME_ENV, "XDG_CONFIG_HOME")
_SHAPE = """\b
--json prints: {"home", "stores", "config_file", "store_root": PATH|null, "applies": BOOL,
"operator": NAME|null, "account": NAME|null, "defaults": {"operator": NAME|null, "account": NAME|null},
"env": {"ACCOUNTD_HOME": VALUE|null, "ACCOUNTD_OPERATOR_NAME", "NSC_HOME", "XDG_CONFIG_HOME"}}
(operator/account: the current ones of this home; defaults: what a command without --operator/--account uses)"""


def _sane(current: str, choices: list[str]) -> str:
    """nsc's ``saneDefault``: the only choice, else ``current`` if it is one, else none."""
    if len(choices) == 1:
        return choices[0]
    return current if current in choices else ""


def _defaults(h: Home) -> dict[str, str | None]:
    try:
        opdir = h.pick_operator(os.environ.get("ACCOUNTD_OPERATOR_NAME") or None)
    except NscError:
        return {"operator": None, "account": None}
    accounts = opdir.accounts()
    account = accounts[0] if len(accounts) == 1 else opdir.current_account()
    return {"operator": opdir.name, "account": account or None}


def _human(doc: dict[str, Any]) -> str:
    def show(v: Any) -> str:
        return "-" if v in (None, "") else str(v)

    rows = [
        ["Home", doc["home"]],
        ["nsc config file", doc["config_file"]],
        ["Context store root", show(doc["store_root"])],
        ["Context applies to this home", "yes" if doc["applies"] else "no"],
        ["Current operator", show(doc["operator"])],
        ["Current account", show(doc["account"])],
        ["Default operator", show(doc["defaults"]["operator"])],
        ["Default account", show(doc["defaults"]["account"])],
    ]
    rows += [[f"${k}", show(v)] for k, v in doc["env"].items()]
    return table(rows, ["Setting", "Value"])


@main.command(cls=JsonCommand, epilog=_SHAPE)
@click.option("--operator", "-o", "set_operator", metavar="NAME", help="Make this operator the current one.")
@click.option("--account", "-a", "set_account", metavar="NAME",
              help="Make this account (of the current or given operator) the current one.")
@nsc_command
def env(set_operator: str | None, set_account: str | None, as_json: bool, home: Path | None) -> None:
    """Show the home and the current operator and account; set them (nsc's `env -o/-a`, in nsc's nsc.json)."""
    h = open_home(home)
    ctx = load_context()
    if set_operator or set_account:
        with h.reading():
            h.require()
            operators = h.operators()
            if set_operator and set_operator not in operators:
                fail(f"operator {set_operator!r} is not in {h.stores}", "known operators: " +
                     (", ".join(operators) or "none"), code="not_found")
            operator = set_operator or ctx.operator_for(h.stores) or _sane("", operators)
            if not operator:
                fail(f"{h.stores} holds several operators: {', '.join(operators)}", "say which with --operator NAME",
                     code="usage")
            accounts = h.operator_dir(operator).accounts()
            if set_account and set_account not in accounts:
                fail(f"account {set_account!r} is not an account of operator {operator!r}",
                     "known accounts: " + (", ".join(accounts) or "none"), code="not_found")
            kept = ctx.account if ctx.operator_for(h.stores) == operator else ""
            ctx.save(h.stores, operator, set_account or _sane(kept, accounts))
    applies = ctx.applies_to(h.stores)
    current_op = ctx.operator_for(h.stores)
    doc = {
        "home": str(h.root), "stores": str(h.stores), "config_file": str(ctx.path),
        "store_root": ctx.store_root or None, "applies": applies, "operator": current_op or None,
        "account": (ctx.account_for(h.stores, current_op) or None) if current_op else None,
        "defaults": _defaults(h), "env": {k: os.environ.get(k) for k in _ENV_VARS},
    }
    emit(doc, as_json, _human)
