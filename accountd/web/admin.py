"""Who may use the admin routes: bearer tokens, client certificates, session cookies, loopback.

:func:`credentials_of` reads what a request brings into a :class:`Credentials`; the decision,
:meth:`AdminAuth.decide`, is a function of that alone (so it can be checked for any address), and
raises :class:`~accountd.errors.Unauthorized` (401) or :class:`~accountd.errors.Forbidden` (403)
with the reason. The rules:

- With ``--admin-token-file`` or ``--tls-client-ca`` configured, an admin request needs
  ``Authorization: Bearer <token>`` (one of the file's tokens, compared in constant time), a
  verified client certificate, or a session cookie from ``/-/signin`` (GET and HEAD only).
- With neither, admin routes answer loopback clients asking for a loopback host only (the Host
  check keeps a DNS-rebinding page out).
- Credentials a browser adds by itself (a cookie, a client certificate, being on loopback) do not
  count for a request another origin or site sent (``Sec-Fetch-Site``, ``Origin``); a bearer
  token cannot be sent that way without a CORS preflight, which admin routes refuse.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import secrets
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import Final

from aiohttp import web

from accountd.errors import Forbidden, Unauthorized
from accountd.tokenfile import read_tokens

__all__ = ["SESSION_COOKIE", "AdminAuth", "Credentials", "Via", "credentials_of", "is_loopback"]

SESSION_COOKIE: Final = "accountd_session"
SESSION_TTL: Final = 8 * 3600.0
MAX_SESSIONS: Final = 1024
CHALLENGE: Final = {"WWW-Authenticate": 'Bearer realm="accountd"'}
_LOOPBACK_NAMES: Final = frozenset({"localhost", "localhost."})


class Via(Enum):
    """How an admin request was let in (``request[VIA]`` for the handlers)."""

    TOKEN = "token"
    CERTIFICATE = "certificate"
    SESSION = "session"
    LOOPBACK = "loopback"


@dataclass(frozen=True)
class Credentials:
    """What one request brings; ``bearer`` is ``""`` for a malformed Authorization header."""

    peer: str
    host: str = ""
    method: str = "GET"
    bearer: str | None = None
    session: str | None = None
    client_cert: bool = False
    foreign: bool = False


def is_loopback(address: str) -> bool:
    try:
        ip = ipaddress.ip_address(address.split("%")[0])
    except ValueError:
        return address in _LOOPBACK_NAMES
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_loopback


def _hostname(host: str) -> str:
    """``[::1]:9090`` → ``::1``, ``localhost:9090`` → ``localhost``."""
    if host.startswith("["):
        return host[1:].partition("]")[0]
    name, sep, port = host.rpartition(":")
    return name if sep and port.isdigit() and ":" not in name else host


def _foreign(request: web.BaseRequest) -> bool:
    """Whether a browser says another origin or site made this request: ``Sec-Fetch-Site`` where it
    sends one (right behind a TLS-terminating proxy too), else an ``Origin`` that is not ours."""
    site = request.headers.get("Sec-Fetch-Site")
    if site is not None:
        return site not in ("same-origin", "none")
    origin = request.headers.get("Origin")
    return origin is not None and origin != f"{request.scheme}://{request.host}"


def _bearer(request: web.BaseRequest) -> str | None:
    header = request.headers.get("Authorization")
    if header is None:
        return None
    scheme, _, token = header.strip().partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else ""


def credentials_of(request: web.BaseRequest) -> Credentials:
    cert = request.transport.get_extra_info("peercert") if request.transport is not None else None
    return Credentials(
        peer=request.remote or "",
        host=_hostname(request.headers.get("Host", "")),
        method=request.method,
        bearer=_bearer(request),
        session=request.cookies.get(SESSION_COOKIE),
        client_cert=bool(cert),  # with CERT_OPTIONAL, only a certificate the CA verified gets here
        foreign=_foreign(request),
    )


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


class AdminAuth:
    """The admin tokens (re-read by :meth:`load`), whether client certificates count, and the
    browser sessions made from a token (each dropped when its token leaves the file)."""

    def __init__(self, token_file: str = "", *, client_certs: bool = False, session_ttl: float = SESSION_TTL,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.token_file = token_file
        self.client_certs = client_certs
        self.session_ttl = session_ttl
        self.clock = clock
        self._tokens: list[bytes] = []
        self._sessions: OrderedDict[str, tuple[bytes, float]] = OrderedDict()  # id -> (token digest, expiry)

    @property
    def configured(self) -> bool:
        return bool(self.token_file) or self.client_certs

    @property
    def has_tokens(self) -> bool:
        return bool(self._tokens)

    def load(self) -> int:
        """(Re-)read the token file: the number of tokens; sessions of removed tokens end.

        Raises :class:`~accountd.tokenfile.TokenFileError`; the tokens in use stay as they were.
        """
        if not self.token_file:
            return 0
        tokens = [t.encode() for t in read_tokens(self.token_file)]
        self._tokens = tokens
        kept = {hashlib.sha256(t).digest() for t in tokens}
        for sid in [sid for sid, (digest, _) in self._sessions.items() if digest not in kept]:
            del self._sessions[sid]
        return len(tokens)

    def describe(self) -> str:
        """How admin routes are protected, for the start-up log (never a token)."""
        ways = []
        if self.token_file:
            ways.append(f"{len(self._tokens)} bearer token(s) from {self.token_file}")
        if self.client_certs:
            ways.append("client certificates signed by --tls-client-ca")
        if not ways:
            return ("admin routes answer loopback clients only (no --admin-token-file or --tls-client-ca "
                    "configured)")
        return "admin routes need " + " or ".join(ways)

    def match(self, candidate: str) -> bytes | None:
        """The digest of the admin token ``candidate`` equals, compared with every one in constant time."""
        found = None
        given = candidate.encode()
        for token in self._tokens:
            if hmac.compare_digest(given, token):
                found = token
        return None if found is None else hashlib.sha256(found).digest()

    # --- sessions ----------------------------------------------------------------------------

    def sign_in(self, token: str) -> str | None:
        """A new session id for a valid token, else None."""
        digest = self.match(token)
        if digest is None:
            return None
        now = self.clock()
        self._expire(now)
        sid = secrets.token_urlsafe(32)
        self._sessions[sid] = (digest, now + self.session_ttl)
        while len(self._sessions) > MAX_SESSIONS:
            self._sessions.popitem(last=False)
        return sid

    def sign_out(self, sid: str | None) -> None:
        if sid is not None:
            self._sessions.pop(sid, None)

    def session_valid(self, sid: str) -> bool:
        entry = self._sessions.get(sid)
        if entry is None:
            return False
        if entry[1] <= self.clock():
            del self._sessions[sid]
            return False
        return True

    def _expire(self, now: float) -> None:
        for sid in [sid for sid, (_, until) in self._sessions.items() if until <= now]:
            del self._sessions[sid]

    # --- the decision ------------------------------------------------------------------------

    def decide(self, c: Credentials) -> Via:
        if not self.configured:
            return self._loopback(c)
        if c.bearer is not None:
            if not c.bearer:
                raise Unauthorized("malformed Authorization header: expected 'Bearer <token>'", "bad_credentials",
                                   headers=CHALLENGE)
            if self.match(c.bearer) is None:
                raise Unauthorized("the bearer token is not one of the admin tokens", "bad_credentials",
                                   headers=CHALLENGE)
            return Via.TOKEN
        if c.client_cert and self.client_certs:
            self._same_origin(c)
            return Via.CERTIFICATE
        if c.session is not None:
            if not self.session_valid(c.session):
                raise Unauthorized("the session has expired or was signed out: sign in again", "session_expired",
                                   headers=CHALLENGE)
            if c.method not in ("GET", "HEAD"):
                raise Unauthorized("a session cookie authorises GET and HEAD only: send Authorization: Bearer",
                                   "bad_credentials", headers=CHALLENGE)
            self._same_origin(c)
            return Via.SESSION
        wanted = []
        if self.token_file:
            wanted.append("Authorization: Bearer <token> (a token from --admin-token-file)")
        if self.client_certs:
            wanted.append("a client certificate signed by --tls-client-ca")
        raise Unauthorized("admin route: send " + " or ".join(wanted), "unauthorized", headers=CHALLENGE)

    @staticmethod
    def _loopback(c: Credentials) -> Via:
        if not is_loopback(c.peer):
            raise Forbidden(f"admin routes answer loopback clients only (no --admin-token-file or --tls-client-ca "
                            f"is configured) and {c.peer or 'this client'} is not loopback", "admin_loopback_only")
        if c.host and not is_loopback(c.host):
            raise Forbidden(f"without --admin-token-file admin routes answer requests for a loopback host only, "
                            f"not Host {c.host}", "admin_loopback_only")
        AdminAuth._same_origin(c)
        return Via.LOOPBACK

    @staticmethod
    def _same_origin(c: Credentials) -> None:
        if c.foreign:
            raise Forbidden("admin routes refuse requests another origin sent from a browser", "cross_origin")
