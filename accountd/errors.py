"""Errors the service raises; the HTTP layer and the NATS responder turn them into replies.

::

    ServiceError                     status + stable code + message (the text nsc prints)
    ├── BadRequest        400        e.g. "bad JWT in request", validation failures
    ├── Unauthorized      401        an admin route without valid credentials (WWW-Authenticate)
    ├── Forbidden         403        e.g. delete not allowed, managed-mode policy, admin from afar
    ├── AccountNotFound   404        "no matching account JWT"
    ├── RequestTimeout    408        the request body did not arrive in time
    ├── StaleJWT          409        an older iat than the stored JWT (no rollback)
    ├── TooLarge          413        body over 1 MiB
    ├── RateLimited       429        too many writes from one client (Retry-After)
    ├── Unavailable       500        the store failed ("error saving JWT")
    └── NotSupported      501        a feature accountd does not have (none today: ?jti= is a 400)

Each is converted to a response in exactly one place per transport
(:mod:`accountd.http.errors`, :mod:`accountd.bus.responder`).
"""

from __future__ import annotations

__all__ = [
    "AccountNotFound",
    "BadRequest",
    "Forbidden",
    "NotSupported",
    "RateLimited",
    "RequestTimeout",
    "ServiceError",
    "StaleJWT",
    "TooLarge",
    "Unauthorized",
    "Unavailable",
]


class ServiceError(Exception):
    status = 500
    default_code = "error"

    def __init__(self, message: str, code: str | None = None, *, body: str | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code or self.default_code
        self.body = body
        """Exact text/plain body when it is not ``message + "\\n"`` (the validation list)."""
        self.headers = headers or {}
        """HTTP headers the answer carries (``WWW-Authenticate``, ``Retry-After``)."""

    def text(self) -> str:
        return self.body if self.body is not None else self.message + "\n"


class BadRequest(ServiceError):
    status = 400
    default_code = "bad_request"


class Unauthorized(ServiceError):
    status = 401
    default_code = "unauthorized"


class Forbidden(ServiceError):
    status = 403
    default_code = "forbidden"


class AccountNotFound(ServiceError):
    status = 404
    default_code = "not_found"

    def __init__(self, message: str = "no matching account JWT", code: str | None = None) -> None:
        super().__init__(message, code)


class RequestTimeout(ServiceError):
    status = 408
    default_code = "request_timeout"


class StaleJWT(ServiceError):
    status = 409
    default_code = "stale_iat"


class TooLarge(ServiceError):
    status = 413
    default_code = "too_large"


class RateLimited(ServiceError):
    status = 429
    default_code = "rate_limited"

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message, headers={"Retry-After": str(retry_after)})
        self.retry_after = retry_after


class Unavailable(ServiceError):
    status = 500
    default_code = "store_error"


class NotSupported(ServiceError):
    status = 501
    default_code = "not_supported"
