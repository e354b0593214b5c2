"""``/jwt/v1``: the nats-account-server API, kept path for path, with accountd's fixes (SPEC §6).

GETs are served from the service's bounded cache of hot accounts, so the hot path is a dict lookup
and a response object; a miss is one store lookup.
"""

from __future__ import annotations

import asyncio
from typing import Any, Final

from aiohttp import web

from accountd.bus.notifier import Notifier
from accountd.claims import decode_unverified, is_account_key
from accountd.errors import AccountNotFound, BadRequest, RequestTimeout, TooLarge
from accountd.service import AccountService, CachedAccount
from accountd.service.cache import segment
from accountd.web.audit import attempt_of
from accountd.web.params import account_param, int_param

__all__ = ["MAX_BODY", "AccountsAPI", "etag_matches", "is_true"]

MAX_BODY: Final = 1 << 20
PACK_LIMIT: Final = 10000
LIST_LIMIT_DEFAULT: Final = 100
LIST_LIMIT_MAX: Final = 1000
_TRUE: Final = frozenset({"true", "1", "yes"})
_PROBE_HEADERS: Final = {
    "Cache-Control": "no-cache, no-store, must-revalidate",
    "Pragma": "no-cache",
    "Expires": "0",
}


def is_true(value: str | None) -> bool:
    return value is not None and value.lower() in _TRUE


def etag_matches(header: str, etag: str) -> bool:
    """``If-None-Match`` as a list: ``*``, weak validators and several tags are understood."""
    for item in header.split(","):
        tag = item.strip()
        if tag == "*":
            return True
        if tag.startswith("W/"):
            tag = tag[2:]
        if tag == etag:
            return True
    return False


async def read_body(request: web.Request, timeout: float = 30.0) -> bytes:
    """The request body, refusing more than 1 MiB before reading it all, and 408 when it has not
    all arrived within ``timeout`` seconds of the handler asking for it."""
    length = request.content_length
    if length is not None and length > MAX_BODY:
        raise TooLarge(f"request body exceeds {MAX_BODY} bytes")
    chunks: list[bytes] = []
    size = 0
    try:
        async with asyncio.timeout(timeout):
            async for chunk in request.content.iter_chunked(65536):
                size += len(chunk)
                if size > MAX_BODY:
                    raise TooLarge(f"request body exceeds {MAX_BODY} bytes")
                chunks.append(chunk)
    except TimeoutError:
        raise RequestTimeout(f"request body not received within {timeout:g} s") from None
    return b"".join(chunks)


def decoded_view(token: str) -> dict[str, Any]:
    """``?decode=true``: valid JSON (the original's view was not), import tokens decoded."""
    header, payload, signature = token.split(".")
    claims = segment(payload)
    for imp in claims.get("nats", {}).get("imports") or []:
        if isinstance(imp, dict) and isinstance(imp.get("token"), str):
            try:
                imp["token"] = decode_unverified(imp["token"]).to_go()
            except ValueError:
                pass  # not a JWT: shown as it is
    return {"header": segment(header), "claims": claims, "signature": signature}


