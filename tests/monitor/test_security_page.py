"""The status page in headless Chromium with admin auth: signing in with a token, and what a page of
another origin can (public routes) and cannot (admin routes) read."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

from aiohttp import web

from accountd.monitor import Monitor
from accountd.natsserver import NatsServer, free_port
from harness import VectorSet
from serving import Running, StartServer

from .browser import chromium, devtools, need_chromium
from .support import open_client

TOKEN = "page-admin-token-42"

_WAIT_FOR_POLL = """new Promise(resolve => {
  const done = () => Number(document.body.getAttribute("data-polls")) >= 1;
  const give = () => resolve(document.documentElement.outerHTML);
  if (done()) return give();
  new MutationObserver(() => { if (done()) give(); }).observe(document.body, {attributes: true});
})"""


async def _accountd(start_server: StartServer, op_server: NatsServer, basic: VectorSet, **settings: object) -> Running:
    api = await start_server(nats=[op_server.url], creds=str(basic.file("sys.creds")), **settings)
    assert api.server.bus is not None and await api.server.bus.wait_connected(15)
    monitor: Monitor = api.server.extras["monitor"]
    await monitor.wait_until(lambda s: bool(s.servers), timeout=10)
    return api


async def test_the_status_page_signs_in_with_a_token_and_renders(
    start_server: StartServer, op_server: NatsServer, basic: VectorSet, tmp_path: Path
) -> None:
    binary = need_chromium()
    tokens = tmp_path / "tokens"
    tokens.write_text(f"{TOKEN}\n")
    api = await _accountd(start_server, op_server, basic, admin_token_file=str(tokens))
    client = await open_client(op_server.url, basic.file("U.creds"), "signed-in-viewer")
    monitor: Monitor = api.server.extras["monitor"]
    await monitor.wait_until(lambda s: any(e["client"]["name"] == "signed-in-viewer" for e in s.events_view()),
                             timeout=10)
    try:
        async with devtools(binary, tmp_path / "profile") as page:
            await page.goto(api.url + "/-/status")
            assert await page.evaluate("document.querySelector('form#signin') !== null")  # asked to sign in
            assert await page.evaluate("document.body.getAttribute('data-polls')") is None
            page.forget("Page.loadEventFired")
            await page.evaluate(f"document.querySelector('#token').value = {json.dumps(TOKEN)}; "
                                "document.querySelector('#signin').submit(); true")  # fmt: skip
            await page.event("Page.loadEventFired")
            assert await page.evaluate("location.pathname") == "/-/status"
            dom = await page.evaluate(_WAIT_FOR_POLL)
            assert await page.evaluate("document.cookie") == ""  # HttpOnly: the page's script cannot read it
            shot = tmp_path / "status-page-signed-in.png"
            await page.screenshot(shot)
    finally:
        await client.close()
    assert shot.is_file() and shot.stat().st_size > 10_000
    out = Path(__file__).resolve().parents[2] / "test-output"
    out.mkdir(exist_ok=True)
    shutil.copyfile(shot, out / shot.name)
    assert 'data-state="live"' in dom
    assert "signed-in-viewer" in dom
    assert re.search(r'<tr data-server="N\w+">.*?class="pill up"', dom, re.S)
    assert 'class="signout"' in dom and TOKEN not in dom


EVIL_PAGE = """<!doctype html><html><body data-outcome="pending"><pre id="out"></pre><script>
function attempt(url, attr, creds) {
  return fetch(url, {credentials: creds}).then(r => r.text()).then(
    t => { document.body.setAttribute(attr, "read:" + t.length); document.getElementById("out").textContent += t; },
    e => { document.body.setAttribute(attr, "blocked:" + e.name); });
}
Promise.all([
  attempt("%(base)s/-/monitor/events", "data-events", "omit"),
  attempt("%(base)s/-/monitor/auth-errors", "data-auth", "include"),
  attempt("%(base)s/jwt/v1/operator", "data-public", "omit"),
]).then(() => document.body.setAttribute("data-outcome", "done"));
</script></body></html>"""


async def test_a_page_of_another_origin_cannot_read_the_monitor(
    start_server: StartServer, op_server: NatsServer, basic: VectorSet, tmp_path: Path
) -> None:
    """Without admin auth (loopback-only, the default) the browser on this machine is a loopback client:
    the other origin's page must still not read what it fetches."""
    binary = need_chromium()
    api = await _accountd(start_server, op_server, basic)
    async with api.http.get(api.url + "/-/monitor/events") as r:
        assert r.status == 200  # the route is there and answers loopback clients

    async def evil(request: web.Request) -> web.Response:
        return web.Response(text=EVIL_PAGE % {"base": api.url}, content_type="text/html")

    app = web.Application()
    app.router.add_get("/", evil)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        dom = await chromium(binary, tmp_path / "profile-evil", f"http://127.0.0.1:{port}/", "--dump-dom")
    finally:
        await runner.cleanup()
    body = re.search(r"<body[^>]*>", dom)
    assert body is not None, dom[:500]
    tag = body.group(0)
    assert 'data-outcome="done"' in tag, tag
    assert 'data-events="blocked:TypeError"' in tag, tag
    assert 'data-auth="blocked:TypeError"' in tag, tag
    assert 'data-public="read:' in tag, tag  # public routes stay readable cross-origin, as in the original
    assert "auth_errors" not in dom and '"events"' not in dom
