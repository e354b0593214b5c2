"""The HTTP side of the audit log: every POST and DELETE of an account recorded in one place, and
``GET /-/audit``.

:func:`audited` wraps a write from the edge middleware, before the write limit, so a request
refused at the door (429), for its body (413, 408) or by the service (400, 403, 404, 409, 500)
leaves one record, and an accepted one too. It opens the request's
:class:`~accountd.service.audit.Attempt` (``request[ATTEMPT]``), which the handler hands to the
service: that is also how the version's origin (``{"via": "http", "client": ADDRESS}``) reaches
the store.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Final

from aiohttp import web

from accountd.claims import is_account_key
from accountd.errors import AccountNotFound, ServiceError
from accountd.service.audit import Attempt, AuditLog
from accountd.service.origin import http_origin
from accountd.web.params import account_param, float_param, int_param

__all__ = ["ATTEMPT", "AuditAPI", "attempt_of", "audited"]

ATTEMPT: Final = web.RequestKey("write_attempt", Attempt)
"""``request[ATTEMPT]``: the write attempt of a POST or DELETE, for the service to fill in."""
READ_DEFAULT: Final = 100
READ_MAX: Final = 1000
_OPS: Final = {"POST": "put", "DELETE": "delete"}

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def attempt_of(request: web.Request) -> Attempt:
    """The request's attempt (opened by :func:`audited`; a fresh one for a request that was not)."""
    attempt = request.get(ATTEMPT)
    if attempt is None:
        attempt = request[ATTEMPT] = Attempt(_OPS.get(request.method, "put"), http_origin(request.remote))
    return attempt


async def audited(request: web.Request, audit: AuditLog, call: Handler) -> web.StreamResponse:
    """Run ``call`` for a POST or DELETE of an account and record how it ended."""
    pub = request.match_info.get("pub")
    attempt = request[ATTEMPT] = Attempt(_OPS[request.method], http_origin(request.remote),
                                         account=pub if pub and is_account_key(pub) else None)
    try:
        response = await call(request)
    except ServiceError as exc:
        audit.record(attempt, status=exc.status, code=exc.code, message=exc.message)
        raise
    except web.HTTPException as exc:
        if exc.status >= 400:
            audit.record(attempt, status=exc.status, code=exc.reason.lower().replace(" ", "_"),
                         message=exc.text or exc.reason)
        raise
    except Exception:
        audit.record(attempt, status=500, code="internal_error", message="internal error")
        raise
    audit.record(attempt, status=response.status)
    return response


class AuditAPI:
    """``GET /-/audit?account=KEY&since=UNIX&limit=N`` → ``{"records": [...]}``, newest first."""

    def __init__(self, audit: AuditLog) -> None:
        self.audit = audit

    async def get(self, request: web.Request) -> web.Response:
        query = request.query
        account = account_param(query, "account")
        since = float_param(query, "since")
        limit = int_param(query, "limit", READ_DEFAULT, 1, READ_MAX)
        assert limit is not None
        if not self.audit.enabled:
            raise AccountNotFound("the audit log is off (start accountd serve with --audit-log FILE)", "audit_off")
        records = await self.audit.read(account=account, since=since, limit=limit)
        return web.json_response({"records": records})
