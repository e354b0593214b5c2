"""Helpers for the resolver tests: real nats-servers, an in-process accountd, waiting on conditions."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nats
from nats.aio.client import Client

from accountd.claims import AccountClaims, encode
from accountd.config import Settings
from accountd.natsserver import NatsServer, find_nats_server, free_port
from accountd.resolver import AccountDiff, FleetReport, FleetWalk, compare
from accountd.server import Server
from harness import operator_mode_config
from world import Account, World

LIMIT_ERROR = "maximum account active connections exceeded"


async def eventually(
    check: Callable[[], Awaitable[bool] | bool], *, timeout: float = 15.0, interval: float = 0.05, what: str = ""
) -> None:
    """Poll ``check`` until it is true; AssertionError after ``timeout`` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        result = check()
        if inspect.isawaitable(result):
            result = await result
        if result:
            return
        if loop.time() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what or check}")
        await asyncio.sleep(interval)


def nats_server(workdir: Path, world_files: dict[str, Path], sys_account: Account, resolver: str, *,
                name: str = "n1", port: int | None = None, extra: str = "") -> NatsServer:
    config = operator_mode_config(world_files["operator"], sys_account.pub, resolver,
                                  {sys_account.pub: sys_account.jwt}, extra)
    return NatsServer(workdir=workdir, config=config, name=name, binary=find_nats_server(),
                      port=port or free_port())


def full_resolver(jwt_dir: Path, *, allow_delete: bool = False) -> str:
    return f'{{ type: full, dir: "{jwt_dir}", allow_delete: {str(allow_delete).lower()}, interval: "1h" }}'


def cluster(listen: int, routes: list[int]) -> str:
    urls = ", ".join(f"nats://127.0.0.1:{p}" for p in routes)
    return f"cluster {{ name: c, listen: 127.0.0.1:{listen}, routes: [{urls}] }}\n"


async def start_accountd(files: dict[str, Path], *, port: int | None = None, nats_url: str | None = None,
                         store: str = "memory:") -> Server:
    settings = Settings(listen=f"127.0.0.1:{port or free_port()}", operator=str(files["operator"]), store=store,
                        nats=[nats_url] if nats_url else [], creds=str(files["sys_creds"]) if nats_url else "")
    server = Server(settings)
    await server.start()
    if server.bus is not None:
        assert await server.bus.wait_connected(15), "accountd did not connect to NATS"
    return server


async def close_accountd(server: Server) -> None:
    """``Server.close()``, made safe against a Python 3.11 race: ``Notifier._run`` waits with
    ``asyncio.wait_for`` on an event that ``close()`` sets (``flush``) just before cancelling the
    task, and wait_for then swallows the cancellation — ``close()`` waited forever in about one run
    in thirty. Stopping the outbox task first, while nothing wakes it, avoids the race; the bound
    is a last resort."""
    await server.notifier.stop()
    try:
        async with asyncio.timeout(20):
            await server.close()
    except TimeoutError:
        if server.bus is not None:
            await server.bus.close()
        await server.store.close()


def accountd_url(server: Server) -> str:
    host, port = server.address
    return f"http://{host}:{port}"


def signed(world: World, account: Account, *, iat: int, signer: Any = None, **fields: Any) -> str:
    """``account`` re-issued with top-level claim fields changed (``exp``, ``nbf``…)."""
    claims = AccountClaims.from_go(account.claims.to_go())
    for k, v in fields.items():
        setattr(claims, k, v)
    return encode(claims, signer or world.operator, now=iat)


async def sys_client(url: str, creds: Path) -> Client:
    return await nats.connect(url, user_credentials=str(creds), name="test-sys", connect_timeout=5,
                              allow_reconnect=False, max_reconnect_attempts=0)


async def connect_user(url: str, creds: Path) -> Client:
    errors: list[Exception] = []

    async def on_error(exc: Exception) -> None:
        errors.append(exc)

    try:
        return await nats.connect(url, user_credentials=str(creds), allow_reconnect=False, max_reconnect_attempts=0,
                                  connect_timeout=3, error_cb=on_error)
    except Exception as exc:
        raise ConnectionError("; ".join(str(e) for e in [*errors, exc])) from exc


async def refused(url: str, creds: Path) -> str:
    """The error of a connection attempt, or "" when it connected (and was closed again)."""
    try:
        nc = await connect_user(url, creds)
    except ConnectionError as exc:
        return str(exc)
    await nc.close()
    return ""


async def roundtrip(nc: Client, subject: str = "resolver.test") -> None:
    sub = await nc.subscribe(subject)
    await nc.publish(subject, b"x")
    assert (await sub.next_msg(timeout=5)).data == b"x"
    await sub.unsubscribe()


@dataclass
class Calls:
    """Records resolver update callbacks; ``wait`` returns once one matches."""

    items: list[tuple[AccountClaims, AccountClaims, AccountDiff]] = field(default_factory=list)
    changed: asyncio.Condition = field(default_factory=asyncio.Condition)

    async def __call__(self, old: AccountClaims, new: AccountClaims, diff: AccountDiff) -> None:
        self.items.append((old, new, diff))
        async with self.changed:
            self.changed.notify_all()

    def of(self, account: str) -> list[tuple[AccountClaims, AccountClaims, AccountDiff]]:
        return [c for c in self.items if c[1].sub == account]

    async def wait(self, account: str, jti: str | None = None, timeout: float = 10.0) -> AccountDiff:
        def found() -> bool:
            return any(jti is None or new.jti == jti for _, new, _ in self.of(account))

        async with self.changed:
            await asyncio.wait_for(self.changed.wait_for(found), timeout)
        return next(d for _, new, d in self.of(account) if jti is None or new.jti == jti)


async def walk_report(nc: Client, http: Any = None, **kw: Any) -> FleetReport:
    """A whole :class:`FleetWalk`, every row kept (the fleets of these tests are small)."""
    walk = FleetWalk(nc, http, **kw)
    await walk.start()
    total = walk.report()
    async for page in walk.pages():
        total.add(compare(page), keep=1_000_000)
    return total
