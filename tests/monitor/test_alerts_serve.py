"""``accountd serve --nats … --alert-webhook URL``: an account pushed with ``conn=3`` holding 3
connections raises the limit alert at the receiver (a real aiohttp server), which hears it clear when
they close; ``GET /-/monitor/alerts`` lists it meanwhile, and ``/metrics`` counts the deliveries."""

from __future__ import annotations

import re
from pathlib import Path

from harness import NatsFactory, operator_mode_config
from serving import StartServer
from world import World

from .support import open_client
from .webhook_receiver import Receiver, receiver_fixture  # noqa: F401  (the receiver fixture)


async def test_serve_posts_the_limit_alert_of_a_pushed_account_and_its_clear(
    start_server: StartServer, nats_factory: NatsFactory, world: World, tmp_path: Path,
    receiver: Receiver,
) -> None:  # fmt: skip
    capped = world.account("capped", conn=3)
    files = world.write(tmp_path / "files")
    server = nats_factory(operator_mode_config(files["operator"], world.sys.pub, "MEMORY",
                                               {world.sys.pub: world.sys.jwt, capped.pub: capped.jwt}))  # fmt: skip
    creds = tmp_path / "capped.creds"
    world.user_creds(capped, "u", creds)
    api = await start_server(nats=[server.url], creds=str(files["sys_creds"]), alert_webhook=receiver.url)
    assert (await api.post(capped.pub, capped.jwt)).status in (200, 201)
    clients = [await open_client(server.url, creds, f"capped-{i}") for i in range(3)]
    try:
        await receiver.wait_for("limit", capped.pub, ["firing"])
        async with api.http.get(f"{api.url}/-/monitor/alerts") as resp:
            doc = await resp.json()
        (alert,) = [a for a in doc["alerts"] if a["rule"] == "limit"]
        assert alert["subject"] == capped.pub and alert["value"] == 1.0
        assert alert["message"] == "capped: conn 3 of 3 (100%)"
    finally:
        for nc in clients:
            await nc.close()
    await receiver.wait_for("limit", capped.pub, ["firing", "resolved"])
    async with api.http.get(f"{api.url}/metrics") as resp:
        metrics = await resp.text()
    sent = re.search(r'^accountd_alert_webhook_messages_total\{outcome="sent"\} (\d+)', metrics, re.M)
    # In order: the clear is POSTed only after the firing message's POST was answered and counted.
    assert sent is not None and int(float(sent.group(1))) >= 1
    assert re.search(r"^accountd_alert_webhook_queue \d", metrics, re.M)
