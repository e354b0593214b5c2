"""The accounts pages of ``accountd serve`` in headless Chromium, against its real JSON routes: the list
searched by typing and paged, and an account page (signed in with a token) with two versions and the
diff between them, live usage from a connected client of a nats-server that resolves through accountd."""

from __future__ import annotations

import asyncio
import json
import shutil
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from nats.aio.client import Client

from accountd.claims import AccountClaims, Role, create, encode
from accountd.monitor import Monitor
from accountd.monitor.accounts_page import add_account_pages, render_account_page
from accountd.natsserver import free_port
from harness import NatsFactory, operator_mode_config
from serving import Running, StartServer
from world import Account, World

from .browser import Page, devtools, need_chromium
from .support import open_client

TOKEN = "accounts-page-token-7"
TEAMS = 55  # more than one page of 50


@dataclass
class Setup:
    api: Running
    orders: Account
    billing: Account
    client: Client


def reissued(world: World, account: Account, iat: int, **nats: Any) -> Account:
    """``account`` signed again by the operator with ``nats`` fields (Go JSON) replaced."""
    doc = account.claims.to_go()
    doc["nats"].update(nats)
    claims = AccountClaims.from_go(doc)
    return Account(account.name, account.key, claims, encode(claims, world.operator, now=iat))


def second_version(world: World, orders: Account, billing: Account, iat: int) -> Account:
    """orders with a connection limit, a scoped signing key, an export, an import and a revocation."""
    limits = {**orders.claims.nats.limits.to_go(), "conn": 5}
    scoped = {"kind": "user_scope", "key": create(Role.ACCOUNT).public_key, "role": "clerks", "description": "",
              "template": {"pub": {"allow": ["orders.>"]}, "sub": {"allow": ["_INBOX.>"]},
                           "subs": -1, "data": -1, "payload": -1}}  # fmt: skip
    return reissued(world, orders, iat, limits=limits, signing_keys=[scoped],
                    exports=[{"name": "orders api", "subject": "orders.api.>", "type": "service"}],
                    imports=[{"name": "rates", "subject": "rates.>", "account": billing.pub, "type": "stream"}],
                    revocations={create(Role.USER).public_key: iat - 10})  # fmt: skip


@pytest.fixture
async def setup(
    tmp_path: Path, nats_factory: NatsFactory, start_server: StartServer, world: World
) -> AsyncIterator[Setup]:
    """accountd with a token, a nats-server resolving through it, accounts orders (two versions:
    ``conn`` -1 then 5), billing (tagged ``finance``) and 55 teams, one orders client connected."""
    files = world.write(tmp_path / "files")
    tokens = tmp_path / "tokens"
    tokens.write_text(f"{TOKEN}\n")
    nats_port = free_port()
    api = await start_server(nats=[f"nats://127.0.0.1:{nats_port}"], creds=str(files["sys_creds"]),
                             admin_token_file=str(tokens))  # fmt: skip
    now = int(time.time())
    orders = world.account("orders", iat=now - 60)
    billing = reissued(world, world.account("billing"), now - 60, tags=["finance", "eu"],
                       exports=[{"name": "rates", "subject": "rates.>", "type": "stream"}])  # fmt: skip
    teams = [world.account(f"team-{i:02d}") for i in range(TEAMS)]
    for acct in (world.sys, orders, billing, *teams):
        assert (await api.post(acct.pub, acct.jwt)).status == 200
    orders = second_version(world, orders, billing, now)
    assert (await api.post(orders.pub, orders.jwt)).status == 200
    config = operator_mode_config(files["operator"], world.sys.pub, f"URL({api.url}/jwt/v1/accounts/)")
    await asyncio.to_thread(nats_factory, config, port=nats_port)  # its start-up probe reaches accountd
    assert api.server.bus is not None and await api.server.bus.wait_connected(15)
    creds = tmp_path / "orders.creds"
    world.user_creds(orders, "clerk", creds)
    client = await open_client(f"nats://127.0.0.1:{nats_port}", creds, "orders-app")
    monitor: Monitor = api.server.extras["monitor"]
    await monitor.wait_until(lambda s: s.account_view(orders.pub)["connections"] == 1, timeout=15)
    yield Setup(api, orders, billing, client)
    await client.close()


