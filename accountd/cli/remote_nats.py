"""Push, pull, list and delete over NATS with the ``$SYS.REQ.CLAIMS.*`` subjects (SPEC §5.4, §8.2).

Replies are the §5.5 envelope, parsed by key. A request waits until ``expect`` servers answered
(one for a standalone server) or the timeout passes — never a fixed wait per account (nsc#464);
``push --all`` sends every update at once and collects the replies concurrently.

Credentials, as nsc does it: a temporary user signed by the system account (valid 2 minutes,
publish only on the claim subjects, subscribe on ``_INBOX.>``), or ``--creds FILE``.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass
from typing import Any

import nats
from nats.aio.client import Client, RawCredentials

from accountd.claims.codec import encode
from accountd.claims.creds import format_creds
from accountd.claims.keys import KeyPair, Role, create
from accountd.claims.new import new_user
from accountd.cli.remote_http import RemoteError
from accountd.natsclient import NatsConnectError, NatsTLS, connect

__all__ = ["NatsRemote", "Reply", "parse_reply", "temporary_user"]

UPDATE = "$SYS.REQ.CLAIMS.UPDATE"
LIST = "$SYS.REQ.CLAIMS.LIST"
DELETE = "$SYS.REQ.CLAIMS.DELETE"
PACK = "$SYS.REQ.CLAIMS.PACK"
LOOKUP = "$SYS.REQ.ACCOUNT.{}.CLAIMS.LOOKUP"


@dataclass(frozen=True)
class Reply:
    server: str
    ok: bool
    message: str
    data: Any = None

    def to_json(self) -> dict[str, Any]:
        return {"server": self.server, "ok": self.ok, "message": self.message}


def parse_reply(raw: bytes) -> Reply:
    """One §5.5 envelope. Without ``server.name`` it is not a server's answer (nsc would crash)."""
    try:
        doc = json.loads(raw)
    except ValueError:
        return Reply("?", False, f"reply is not JSON: {raw[:80]!r}")
    if not isinstance(doc, dict):
        return Reply("?", False, "reply is not a JSON object")
    server = doc.get("server")
    name = server.get("name") if isinstance(server, dict) else None
    if not name:
        return Reply("?", False, "server responded without server name in info")
    error = doc.get("error")
    if isinstance(error, dict):
        return Reply(str(name), False, str(error.get("description", "error")), error)
    if "data" not in doc:
        return Reply(str(name), False, "reply has neither data nor error")
    data = doc["data"]
    message = data.get("message", "") if isinstance(data, dict) else ""
    return Reply(str(name), True, str(message), data)


def temporary_user(system_signer: KeyPair, system_account: str) -> str:
    """Creds of a short-lived system-account user allowed only the claim requests."""
    kp = create(Role.USER)
    on_behalf = system_signer.public_key != system_account
    claims = new_user(kp.public_key, "accountd temporary push user", system_account if on_behalf else "")
    claims.exp = int(time.time()) + 120
    claims.nats.pub.allow = [UPDATE, LIST, DELETE, PACK, LOOKUP.format("*")]
    claims.nats.sub.allow = ["_INBOX.>"]
    return format_creds(encode(claims, system_signer), kp.seed)


class NatsRemote:
    """``async with NatsRemote(url, creds) as r: await r.push(...)``; ``tls``: the TLS files to use."""

    def __init__(self, url: str, creds: str, *, creds_is_file: bool = False, timeout: float = 5.0,
                 expect: int = 1, tls: NatsTLS | None = None) -> None:
        self.url, self.timeout, self.expect = url, timeout, expect
        self.tls = tls or NatsTLS()
        self._creds: Any = creds if creds_is_file else RawCredentials(creds)
        self._nc: Client | None = None

    async def __aenter__(self) -> NatsRemote:
        async def quiet(exc: Exception) -> None:
            pass

        try:
            # nats-py 2.16 retries a refused first connect forever when max_reconnect_attempts is 0
            # (seen against a closed port); 1 makes it give up after the second try.
            self._nc = await connect(
                [self.url], tls=self.tls, timeout=self.timeout * 2 + 1, user_credentials=self._creds,
                connect_timeout=self.timeout, allow_reconnect=False, max_reconnect_attempts=1,
                reconnect_time_wait=0.05, name="accountd push", error_cb=quiet,
            )
        except NatsConnectError as exc:
            raise RemoteError(
                f"cannot connect to {self.url}: {exc}",
                "check --nats-tls-ca/--nats-tls-cert/--nats-tls-key" if exc.tls else
                "is nats-server running there, and is the system account known to it (preloaded or resolvable)?",
            ) from None
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._nc is not None:
            await self._nc.close()

    async def _collect(self, subject: str, payload: bytes, *, until_empty: bool = False) -> list[bytes]:
        assert self._nc is not None
        nc = self._nc
        inbox = nc.new_inbox()
        sub = await nc.subscribe(inbox)
        await nc.publish(subject, payload, reply=inbox)
        replies: list[bytes] = []
        deadline = asyncio.get_running_loop().time() + self.timeout
        try:
            while until_empty or len(replies) < self.expect:
                remaining = deadline - asyncio.get_running_loop().time()
                if remaining <= 0:
                    break
                try:
                    msg = await sub.next_msg(timeout=remaining)
                except nats.errors.TimeoutError:
                    break
                if msg.headers and msg.headers.get("Status") == "503":
                    raise RemoteError(
                        f"no server answers {subject} at {self.url}",
                        "its resolver is not full/cache and no account server listens there; push over HTTP",
                    )
                if until_empty and not msg.data:
                    break
                replies.append(msg.data)
        finally:
            await sub.unsubscribe()
        return replies

    async def push(self, tokens: dict[str, str]) -> dict[str, list[Reply]]:
        """Send every account update at once; map account key → the replies received."""
        keys = list(tokens)
        raw = await asyncio.gather(*(self._collect(UPDATE, tokens[k].encode()) for k in keys))
        return {k: [parse_reply(r) for r in replies] for k, replies in zip(keys, raw, strict=True)}

    async def list_accounts(self) -> tuple[set[str], list[Reply]]:
        replies = [parse_reply(r) for r in await self._collect(LIST, b"")]
        keys: set[str] = set()
        for reply in replies:
            if reply.ok and isinstance(reply.data, list):
                keys.update(str(k) for k in reply.data)
        return keys, replies

    async def delete(self, request_token: str) -> list[Reply]:
        return [parse_reply(r) for r in await self._collect(DELETE, request_token.encode())]

    async def lookup(self, public_key: str) -> str | None:
        """The first non-empty LOOKUP reply (an empty one means "not found" on that server)."""
        for data in await self._collect(LOOKUP.format(public_key), b""):
            if data.strip():
                return data.decode().strip()
        return None

    async def pack(self) -> dict[str, str]:
        """Every account the servers hold (``$SYS.REQ.CLAIMS.PACK``, read until the empty terminator)."""
        out: dict[str, str] = {}
        for data in await self._collect(PACK, b"", until_empty=True):
            for line in data.decode().splitlines():
                key, sep, token = line.strip().partition("|")
                if sep and "|" not in token:
                    out[key] = token
        return out
