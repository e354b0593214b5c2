"""``/-/accounts``: account history, the diff between two versions, and search (admin routes).

* ``GET /-/accounts?q=TEXT&after=KEY&limit=N`` → ``{"accounts": [{"account", "name", "tags",
  "iat", "exp", "revision"}], "next": KEY|null}`` (key prefix, part of the name, or a tag);
* ``GET /-/accounts/<pub>/history?limit=N`` → ``{"account", "versions": [{"revision", "iat",
  "jti", "stored_at", "source", "issuer", "jwt", "deleted"}]}``, newest first;
* ``GET /-/accounts/<pub>/diff?from=REV&to=REV`` → the claims diff (``to`` defaults to the newest
  version, ``from`` to the live version before it), with ``lines`` for people.
"""

from __future__ import annotations

from typing import Final

from aiohttp import web

from accountd.service.history import AccountHistory
from accountd.web.params import account_param, int_param

__all__ = ["HistoryAPI"]

SEARCH_DEFAULT: Final = 100
SEARCH_MAX: Final = 1000


class HistoryAPI:
    def __init__(self, history: AccountHistory) -> None:
        self.history = history

    async def search(self, request: web.Request) -> web.Response:
        query = request.query
        after = account_param(query, "after")
        limit = int_param(query, "limit", SEARCH_DEFAULT, 1, SEARCH_MAX)
        assert limit is not None
        accounts, following = await self.history.search(query.get("q", ""), after, limit)
        return web.json_response({"accounts": accounts, "next": following})

    async def versions(self, request: web.Request) -> web.Response:
        pub = request.match_info["pub"]
        limit = int_param(request.query, "limit", None)
        versions = await self.history.versions(pub, limit)
        return web.json_response({"account": pub, "versions": versions})

    async def diff(self, request: web.Request) -> web.Response:
        pub = request.match_info["pub"]
        old = int_param(request.query, "from", None)
        new = int_param(request.query, "to", None)
        return web.json_response({"account": pub, **await self.history.diff(pub, old, new)})