class AccountsAPI:
    def __init__(self, service: AccountService, notifier: Notifier | None, operator_jwt: str, help_text: str,
                 *, body_timeout: float = 30.0) -> None:
        self.service = service
        self.notifier = notifier
        self.operator_jwt = operator_jwt
        self.help_text = help_text
        self.body_timeout = body_timeout

    # --- helpers -----------------------------------------------------------------------------

    @staticmethod
    def _key(request: web.Request) -> str:
        pub = request.match_info["pub"]
        if not is_account_key(pub):
            raise BadRequest("invalid account public key", "invalid_key")
        return pub

    @staticmethod
    def _jwt_response(entry: CachedAccount, *, head: bool = False) -> web.Response:
        return web.Response(
            body=None if head else entry.body,
            headers={"ETag": entry.etag, "Content-Type": "application/jwt", "Cache-Control": "no-cache"},
        )

    # --- routes ------------------------------------------------------------------------------

    async def help(self, request: web.Request) -> web.Response:
        return web.Response(text=self.help_text, content_type="text/plain")

    async def operator(self, request: web.Request) -> web.Response:
        if is_true(request.query.get("decode")):
            return web.json_response(decoded_view(self.operator_jwt))
        if is_true(request.query.get("text")):
            return web.Response(text=self.operator_jwt, content_type="text/plain")
        return web.Response(text=self.operator_jwt, content_type="application/jwt")

    async def accounts_root(self, request: web.Request) -> web.Response:
        """The resolver probe (nats-server exits at startup unless this is 200), or ``?list=true``."""
        if not is_true(request.query.get("list")):
            return web.Response(headers=_PROBE_HEADERS)
        limit = int_param(request.query, "limit", LIST_LIMIT_DEFAULT, 1, LIST_LIMIT_MAX)
        assert limit is not None
        entries, following = await self.service.page(account_param(request.query, "after"), limit)
        return web.json_response({
            "accounts": [e.summary() for e in entries],
            "next": following,
        })

    async def get_account(self, request: web.Request) -> web.Response:
        pub = request.match_info["pub"]
        entry = self.service.cached(pub)
        if request.query_string:
            return await self._get_with_flags(request, pub, entry)
        if entry is None:
            entry = await self.service.load(pub)  # checks the key (400) as it needs
        inm = request.headers.get("If-None-Match")
        if inm is not None and etag_matches(inm, entry.etag):
            return web.Response(status=304, headers={"ETag": entry.etag})
        return self._jwt_response(entry, head=request.method == "HEAD")

    async def _get_with_flags(self, request: web.Request, pub: str, entry: CachedAccount | None) -> web.Response:
        query = request.query
        if "jti" in query:
            # The original answered 501, a 5xx for what is the client's mistake.
            raise BadRequest("lookup by jti is not supported: GET the account by its public key", "jti_unsupported")
        if entry is None:
            entry = await self.service.load(pub)
        headers = {"ETag": entry.etag}
        if is_true(query.get("text")):
            return web.Response(text=entry.jwt, content_type="text/plain", headers=headers)
        if is_true(query.get("decode")):
            return web.json_response(decoded_view(entry.jwt), headers=headers)
        if is_true(query.get("check")) and 0 < entry.exp < self.service.clock():
            raise AccountNotFound()
        inm = request.headers.get("If-None-Match")
        if inm is not None and etag_matches(inm, entry.etag):
            return web.Response(status=304, headers=headers)
        if is_true(query.get("notify")) and self.notifier is not None:
            await self.notifier.notify(entry.record)
        return self._jwt_response(entry, head=request.method == "HEAD")

    async def post_account(self, request: web.Request) -> web.Response:
        pub = self._key(request)
        body = await read_body(request, self.body_timeout)
        result = await self.service.put(body, pub, attempt=attempt_of(request))
        text = "".join(note + "\n" for note in result.notes)
        return web.Response(text=text, content_type="text/plain") if text else web.Response()

    async def delete_account(self, request: web.Request) -> web.Response:
        pub = self._key(request)
        body = await read_body(request, self.body_timeout)
        count = await self.service.delete(body, pub, attempt=attempt_of(request))
        return web.Response(text=f"deleted {count} accounts\n", content_type="text/plain")

    async def pack(self, request: web.Request) -> web.Response:
        raw = request.query.get("max")
        limit = PACK_LIMIT
        if raw is not None:
            try:
                limit = int(raw)
            except ValueError:
                raise BadRequest(f'bad max parameter "{raw}"', "bad_parameter") from None
            if limit < 0:
                raise BadRequest(f'bad max parameter "{raw}": must not be negative', "bad_parameter")
            if limit > PACK_LIMIT:
                raise BadRequest(f"max parameter {limit} too large, no more than {PACK_LIMIT} are allowed",
                                 "bad_parameter")
        entries = await self.service.pack(limit)
        return web.Response(text="\n".join(f"{e.account}|{e.jwt}" for e in entries), content_type="text/plain")
