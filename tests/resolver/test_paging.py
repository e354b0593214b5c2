"""`accountd fleet` and the resolver daemon walk accounts in pages: more accounts than one page,
a real accountd and a real full-resolver nats-server, and nothing holds more than a page.

accountd holds 2,500 accounts; n1's resolver directory starts with 150 accounts accountd does not
have (extra, merged in key order between accountd's pages) and none of accountd's (missing).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from aiohttp import web
from click.testing import CliRunner
from nats.aio.client import Client

from accountd.bus.responder import LIST_PAGE
from accountd.claims import Trust
from accountd.cli import main
from accountd.natsserver import NatsServer, free_port
from accountd.resolver import FleetDaemon, FleetWalk, HttpFetcher, compare
from accountd.server import Server
from accountd.types import JWT, AccountKey
from world import World

from .helpers import accountd_url, close_accountd, full_resolver, nats_server, start_accountd, sys_client

pytestmark = pytest.mark.asyncio(loop_scope="module")

ACCOUNTS, EXTRAS, PAGE = 2500, 150, 100


@dataclass
class Big:
    world: World
    files: dict[str, Path]
    n1: NatsServer
    jwt_dir: Path
    accountd: Server
    url: str
    sys: Client
    mine: list[str]
    extras: list[str]
    lists: list[int | None] = field(default_factory=list)
    """The ``limit`` of every store.list call accountd made."""


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def big(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Big]:
    root = tmp_path_factory.mktemp("paging")
    world = World()
    files = world.write(root / "files")
    jwt_dir = root / "jwt"
    jwt_dir.mkdir()
    extras = []
    for i in range(EXTRAS):
        a = world.account(f"EXTRA{i}")
        (jwt_dir / f"{a.pub}.jwt").write_text(a.jwt)
        extras.append(a.pub)
    n1 = nats_server(root / "n1", files, world.sys, full_resolver(jwt_dir), name="n1").start()
    accountd = await start_accountd(files, nats_url=n1.url)
    mine = []
    for i in range(ACCOUNTS):  # straight into the store: no claim update for each
        a = world.account(f"MINE{i}")
        await accountd.store.put(AccountKey(a.pub), JWT(a.jwt), publish=False)
        mine.append(a.pub)
    b = Big(world, files, n1, jwt_dir, accountd, accountd_url(accountd), await sys_client(n1.url, files["sys_creds"]),
            sorted(mine), sorted(extras))  # fmt: skip
    real = accountd.store.list

    async def spy(*, after: AccountKey | None = None, limit: int | None = None) -> list[AccountKey]:
        b.lists.append(limit)
        return await real(after=after, limit=limit)

    accountd.store.list = spy  # type: ignore[method-assign]
    try:
        yield b
    finally:
        await b.sys.close()
        await close_accountd(accountd)
        n1.stop()


def _statuses(doc: dict[str, Any]) -> dict[str, str]:
    return {a["account"]: a["servers"]["n1"]["status"] for a in doc["accounts"]}


async def test_fleet_lists_every_account_a_page_at_a_time(big: Big) -> None:
    big.lists.clear()
    argv = ["fleet", "--url", big.url, "--nats", big.n1.url, "--creds", str(big.files["sys_creds"]), "--json",
            "--page-size", str(PAGE), "--quiet", "100ms"]  # fmt: skip
    result = await asyncio.to_thread(CliRunner().invoke, main, argv)
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    statuses = _statuses(doc)
    assert list(statuses) == sorted(big.mine + big.extras)  # key order, accountd's and n1's merged
    assert {statuses[a] for a in big.mine} == {"missing"}
    assert {statuses[a] for a in big.extras} == {"extra"}
    assert doc["accounts_compared"] == ACCOUNTS + EXTRAS
    assert doc["summary"] == {"extra": EXTRAS, "missing": ACCOUNTS}
    assert doc["in_step"] is False
    http_pages = [n for n in big.lists if n != LIST_PAGE]  # LIST_PAGE: accountd answering CLAIMS.LIST
    assert len(http_pages) >= ACCOUNTS // PAGE and set(http_pages) == {PAGE + 1}  # one more: is there a next?
    assert f"1 servers, {ACCOUNTS + EXTRAS} accounts" in result.stderr

    table = await asyncio.to_thread(CliRunner().invoke, main, argv[:-5] + argv[-4:])  # the same, without --json
    lines = table.stdout.splitlines()
    assert lines[0].split() == ["ACCOUNT", "NAME", "ACCOUNTD", "IAT", "n1"]
    assert len(lines) == 2 + ACCOUNTS + EXTRAS
    assert [line[:56] for line in lines[2:]] == list(statuses)
    column = lines[0].index("n1")  # every page is aligned like the first
    assert {line[column:] for line in lines[2:]} == {"missing", "extra"}


async def test_the_walk_holds_at_most_a_page_over_http_and_over_nats(big: Big) -> None:
    http = HttpFetcher(big.url)
    try:
        for source in (http, None):
            walk = FleetWalk(big.sys, source, quiet=0.05, concurrency=64, page=PAGE)
            total = walk.report()
            seen = []
            async for page in walk.pages():
                report = compare(page)
                seen += [r.account for r in report.rows]
                total.add(report, keep=10)
            assert walk.largest_page == PAGE
            assert seen == sorted(big.mine + big.extras)
            assert total.compared == ACCOUNTS + EXTRAS and len(total.rows) == 10
            assert walk.accountd_empty is False
    finally:
        await http.close()


async def test_the_daemon_repairs_page_by_page_and_keeps_a_bounded_state(big: Big) -> None:
    daemon = FleetDaemon(Trust.from_jwts(big.world.operator_jwt), url=big.url, nats=[big.n1.url],
                         creds=str(big.files["sys_creds"]), quiet=0.1, page=PAGE, keep=50)  # fmt: skip
    await daemon.resolver.start()
    try:
        assert await daemon.resolver.wait_live(15)
        report, repairs = await daemon.run_once()
    finally:
        await daemon.close()
    assert report.compared == ACCOUNTS + EXTRAS
    assert len(report.rows) == 50 and len(repairs) == 50
    assert daemon.last_repairs_total == ACCOUNTS + EXTRAS  # every missing one re-sent, every extra reported
    assert daemon.repairs_total[("update", "repaired")] == ACCOUNTS
    assert daemon.last_round_largest_page == PAGE and daemon.last_round_pages == -(-(ACCOUNTS + EXTRAS) // PAGE)
    state = daemon.state()
    assert len(state["fleet"]["accounts"]) == 50 and state["fleet"]["accounts_compared"] == ACCOUNTS + EXTRAS
    assert state["last_round"]["largest_page"] == PAGE
    assert all((big.jwt_dir / f"{a}.jwt").exists() for a in (big.mine[0], big.mine[-1]))


async def test_a_listing_that_fails_after_the_first_page_ends_the_report_with_the_error(big: Big) -> None:
    async def accounts(request: web.Request) -> web.Response:
        if request.query.get("after"):
            return web.Response(status=404, text="gone\n")
        rows = [{"account": a, "name": "", "iss": "", "iat": 1, "exp": 0, "jti": "J"} for a in big.mine[:PAGE]]
        return web.json_response({"accounts": rows, "next": big.mine[PAGE - 1]})

    app = web.Application()
    app.router.add_get("/jwt/v1/accounts", accounts)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        argv = ["fleet", "--url", f"http://127.0.0.1:{port}", "--nats", big.n1.url, "--creds",
                str(big.files["sys_creds"]), "--json", "--page-size", str(PAGE), "--quiet", "100ms"]  # fmt: skip
        result = await asyncio.to_thread(CliRunner().invoke, main, argv)
    finally:
        await runner.cleanup()
    assert result.exit_code == 1
    doc = json.loads(result.stdout)  # still one JSON document
    # A page is PAGE accounts of the merged walk; the system account (loaded by the servers, not
    # compared) is one of them when its random key sorts among accountd's first page.
    assert doc["accounts_compared"] >= PAGE - 1 and doc["in_step"] is False
    assert doc["errors"][-1].startswith(f"listing accountd's accounts stopped after {doc['accounts_compared']}")
    assert "404" in doc["errors"][-1] and "warning: listing accountd's accounts stopped" in result.stderr
