"""What every NATS client in accountd shares: TLS settings, and a flush that keeps its promise.

:class:`NatsTLS` is the one place a ``--nats-tls-ca``/``--nats-tls-cert``/``--nats-tls-key`` triple
becomes ``nats.connect`` keyword arguments (:meth:`NatsTLS.connect_options`). nats-py upgrades to
TLS when the server's INFO asks for it, whatever the URL's scheme; a ``tls://`` URL without any of
the three files verifies the server against the system's CA store, and :func:`new_client` (used
by every connection accountd makes) refuses a server that does not require TLS once TLS is asked
for, on every reconnect too. :func:`describe_error` says in
one line why a connect failed (a certificate the CA did not sign, a server that wants a client
certificate).

``nats-py``'s ``Client.flush()`` writes its PING straight to the socket, while SUB and PUB
commands wait in the client's pending buffer until its flusher task runs. Under load the PING
overtakes them: the PONG comes back before the server has seen a subscription or a publish that
was made before the flush, and a message published right after "subscribe, flush" is missed.

:func:`flushed` first waits until the flusher has written everything pending (a round trip
whose PING may overtake, but whose wait lets the flusher run; repeated while bytes are still
pending), then sends a PING that is behind all of it on the socket. When it returns, the server
has processed every command issued before the call.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
from dataclasses import dataclass
from typing import Any

from nats import errors
from nats.aio.client import Client

__all__ = ["NatsConnectError", "NatsTLS", "NatsTLSError", "TLSDowngrade", "connect", "describe_error", "flushed",
           "is_tls_failure", "new_client", "wants_tls"]


class _QuietTLSClose(logging.Filter):
    """asyncio warns "returning true from eof_received() has no effect when using ssl" whenever a
    TLS server closes a nats-py connection (its StreamReaderProtocol keeps the transport open): noise."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "eof_received()" not in str(record.msg)


logging.getLogger("asyncio").addFilter(_QuietTLSClose())


class NatsTLSError(ValueError):
    """A TLS file cannot be used (missing, unreadable, not PEM, a key that does not fit)."""


@dataclass(frozen=True)
class NatsTLS:
    """TLS to NATS: a CA bundle to verify the servers, and a client certificate with its key.

    Empty strings mean "not given"; ``NatsTLS()`` leaves nats-py's defaults alone.
    """

    ca: str = ""
    cert: str = ""
    key: str = ""

    def __post_init__(self) -> None:
        if bool(self.cert) != bool(self.key):
            raise NatsTLSError("--nats-tls-cert and --nats-tls-key go together")

    def __bool__(self) -> bool:
        return bool(self.ca or self.cert)

    def context(self) -> ssl.SSLContext | None:
        """A client context verifying the server (hostname included), or ``None`` when nothing is set."""
        if not self:
            return None
        try:
            ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=self.ca or None)
        except (OSError, ssl.SSLError) as exc:
            raise NatsTLSError(f"--nats-tls-ca {self.ca}: {_reason(exc)}") from None
        if self.cert:
            try:
                ctx.load_cert_chain(self.cert, self.key)
            except (OSError, ssl.SSLError) as exc:
                raise NatsTLSError(f"--nats-tls-cert {self.cert} / --nats-tls-key {self.key}: {_reason(exc)}") from None
        return ctx

    def connect_options(self) -> dict[str, Any]:
        """Keyword arguments for ``nats.connect``: ``tls`` when something is set, else none.

        The server name checked is the URL's host (nats-py's default), so a certificate for
        ``127.0.0.1`` needs that IP address among its names.
        """
        ctx = self.context()
        return {} if ctx is None else {"tls": ctx}


def _reason(exc: OSError | ssl.SSLError) -> str:
    if isinstance(exc, ssl.SSLError):
        return exc.reason or str(exc)
    return exc.strerror or str(exc)


def describe_error(exc: BaseException, *, info: dict[str, Any] | None = None, tls: NatsTLS | None = None) -> str:
    """One line saying why a NATS connect failed, TLS failures named as such.

    ``info`` is the server's INFO of the failed attempt (``Client._server_info``): a server with
    ``verify: true`` that wants a client certificate closes the connection after the TLS 1.3
    handshake, which the client only sees as "Connection lost" (observed with nats-server 2.15).
    """
    if isinstance(exc, ssl.SSLCertVerificationError):
        return (f"TLS: the server's certificate is not trusted ({exc.verify_message or exc.reason}); "
                "check --nats-tls-ca")
    if isinstance(exc, ssl.SSLError):
        reason = exc.reason or str(exc)
        if any(word in reason.upper() for word in ("CERTIFICATE_REQUIRED", "BAD_CERTIFICATE", "UNKNOWN_CA")):
            return f"TLS: the server refused the client certificate ({reason}); check --nats-tls-cert/--nats-tls-key"
        return f"TLS handshake failed: {reason}"
    if _refused_after_handshake(exc, info):
        if tls is None or not tls.cert:
            return "TLS: the server requires a client certificate; pass --nats-tls-cert and --nats-tls-key"
        return (f"TLS: the server closed the connection after the handshake: it did not accept the client "
                f"certificate {tls.cert} (signed by a CA it trusts?)")
    return str(exc) or type(exc).__name__


