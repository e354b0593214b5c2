"""Exports, imports and activations on a real nats-server started from `accountd generate config`.

SVC exports a public service, a private service and a stream; TENANT imports them. The server has a
full resolver preloaded with every account; changes reach it through `accountd push --transport nats`
(`$SYS.REQ.CLAIMS.UPDATE`, answered after the server applied the update).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from pathlib import Path

import nats
import pytest
from nats.errors import NoRespondersError, TimeoutError

from accountd.claims import Import, decode_account, encode, load_seed
from accountd.natsclient import flushed
from accountd.natsserver import NatsServer

from .helpers import Cli


@pytest.fixture
def home(cli: Cli) -> Cli:
    cli("add", "operator", "--name", "OP", "--sys")
    for account, user in (("SVC", "svc"), ("TENANT", "t")):
        cli("add", "account", "--name", account)
        cli("add", "user", "--name", user, "--account", account)
    cli("add", "export", "-a", "SVC", "--service", "-s", "pub.echo")
    cli("add", "export", "-a", "SVC", "--service", "--private", "-s", "priv.echo")
    cli("add", "export", "-a", "SVC", "-s", "feed.>")
    return cli


@pytest.fixture
def server(home: Cli, tmp_path: Path, nats_server_binary: str) -> Iterator[Callable[[], NatsServer]]:
    """Starts the server when the test has set up its imports; stopped at the end."""
    started: list[NatsServer] = []

    def start() -> NatsServer:
        text = home("generate", "config", "--resolver", "full", "--preload-all", "--dir", str(tmp_path / "jwt")).stdout
        started.append(NatsServer(workdir=tmp_path / "nats", config=text, binary=nats_server_binary).start())
        return started[0]

    yield start
    for s in started:
        s.stop()


def creds(cli: Cli, account: str, user: str) -> str:
    return str(cli.home / "keys" / "creds" / "OP" / account / f"{user}.creds")


async def request(cli: Cli, url: str, subject: str) -> bytes | str:
    """SVC's user answers on ``subject``; TENANT's user asks. The reply, or why there was none."""
    responder = await nats.connect(url, user_credentials=creds(cli, "SVC", "svc"))
    client = await nats.connect(url, user_credentials=creds(cli, "TENANT", "t"))
    try:
        async def answer(msg: nats.aio.msg.Msg) -> None:
            await msg.respond(b"svc says: " + msg.data)

        await responder.subscribe(subject, cb=answer)
        await flushed(responder)
        await flushed(responder)
        try:
            return (await client.request(subject, b"hi", timeout=2)).data
        except NoRespondersError:
            return "no responders"
        except TimeoutError:
            return "timeout"
    finally:
        await client.close()
        await responder.close()


def push(cli: Cli, server: NatsServer, account: str) -> None:
    doc = cli.json("push", "--account", account, "--transport", "nats", "--url", server.url)
    assert [s["message"] for r in doc["results"] for s in r["servers"]] == ["jwt updated"], doc


def test_a_public_service_import_answers_the_tenant(home: Cli, server: Callable[[], NatsServer]) -> None:
    home("add", "import", "-a", "TENANT", "--src-account", "SVC", "--remote-subject", "pub.echo", "--service")
    s = server()
    assert asyncio.run(request(home, s.url, "pub.echo")) == b"svc says: hi"
    # a subject SVC does not export does not reach it
    assert asyncio.run(request(home, s.url, "priv.echo")) == "no responders"


def _import_without_token(cli: Cli) -> None:
    """What `add import` refuses to write: the private service imported as if it were public."""
    path = cli.opdir / "accounts" / "TENANT" / "TENANT.jwt"
    claims = decode_account(path.read_text())
    svc = decode_account((cli.opdir / "accounts" / "SVC" / "SVC.jwt").read_text())
    claims.nats.imports.append(Import(name="priv.echo", subject="priv.echo", account=svc.sub, type="service"))
    op = claims.iss
    seed = (cli.home / "keys" / "keys" / op[0] / op[1:3] / f"{op}.nk").read_text()
    path.write_text(str(encode(claims, load_seed(seed), now=claims.iat + 1)))


def test_a_private_service_needs_an_activation_and_stops_when_it_is_revoked(
        home: Cli, server: Callable[[], NatsServer], tmp_path: Path) -> None:
    _import_without_token(home)
    s = server()
    # nats-server loads the account but not the import: SVC's responder is never reached.
    assert asyncio.run(request(home, s.url, "priv.echo")) == "no responders"

    home("delete", "import", "-a", "TENANT", "-s", "priv.echo")
    token = tmp_path / "act.jwt"
    home("generate", "activation", "-a", "SVC", "-s", "priv.echo", "-t", "TENANT", "-o", str(token))
    home("add", "import", "-a", "TENANT", "--token", str(token))
    push(home, s, "TENANT")
    assert asyncio.run(request(home, s.url, "priv.echo")) == b"svc says: hi"

    home("revocations", "add-activation", "-a", "SVC", "--service", "-s", "priv.echo", "-t", "TENANT")
    push(home, s, "SVC")  # only the exporter changes: the server drops the importer's service import itself
    assert asyncio.run(request(home, s.url, "priv.echo")) == "no responders"


async def stream(cli: Cli, url: str) -> bytes:
    receiver = await nats.connect(url, user_credentials=creds(cli, "TENANT", "t"))
    sender = await nats.connect(url, user_credentials=creds(cli, "SVC", "svc"))
    try:
        sub = await receiver.subscribe("feed.>")
        await flushed(receiver)
        await flushed(receiver)
        await sender.publish("feed.eu", b"tick")
        msg = await sub.next_msg(timeout=5)
        return msg.subject.encode() + b" " + msg.data
    finally:
        await receiver.close()
        await sender.close()


def test_a_stream_import_delivers(home: Cli, server: Callable[[], NatsServer]) -> None:
    home("add", "import", "-a", "TENANT", "--src-account", "SVC", "--remote-subject", "feed.>")
    assert asyncio.run(stream(home, server().url)) == b"feed.eu tick"
