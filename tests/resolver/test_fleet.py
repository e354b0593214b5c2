"""Full resolvers, drift and its repair, with a real two-server cluster and a real accountd.

n1 is a full resolver (``allow_delete``), n2 a MEMORY server; accountd, the daemon and
``accountd fleet`` talk to n2, so n1 can be stopped while accounts change. Both servers and
accountd serve the whole module; the ``outage`` fixture stops n1 once, changes accounts meanwhile
and starts it again with its old directory.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from click.testing import CliRunner
from nats.aio.client import Client

from accountd.claims import Role, Trust, load_seed
from accountd.cli import main
from accountd.natsserver import NatsServer, free_port
from accountd.resolver import FleetDaemon, FleetWalk, Repair, Status
from accountd.server import Server
from world import Account, World

from .helpers import (
    LIMIT_ERROR,
    accountd_url,
    close_accountd,
    cluster,
    connect_user,
    eventually,
    full_resolver,
    nats_server,
    refused,
    roundtrip,
    start_accountd,
    sys_client,
    walk_report,
)

pytestmark = pytest.mark.asyncio(loop_scope="module")


@dataclass
class Fleet:
    root: Path
    world: World
    files: dict[str, Path]
    n1: NatsServer
    n2: NatsServer
    jwt_dir: Path
    accountd: Server
    url: str
    sys: Client

    async def post(self, pub: str, jwt: str) -> None:
        await self.accountd.service.put(jwt, pub)
        assert await self.accountd.notifier.flush(10)

    async def stored_on_n1(self, account: Account, jwt: str | None = None) -> None:
        path = self.jwt_dir / f"{account.pub}.jwt"
        want = jwt or account.jwt
        await eventually(lambda: path.exists() and path.read_text().strip() == want, what=f"{path} on n1")

    async def both_servers_answer(self) -> None:
        async def two() -> bool:
            walk = FleetWalk(self.sys, quiet=0.2, timeout=2)
            await walk.start()
            return len(walk.servers) == 2

        await eventually(two, timeout=30, interval=0.2, what="n1 back in the cluster")

    def creds(self, account: Account, name: str) -> Path:
        path = self.root / f"{account.name}-{name}.creds"
        self.world.user_creds(account, name, path)
        return path

    async def fleet_cli(self, *args: str) -> Any:
        runner = CliRunner()
        argv = ["fleet", "--url", self.url, "--nats", self.n2.url, "--creds", str(self.files["sys_creds"]), *args]
        result = await asyncio.to_thread(runner.invoke, main, argv)
        return result

    def daemon(self, **kw: Any) -> FleetDaemon:
        kw.setdefault("interval", 1.0)
        return FleetDaemon(Trust.from_jwts(self.world.operator_jwt), url=self.url, nats=[self.n2.url],
                           creds=str(self.files["sys_creds"]), quiet=0.2, **kw)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def fleet(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Fleet]:
    root = tmp_path_factory.mktemp("fleet")
    world = World()
    files = world.write(root / "files")
    c1, c2 = free_port(), free_port()
    jwt_dir = root / "jwt"
    n1 = nats_server(root / "n1", files, world.sys, full_resolver(jwt_dir, allow_delete=True), name="n1",
                     extra=cluster(c1, [c2])).start()
    n2 = nats_server(root / "n2", files, world.sys, "MEMORY", name="n2", extra=cluster(c2, [c1])).start()
    accountd = await start_accountd(files, nats_url=n2.url)
    sys = await sys_client(n2.url, files["sys_creds"])
    f = Fleet(root, world, files, n1, n2, jwt_dir, accountd, accountd_url(accountd), sys)
    try:
        await f.both_servers_answer()
        yield f
    finally:
        await sys.close()
        await close_accountd(accountd)
        n1.stop()
        n2.stop()


async def test_a_full_resolver_applies_a_change_posted_to_accountd_live(fleet: Fleet) -> None:
    a = fleet.world.account("LIVE", iat=int(time.time()) - 100)
    await fleet.post(a.pub, a.jwt)
    await fleet.stored_on_n1(a)
    creds = fleet.creds(a, "u")
    first = await connect_user(fleet.n1.url, creds)
    await roundtrip(first)

    await fleet.post(a.pub, fleet.world.reissue(a, iat=int(time.time()), conn=1).jwt)

    async def second_refused() -> bool:
        return LIMIT_ERROR in await refused(fleet.n1.url, creds)

    await eventually(second_refused, what="the second connection to be refused")
    await roundtrip(first)  # the first connection stays
    await first.close()


@dataclass
class Outage:
    """Accounts as they were changed while n1 was down."""

    unloaded: Account  # changed (conn=1); n1 keeps its old copy on disk, nobody loads it
    loaded: Account  # changed (conn=1); a user of it connected to n1 after the restart
    loaded_user: Client
    deleted: Account  # deleted in accountd; n1 still stores it
    newer: dict[str, str]


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def outage(fleet: Fleet) -> AsyncIterator[Outage]:
    old = int(time.time()) - 100
    unloaded, loaded, deleted = (fleet.world.account(n, iat=old) for n in ("UNLOADED", "LOADED", "DELETED"))
    for a in (unloaded, loaded, deleted):
        await fleet.post(a.pub, a.jwt)
        await fleet.stored_on_n1(a)

    await asyncio.to_thread(fleet.n1.stop)
    newer = {a.pub: fleet.world.reissue(a, iat=int(time.time()), conn=1).jwt for a in (unloaded, loaded)}
    for pub, jwt in newer.items():
        await fleet.post(pub, jwt)
    assert await fleet.accountd.service.delete(fleet.world.delete_token(deleted.pub)) == 1
    assert await fleet.accountd.notifier.flush(10)

    await asyncio.to_thread(fleet.n1.start)
    await fleet.both_servers_answer()
    user = await connect_user(fleet.n1.url, fleet.creds(loaded, "first"))  # loads the old copy
    await roundtrip(user)
    yield Outage(unloaded, loaded, user, deleted, newer)
    await user.close()


def _status(doc: dict[str, Any], account: Account, server: str) -> str:
    row = next(r for r in doc["accounts"] if r["account"] == account.pub)
    return str(row["servers"][server]["status"])


async def test_fleet_reports_the_restarted_server_as_stale(fleet: Fleet, outage: Outage) -> None:
    result = await fleet.fleet_cli("--json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert {s["name"] for s in doc["servers"]} == {"n1", "n2"}
    assert _status(doc, outage.unloaded, "n1") == "stale"  # found by LOOKUP: stored, not loaded
    assert _status(doc, outage.loaded, "n1") == "stale"  # found by INFO: loaded
    assert _status(doc, outage.deleted, "n1") == "extra"
    assert _status(doc, outage.unloaded, "n2") == "not_loaded"
    assert not doc["in_step"]

    table = await fleet.fleet_cli("--check")
    assert table.exit_code == 1
    header = table.stdout.splitlines()[0].split()
    assert header[:3] == ["ACCOUNT", "NAME", "ACCOUNTD"] and "n1" in header and "n2" in header
    line = next(ln for ln in table.stdout.splitlines() if outage.unloaded.pub in ln)
    assert "stale" in line.split()
    assert "drifted" in table.stderr


async def test_the_daemon_repairs_stale_servers_within_one_round(
    fleet: Fleet, outage: Outage, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="accountd.resolver")
    daemon = fleet.daemon()
    rounds: list[dict[tuple[str, str], Repair]] = []

    def first_round_done(d: FleetDaemon) -> bool:
        if d.rounds["ok"] == len(rounds) + 1:
            rounds.append({(r.account, r.server): r for r in d.last_repairs})
        return bool(rounds)

    await daemon.start()
    try:
        await daemon.wait_for(first_round_done, timeout=30)
    finally:
        await daemon.close()
    first = rounds[0]  # the drift was visible before the daemon started: its first round repairs it
    for account in (outage.unloaded, outage.loaded):
        repair = first[(account.pub, "n1")]
        assert (repair.action, repair.outcome, repair.was) == ("update", "repaired", "stale")
        assert f"repaired: re-sent current JWT {account.pub} ({account.name}) on n1 [stale]" in caplog.text
    unrepaired = first[(outage.deleted.pub, "n1")]
    assert (unrepaired.action, unrepaired.outcome) == ("delete", "skipped")
    assert "--signing-key" in unrepaired.detail

    # The repaired limits are in force: the loaded account refuses a second connection now, the
    # first stays; the account that was only on disk admits one and refuses the next.
    loaded_creds = fleet.creds(outage.loaded, "second")
    assert LIMIT_ERROR in await refused(fleet.n1.url, loaded_creds)
    await roundtrip(outage.loaded_user)
    first_unloaded = await connect_user(fleet.n1.url, fleet.creds(outage.unloaded, "first"))
    assert LIMIT_ERROR in await refused(fleet.n1.url, fleet.creds(outage.unloaded, "second"))
    await first_unloaded.close()

    doc = json.loads((await fleet.fleet_cli("--json")).stdout)
    assert _status(doc, outage.unloaded, "n1") == "current"
    assert _status(doc, outage.loaded, "n1") == "current"


async def test_with_a_signing_key_the_daemon_forwards_the_deletion(fleet: Fleet, outage: Outage) -> None:
    signer = load_seed(fleet.files["signing_key"], Role.OPERATOR)
    daemon = fleet.daemon(signer=signer)
    await daemon.resolver.start()
    try:
        assert await daemon.resolver.wait_live(15)
        _, repairs = await daemon.run_once()
    finally:
        await daemon.close()
    deletion = next(r for r in repairs if r.account == outage.deleted.pub)
    assert (deletion.action, deletion.outcome, deletion.detail) == ("delete", "repaired", "deleted 1 accounts")
    assert (fleet.jwt_dir / f"{outage.deleted.pub}.jwt.deleted").exists()

    after = await walk_report(fleet.sys, quiet=0.2)
    assert all(r.account != outage.deleted.pub for r in after.rows)
    assert all(c.status is not Status.EXTRA for r in after.rows for c in r.cells.values())


async def test_the_comparison_also_works_with_accountd_reached_over_nats(fleet: Fleet) -> None:
    a = fleet.world.account("OVER-NATS")
    await fleet.post(a.pub, a.jwt)
    await fleet.stored_on_n1(a)
    report = await walk_report(fleet.sys, quiet=0.2)
    assert report.accountd_source == "nats"
    row = next(r for r in report.rows if r.account == a.pub)
    assert row.accountd is not None and row.accountd.jti == a.claims.jti
    assert {str(c.status) for c in row.cells.values()} == {"current", "not_loaded"}


async def test_a_running_daemon_repairs_a_server_in_the_first_round_that_sees_it_again(fleet: Fleet) -> None:
    a = fleet.world.account("PERIOD", iat=int(time.time()) - 100)
    await fleet.post(a.pub, a.jwt)
    await fleet.stored_on_n1(a)
    daemon = fleet.daemon(interval=1.0)
    seen: list[tuple[bool, bool]] = []  # per finished round: (n1 answered as a full resolver, a repaired on n1)

    def record(d: FleetDaemon) -> bool:
        while len(seen) < d.rounds["ok"] and d.report is not None:
            n1 = next((s.id for s in d.report.servers if s.name == "n1"), "")
            repaired = any(r.account == a.pub and r.server == "n1" and r.outcome == "repaired"
                           for r in d.last_repairs)  # fmt: skip
            seen.append((d.report.kinds.get(n1) == "full", repaired))
        return any(repaired for _, repaired in seen)

    await daemon.start()
    try:
        await daemon.wait_for(lambda d: d.rounds["ok"] >= 1, timeout=30)
        await asyncio.to_thread(fleet.n1.stop)
        await fleet.post(a.pub, fleet.world.reissue(a, iat=int(time.time()), conn=1).jwt)
        await asyncio.to_thread(fleet.n1.start)
        restarted_after = daemon.rounds["ok"]  # rounds finishing from here on may see n1 again
        await daemon.wait_for(record, timeout=60)
    finally:
        await daemon.close()
    first_seen = min(i for i in range(restarted_after, len(seen)) if seen[i][0])
    assert seen[first_seen][1], f"n1 was seen again in round {first_seen + 1} but not repaired there: {seen}"

    first = await connect_user(fleet.n1.url, fleet.creds(a, "first"))
    assert LIMIT_ERROR in await refused(fleet.n1.url, fleet.creds(a, "second"))
    await first.close()