async def wait_for(page: Page, predicate: str, timeout: float = 20) -> None:
    """Until the JavaScript expression ``predicate`` is true in the page."""
    ok = await page.evaluate(f"""new Promise(resolve => {{
      const t0 = Date.now();
      const tick = () => {{ if ({predicate}) return resolve(true);
                            if (Date.now() - t0 > {timeout * 1000}) return resolve(false); setTimeout(tick, 50); }};
      tick(); }})""")  # fmt: skip
    body = str(await page.evaluate("document.body.outerHTML"))
    assert ok, f"not true within {timeout} s: {predicate}\n{body[:3000]}"


async def sign_in(page: Page) -> None:
    assert await page.evaluate("document.querySelector('form#signin') !== null")  # the admin page asks first
    page.forget("Page.loadEventFired")
    await page.evaluate(f"document.querySelector('#token').value = {json.dumps(TOKEN)}; "
                        "document.querySelector('#signin').submit(); true")  # fmt: skip
    await page.event("Page.loadEventFired")


def keep(shot: Path) -> None:
    assert shot.is_file() and shot.stat().st_size > 10_000
    out = Path(__file__).resolve().parents[2] / "test-output"
    out.mkdir(exist_ok=True)
    shutil.copyfile(shot, out / shot.name)


CLEAR = "(() => { const q = document.querySelector('#q'); q.value = ''; q.focus(); return true; })()"
ROWS = "[...document.querySelectorAll('#accounts-list tbody tr[data-account]')].map(r => r.dataset.account)"


async def test_the_accounts_list_searches_as_one_types_and_pages(setup: Setup, tmp_path: Path) -> None:
    binary = need_chromium()
    api = setup.api
    async with devtools(binary, tmp_path / "profile") as page:
        await page.goto(api.url + "/-/accounts/?q=orders")
        await sign_in(page)
        assert await page.evaluate("location.pathname + location.search") == "/-/accounts/?q=orders"
        await wait_for(page, "document.body.dataset.loads >= 1")
        assert await page.evaluate(ROWS) == [setup.orders.pub]
        href = await page.evaluate("document.querySelector('#accounts-list tbody a').getAttribute('href')")
        assert href == f"../../-/accounts/{setup.orders.pub}/"  # relative, so a path prefix keeps working

        # Typing, as a person does: keystrokes into the focused box, one request after the pause.
        loads = await page.evaluate("Number(document.body.dataset.loads)")
        await page.evaluate(CLEAR)
        await page.send("Input.insertText", text="finance")
        await wait_for(page, f"document.body.dataset.loads > {loads}")
        assert await page.evaluate(ROWS) == [setup.billing.pub]  # found by its tag
        assert await page.evaluate("location.search") == "?q=finance"
        tags = await page.evaluate("document.querySelector('#accounts-list tbody tr').textContent")
        assert "finance" in tags and "billing" in tags
        shot = tmp_path / "accounts-page.png"
        await page.screenshot(shot)

        await page.evaluate(CLEAR)
        loads = await page.evaluate("Number(document.body.dataset.loads)")
        await page.send("Input.insertText", text="team-")
        await wait_for(page, f"document.body.dataset.loads > {loads}")
        first = await page.evaluate(ROWS)
        assert len(first) == 50 and await page.evaluate("!document.querySelector('#next').disabled")
        await page.evaluate("document.querySelector('#next').click(); true")
        await wait_for(page, f"document.body.dataset.loads > {loads + 1}")
        second = await page.evaluate(ROWS)
        assert len(second) == TEAMS - 50 and not set(first) & set(second)
        assert await page.evaluate("document.querySelector('#next').disabled")
        assert await page.evaluate("document.querySelector('#page').textContent") == "page 2"
        await page.evaluate("document.querySelector('#prev').click(); true")
        await wait_for(page, f"document.body.dataset.loads > {loads + 2}")
        assert await page.evaluate(ROWS) == first
    keep(shot)