def _refused_after_handshake(exc: BaseException, info: dict[str, Any] | None) -> bool:
    return bool(info and info.get("tls_verify")) and isinstance(exc, ConnectionError | EOFError | errors.UnexpectedEOF)


def is_tls_failure(exc: BaseException, info: dict[str, Any] | None = None) -> bool:
    """A failure that retrying will not cure: a handshake or certificate problem."""
    return isinstance(exc, ssl.SSLError | TLSDowngrade) or _refused_after_handshake(exc, info)


class NatsConnectError(Exception):
    """A connect failed; the message says why in one line. ``tls``: it was a TLS failure."""

    def __init__(self, message: str, *, tls: bool = False) -> None:
        super().__init__(message)
        self.tls = tls


def wants_tls(servers: list[str], tls: NatsTLS) -> bool:
    """A ``tls://`` URL, or TLS files given: a server that does not speak TLS is refused."""
    return bool(tls) or any(url.strip().lower().startswith("tls://") for url in servers)


class TLSDowngrade(errors.Error):
    """The server's INFO does not ask for TLS although TLS was asked for: refused before CONNECT."""

    def __str__(self) -> str:
        return "TLS was asked for (a tls:// URL or --nats-tls-*) but the server does not require TLS"


class _TLSOnlyClient(Client):
    """nats-py upgrades to TLS only when the server's INFO says ``tls_required``: for a ``tls://``
    URL to a plain server it goes on in plain text (observed with 2.16), on the first connect and on
    any reconnect. This client refuses such a server as it reads the INFO of each (re)connect,
    before the upgrade would happen and before CONNECT carries the credentials; nats-py treats the
    refusal as a failed attempt and goes on to the next try, as for any server that cannot be
    reached. (It hooks ``Client._process_info``; tests/test_natsclient_tls.py shows both cases
    against real servers, so a nats-py that changes the hook fails there.)
    """

    async def _process_info(self, info: dict[str, Any], initial_connection: bool = False) -> None:
        if initial_connection and not info.get("tls_required"):
            raise TLSDowngrade()
        await super()._process_info(info, initial_connection)


def new_client(servers: list[str], tls: NatsTLS) -> Client:
    """A nats-py client for ``servers``; when TLS is asked for (:func:`wants_tls`), one that never
    goes on in plain text, whichever server it reaches or reconnects to."""
    return _TLSOnlyClient() if wants_tls(servers, tls) else Client()


async def connect(servers: list[str], *, tls: NatsTLS, timeout: float | None = None, **options: Any) -> Client:
    """``nats.connect`` with ``tls`` applied; any failure is a :class:`NatsConnectError` saying why.

    Meant for connections that give up (``allow_reconnect=False``): the cause is the last error
    nats-py reported, not its "no servers available". ``timeout`` bounds the whole attempt.
    """
    nc = new_client(servers, tls)
    seen: list[BaseException] = []
    caller_cb = options.pop("error_cb", None)

    async def on_error(exc: Exception) -> None:
        seen.append(exc)
        if caller_cb is not None:
            await caller_cb(exc)

    try:
        async with asyncio.timeout(timeout):
            await nc.connect(servers=servers, error_cb=on_error, **tls.connect_options(), **options)
    except NatsTLSError:
        raise
    except Exception as exc:  # nats-py raises several unrelated types here
        causes = [e for e in seen if not isinstance(e, errors.NoServersError)]
        cause = causes[-1] if causes else exc
        info = getattr(nc, "_server_info", None)
        text = "timed out" if isinstance(cause, TimeoutError) else describe_error(cause, info=info, tls=tls)
        # nats-py leaves a failed attempt's socket open; closing it can wait forever on a TLS
        # transport whose handshake failed (observed), hence the bound.
        with contextlib.suppress(Exception):
            async with asyncio.timeout(0.5):
                await nc.close()
        raise NatsConnectError(text, tls=is_tls_failure(cause, info)) from None
    return nc


async def flushed(nc: Client, timeout: float = 5.0) -> None:
    """Return once the server has processed every command ``nc`` issued before this call."""
    for _ in range(_ROUNDS):
        await nc.flush(timeout=timeout)  # type: ignore[arg-type]  # nats-py annotates timeout as int
        if nc.pending_data_size == 0:
            break
    await nc.flush(timeout=timeout)  # type: ignore[arg-type]


_ROUNDS = 20
"""Round trips spent waiting for the pending buffer to empty while other tasks keep publishing."""
