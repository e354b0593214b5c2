"""Bring drifted servers back in step with accountd, and say what could not be done.

* **stale / missing / unverified** → accountd's current JWT is published on
  ``$SYS.ACCOUNT.<id>.CLAIMS.UPDATE`` with a reply inbox. Every nats-server answers there (observed
  on 2.15.1: URL and MEMORY servers "jwt update skipped" when not loaded, cache resolvers "jwt
  update cache skipped", full resolvers and loaded accounts "jwt updated"), so each target's own
  reply says whether it took the JWT. accountd itself does not subscribe to this subject; servers
  already current treat the identical JWT as a no-op.
* **extra** on a full or cache resolver → ``$SYS.REQ.CLAIMS.DELETE`` with a delete token signed by
  an operator signing key (SPEC §3.10, §4.6) — only when one is configured, only after checking
  once more that accountd does not hold the account, never for the system account, and never when
  accountd lists no accounts at all. Servers without ``allow_delete`` refuse; that is reported.
  One delete request per report: a walk repairs one page at a time.
* **ahead**, and extra accounts on URL/MEMORY servers, are reported, never changed.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Literal

from nats.aio.client import Client

from accountd.claims import GenericClaims, KeyPair, encode
from accountd.resolver.fleet import FleetReport, Row, ServerRef, Status
from accountd.resolver.replies import Envelope, NoResponders, collect_replies, from_all, parse_envelope

__all__ = ["Repair", "Repairer"]

log = logging.getLogger("accountd.resolver.repair")

CLAIMS_DELETE = "$SYS.REQ.CLAIMS.DELETE"
RESEND = frozenset({Status.STALE, Status.MISSING, Status.UNVERIFIED})

Outcome = Literal["repaired", "failed", "skipped"]


@dataclass(frozen=True, slots=True)
class Repair:
    action: Literal["update", "delete", "none"]
    account: str
    name: str
    server: str
    outcome: Outcome
    detail: str
    was: str = ""
    """The status that asked for the repair."""

    def line(self) -> str:
        """The one log line for this repair."""
        who = f"{self.account} ({self.name})" if self.name else self.account
        verb = {"update": "re-sent current JWT", "delete": "deleted", "none": "left"}[self.action]
        return f"{self.outcome}: {verb} {who} on {self.server} [{self.was}]: {self.detail}"

    def key(self) -> tuple[str, str, str, str]:
        return (self.action, self.account, self.server, self.detail)

    def to_dict(self) -> dict[str, str]:
        return {"action": self.action, "account": self.account, "name": self.name, "server": self.server,
                "outcome": self.outcome, "was": self.was, "detail": self.detail}  # fmt: skip


JwtFor = Callable[[str], Awaitable[str]]
"""account → accountd's current JWT (raises when it cannot be had)."""
Absent = Callable[[list[str]], Awaitable[set[str]]]
"""accounts → those accountd (checked again, now) does not hold."""