async def test_an_account_page_shows_usage_versions_and_their_diff(setup: Setup, tmp_path: Path) -> None:
    binary = need_chromium()
    api, pub = setup.api, setup.orders.pub
    async with devtools(binary, tmp_path / "profile") as page:
        await page.goto(f"{api.url}/-/accounts/{pub}/")
        await sign_in(page)
        assert await page.evaluate("location.pathname") == f"/-/accounts/{pub}/"
        await wait_for(page, "document.body.dataset.rendered === '1' && document.body.dataset.diffs >= 1"
                             " && document.body.dataset.polls >= 1")  # fmt: skip
        assert await page.evaluate("document.querySelector('#account-name').textContent") == "orders"
        assert await page.evaluate("document.querySelector('#account-key').textContent") == pub
        revisions = await page.evaluate("[...document.querySelectorAll('tr.version')].map(r => r.dataset.revision)")
        assert len(revisions) == 2
        lines = f"[...document.querySelectorAll('#diff-{revisions[0]} li')].map(li => li.textContent)"
        diff = await page.evaluate(lines)
        assert "limits.conn: -1 -> 5" in diff
        assert "export added: service orders.api.>" in diff
        assert f"import added: stream {setup.billing.pub} rates.>" in diff
        assert any(line.startswith("signing key added: A") for line in diff)
        assert any(line.startswith("revocation added: U") for line in diff)
        assert await page.evaluate(f"document.querySelector('#diff-{revisions[1]}').textContent") == (
            "the oldest version kept")
        text = await page.evaluate("document.querySelector('main').innerText")
        for shown in ("orders.api.>", "rates.>", "role clerks", "pub allow", "orders.>", "http", "127.0.0.1"):
            assert shown in text, shown
        usage = await page.evaluate("document.querySelector('#meter-connections').textContent")
        assert "1" in usage and "of 5" in usage
        limit = await page.evaluate("document.querySelector('tr[data-limit=conn]').textContent")
        assert limit == "conn5"
        await wait_for(page, "document.querySelector('#events').textContent.includes('orders-app')")
        await wait_for(page, "document.querySelector('#issuer-role').textContent.includes('the operator')")
        assert await page.evaluate("document.cookie") == ""  # the session cookie stays HttpOnly
        shot = tmp_path / "account-page.png"
        await page.screenshot(shot, full=True)
    keep(shot)


async def test_a_deleted_account_shows_its_last_claims_and_the_deletion(setup: Setup, tmp_path: Path) -> None:
    binary = need_chromium()
    api, billing = setup.api, setup.billing
    async with api.http.delete(api.account_url(billing.pub), data=api.world.delete_token(billing.pub)) as r:
        assert r.status == 200, await r.text()
    async with devtools(binary, tmp_path / "profile") as page:
        await page.goto(f"{api.url}/-/accounts/{billing.pub}/")
        await sign_in(page)
        await wait_for(page, "document.body.dataset.rendered === '1' && document.body.dataset.diffs >= 1")
        name = await page.evaluate("document.querySelector('#account-name').textContent")
        assert name == "deleted billing"  # the pill, then the name of the last live version
        newest = await page.evaluate("document.querySelector('tr.version').dataset.revision")
        assert await page.evaluate(f"document.querySelector('#diff-{newest}').textContent") == "account deleted"
        assert "finance" in await page.evaluate("document.querySelector('#identity').textContent")
        await page.goto(api.url + "/-/accounts/?q=finance")
        await wait_for(page, "document.body.dataset.loads >= 1")
        assert await page.evaluate(ROWS) == []  # search lists live accounts only
        assert "No account matches" in await page.evaluate("document.querySelector('#accounts-list').textContent")


async def test_the_pages_are_admin_routes(setup: Setup) -> None:
    api, pub = setup.api, setup.orders.pub
    for path in ("/-/accounts/", f"/-/accounts/{pub}/", f"/-/monitor/accounts/{pub}"):
        async with api.http.get(api.url + path) as r:
            assert r.status == 401, path
        async with api.http.get(api.url + path, headers={"Authorization": f"Bearer {TOKEN}"}) as r:
            assert r.status == 200, path
    async with api.http.get(api.url + "/-/accounts/not-a-key/", headers={"Authorization": f"Bearer {TOKEN}"}) as r:
        assert r.status == 404


async def test_serve_without_nats_has_the_pages_without_a_status_link(start_server: StartServer) -> None:
    api = await start_server()
    async with api.http.get(api.url + "/-/accounts/") as r:
        assert r.status == 200 and r.content_type == "text/html"
        html = await r.text()
    assert 'href="../../-/accounts/"' in html and "-/status" not in html


def test_only_an_account_key_makes_an_account_page() -> None:
    with pytest.raises(ValueError):
        render_account_page('A"><script>')
    app = web.Application()
    add_account_pages(app)
    assert {r.resource.canonical for r in app.router.routes() if r.resource} == {
        "/-/accounts/", "/-/accounts/{pub}/"}
