"""``accountd add mapping`` / ``delete mapping`` — an account's weighted subject mappings (nsc's grammar).

A mapping sends messages published on ``--from`` to one of its ``--to`` subjects, chosen by weight
(1–100 %, default 100; the rest of 100 % is delivered unmapped). Adding a ``--to`` that is there
already (same cluster) changes its weight. The weights of one ``--from`` (per cluster) may not add
up to more than 100 %: such a mapping is refused and nothing is written.
"""

from __future__ import annotations

from pathlib import Path

import click

from accountd.claims.models import WeightedMapping
from accountd.cli.add import add
from accountd.cli.changing import changing_account
from accountd.cli.common import account_option, nsc_command, operator_option
from accountd.cli.delete import delete
from accountd.cli.output import emit, fail

__all__: list[str] = []

_SHAPE = """\b
--json prints: {"account", "public_key", "jwt_path", "from": SUBJECT,
"mappings": [{"subject", "weight", "cluster"}]} (what --from maps to now; empty when deleted)."""


def _weight(w: WeightedMapping) -> int:
    return w.weight or 100


def _where(cluster: str) -> str:
    return f" in cluster {cluster}" if cluster else ""


def _done(account: str, pub: str, path: Path, source: str, targets: list[WeightedMapping], message: str,
          as_json: bool) -> None:
    doc = {"account": account, "public_key": pub, "jwt_path": str(path), "from": source,
           "mappings": [{"subject": t.subject, "weight": _weight(t), "cluster": t.cluster} for t in targets]}
    emit(doc, as_json, lambda _: message)


@add.command("mapping", epilog=_SHAPE)
@click.option("--from", "-f", "source", required=True, metavar="SUBJECT", help="The subject to map from.")
@click.option("--to", "-t", "target", required=True, metavar="SUBJECT", help="A subject to map to.")
@click.option("--weight", type=click.IntRange(1, 100), default=None, metavar="1-100",
              help="Percent of the messages that go to --to (default 100).")
@click.option("--cluster", default="", metavar="NAME", help="Apply this entry only in this cluster.")
@account_option()
@operator_option
@nsc_command
def add_mapping(source: str, target: str, weight: int | None, cluster: str, account: str | None,
                operator: str | None, as_json: bool, home: Path | None) -> None:
    """Add a weighted subject mapping to an account, or change the weight of one."""
    with changing_account(home, operator, account) as change:
        opdir, name, c = change.opdir, change.name, change.claims
        entry = WeightedMapping(subject=target, weight=weight or 0, cluster=cluster)
        targets = c.nats.mappings.setdefault(source, [])
        for i, t in enumerate(targets):
            if t.subject == target and t.cluster == cluster:
                targets[i] = entry
                break
        else:
            targets.append(entry)
        same = [t for t in targets if t.cluster == cluster]
        total = sum(_weight(t) for t in same)
        if total > 100:
            parts = ", ".join(f"{t.subject} {_weight(t)}%" for t in same)
            fail(f"the weights of the mapping from {source!r}{_where(cluster)} would add up to {total}% ({parts}): "
                 "over 100%", f"lower --weight, or change or delete another entry (`accountd delete mapping "
                 f"--from {source} --to SUBJECT`)", code="invalid")
    _done(name, c.sub, opdir.account_path(name), source, targets,
          f"added mapping {source} -> {target}, weight {_weight(entry)}%{_where(cluster)} to account {name}", as_json)


@delete.command("mapping", epilog=_SHAPE)
@click.option("--from", "-f", "source", required=True, metavar="SUBJECT", help="The subject mapped from.")
@click.option("--to", "-t", "target", default=None, metavar="SUBJECT",
              help="Remove only this entry (default: every entry of --from).")
@click.option("--cluster", default="", metavar="NAME", help="The cluster of the --to entry.")
@account_option()
@operator_option
@nsc_command
def delete_mapping(source: str, target: str | None, cluster: str, account: str | None, operator: str | None,
                   as_json: bool, home: Path | None) -> None:
    """Remove a subject mapping (one --to entry, or all of a --from) from an account."""
    with changing_account(home, operator, account) as change:
        opdir, name, c = change.opdir, change.name, change.claims
        targets = c.nats.mappings.get(source)
        if targets is None:
            fail(f"account {name!r} has no mapping from {source!r}",
                 "its mappings: " + (", ".join(sorted(c.nats.mappings)) or "none"), code="not_found")
        if target is not None:
            kept = [t for t in targets if not (t.subject == target and t.cluster == cluster)]
            if len(kept) == len(targets):
                fail(f"the mapping from {source!r} has no entry {target!r}{_where(cluster)}",
                     "its entries: " + ", ".join(t.subject for t in targets), code="not_found")
            targets = kept
        else:
            targets = []
        if targets:
            c.nats.mappings[source] = targets
        else:
            del c.nats.mappings[source]
    what = f"{source} -> {target}" if target else f"every mapping of {source}"
    _done(name, c.sub, opdir.account_path(name), source, targets, f"deleted {what} from account {name}", as_json)