class Repairer:
    def __init__(
        self,
        nc: Callable[[], Client | None],
        jwt_for: JwtFor,
        absent: Absent,
        *,
        signer: KeyPair | None = None,
        quiet: float = 0.25,
        timeout: float = 2.0,
    ) -> None:
        self.nc = nc
        self.jwt_for = jwt_for
        self.absent = absent
        self.signer = signer
        self.quiet = quiet
        self.timeout = timeout
        self.cache_servers: set[str] = set()
        """Server ids that answered like a cache resolver ("jwt update cache skipped")."""

    async def repair(
        self, report: FleetReport, system_account: str = "", *, accountd_empty: bool | None = None
    ) -> list[Repair]:
        """Repair the rows of ``report`` (one page of a walk). ``accountd_empty``: whether accountd
        holds no account at all (a walk knows, :attr:`~accountd.resolver.walk.FleetWalk.accountd_empty`);
        ``None``: judged from the report's rows."""
        if accountd_empty is None:
            accountd_empty = not any(r.accountd is not None for r in report.rows)
        labels = report.labels()
        servers = {s.id: s for s in report.servers}
        repairs: list[Repair] = []
        extras: dict[str, list[tuple[Row, ServerRef]]] = {}
        for row in report.rows:
            targets = [sid for sid, c in row.cells.items() if c.status in RESEND]
            if targets and row.accountd is not None:
                repairs += await self._resend(row, [servers[t] for t in targets], labels)
            for sid, cell in row.cells.items():
                server = servers[sid]
                if cell.status is Status.AHEAD:
                    repairs.append(Repair("none", row.account, row.name, labels[sid], "skipped",
                                          f"server holds a newer JWT ({cell.detail}); not rolled back", "ahead"))
                elif cell.status is Status.EXTRA:
                    if report.kinds.get(sid) in ("full", "cache"):
                        extras.setdefault(row.account, []).append((row, server))
                    else:
                        repairs.append(Repair("none", row.account, row.name, labels[sid], "skipped",
                                              "loaded on a server without a resolver directory; it stays until "
                                              "that server restarts", "extra"))  # fmt: skip
        if extras:
            repairs += await self._delete(extras, labels, system_account, accountd_empty)
        return repairs

    # ------------------------------------------------------------------------------ re-send

    async def _resend(self, row: Row, targets: list[ServerRef], labels: dict[str, str]) -> list[Repair]:
        was = {t.id: str(row.cells[t.id].status) for t in targets}

        def each(outcome: Outcome, detail: str) -> list[Repair]:
            return [Repair("update", row.account, row.name, labels[t.id], outcome, detail, was[t.id]) for t in targets]

        nc = self.nc()
        if nc is None or not nc.is_connected:
            return each("failed", "not connected to NATS")
        try:
            token = await self.jwt_for(row.account)
        except Exception as exc:
            return each("failed", f"cannot get the current JWT from accountd: {exc}")
        try:
            replies = await collect_replies(nc, f"$SYS.ACCOUNT.{row.account}.CLAIMS.UPDATE", token.encode(),
                                            quiet=self.quiet, timeout=self.timeout,
                                            done=from_all([t.id for t in targets]))  # fmt: skip
        except NoResponders:
            return each("failed", "no server subscribes to claim updates")
        by_server = {e.server_id: e for e in (parse_envelope(m.data) for m in replies) if e is not None}
        out = []
        for t in targets:
            outcome, detail = self._judge_update_reply(t.id, by_server.get(t.id))
            out.append(Repair("update", row.account, row.name, labels[t.id], outcome, detail, was[t.id]))
        return out

    def _judge_update_reply(self, server_id: str, env: Envelope | None) -> tuple[Outcome, str]:
        if env is None:
            return "failed", "no reply from the server"
        message = env.message
        if not env.ok:
            return "failed", message or "the server refused the update"
        if "cache skipped" in message:
            self.cache_servers.add(server_id)
            return "skipped", "cache resolver: stores only accounts it has loaded"
        if "skipped" in message:
            return "skipped", "the server has not loaded the account"
        return "repaired", message or "jwt updated"

    # ------------------------------------------------------------------------------ delete

    async def _delete(
        self,
        extras: dict[str, list[tuple[Row, ServerRef]]],
        labels: dict[str, str],
        system_account: str,
        accountd_empty: bool,
    ) -> list[Repair]:
        out: list[Repair] = []

        def each(account: str, outcome: Outcome, detail: str) -> None:
            for row, server in extras[account]:
                out.append(Repair("delete", account, row.name, labels[server.id], outcome, detail, "extra"))

        if self.signer is None:
            for account in extras:
                each(account, "skipped", "forwarding a deletion needs an operator signing key (--signing-key)")
            return out
        if accountd_empty:
            for account in extras:
                each(account, "skipped", "accountd lists no accounts; refusing to delete everything")
            return out
        if system_account in extras:
            each(system_account, "skipped", "the system account is never deleted")
        candidates = sorted(a for a in extras if a != system_account)
        absent = await self.absent(candidates) if candidates else set()
        doomed = []
        for account in candidates:
            if account not in absent:
                each(account, "skipped", "accountd holds it now; the next round compares again")
            else:
                doomed.append(account)
        if not doomed:
            return out
        nc = self.nc()
        if nc is None or not nc.is_connected:
            for account in doomed:
                each(account, "failed", "not connected to NATS")
            return out
        claims = GenericClaims(sub=self.signer.public_key, nats={"accounts": doomed})
        token = encode(claims, self.signer, now=int(time.time()))
        targets = {server.id for a in doomed for _, server in extras[a]}
        try:
            replies = await collect_replies(nc, CLAIMS_DELETE, token.encode(), quiet=self.quiet,
                                            timeout=self.timeout, done=from_all(targets))  # fmt: skip
        except NoResponders:
            replies = []
        by_server = {e.server_id: e for e in (parse_envelope(m.data) for m in replies) if e is not None}
        for account in doomed:
            for row, server in extras[account]:
                env = by_server.get(server.id)
                if env is None:
                    outcome: Outcome = "failed"
                    detail = "no reply from the server"
                elif env.ok:
                    outcome, detail = "repaired", env.message or "deleted"
                else:
                    outcome, detail = "failed", env.message or "the server refused the deletion"
                out.append(Repair("delete", account, row.name, labels[server.id], outcome, detail, "extra"))
        return out
