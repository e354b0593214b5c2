"""``accountd serve``: wires config → store → service → {HTTP, NATS} in one function and runs it."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import signal
import ssl
import sys
from pathlib import Path
from typing import Any

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from accountd import __version__
from accountd.bus import Bus, Notifier, Responder
from accountd.claims import AccountClaims, ClaimsError, Role, Trust, extract_jwt, load_seed, validate_operator
from accountd.claims.models import AccountLimits
from accountd.config import ConfigError, Settings
from accountd.errors import ServiceError
from accountd.monitor import Monitor, add_account_pages, attach
from accountd.monitor.alerts import Alerts, AlertSettings, add_alert_routes
from accountd.monitor.webhook import Webhook, WebhookCollector
from accountd.natsclient import NatsTLS, NatsTLSError
from accountd.ratelimit import RateLimiter
from accountd.resolver.fleet import Held
from accountd.service import AccountCache, AccountService, ManagedPolicy
from accountd.service.audit import AuditLog, parse_bytes
from accountd.service.cache import describe, payload
from accountd.store import DirectoryStore, KVStore, SQLiteStore, Store, StoreError, open_store
from accountd.store.directory import SIDECAR
from accountd.tokenfile import TokenFileError
from accountd.web.admin import AdminAuth, Via
from accountd.web.app import build_app
from accountd.web.edge import VIA
from accountd.web.listener import GuardedSite, Limits, Routes
from accountd.web.metrics import AccountdCollector, RequestCounts

__all__ = ["configure_logging", "run", "serve"]

log = logging.getLogger("accountd")


class _JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        doc = {"time": self.formatTime(record), "level": record.levelname.lower(), "logger": record.name,
               "message": record.getMessage()}
        if record.exc_info:
            doc["error"] = self.formatException(record.exc_info)
        return json.dumps(doc)


def configure_logging(level: str, fmt: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    if fmt == "json":
        handler.setFormatter(_JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)-5s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)


def _load_trust(path: str) -> tuple[str, Trust]:
    try:
        text = Path(path).read_text()
    except OSError as exc:
        raise ConfigError(f"cannot read operator JWT {path}: {exc.strerror}") from None
    try:
        token = extract_jwt(text)
        trust = Trust.from_jwts(token)
    except ClaimsError as exc:
        raise ConfigError(f"{path} is not an operator JWT: {exc.message}") from None
    problems = validate_operator(trust.operator)
    if not problems.ok:
        raise ConfigError(f"operator JWT {path} is invalid: " + "; ".join(i.message for i in problems.blocking))
    return token, trust


def _audit_path(setting: str, store: Store) -> Path | None:
    """``--audit-log``: a file, ``off``, or by default beside a directory or SQLite store's data."""
    if setting == "off":
        return None
    if setting:
        return Path(setting)
    if isinstance(store, DirectoryStore):
        return store.root / SIDECAR / "audit.jsonl"
    if isinstance(store, SQLiteStore):
        return store.path.with_name(store.path.name + ".audit.jsonl")
    return None


def _open_store(settings: Settings, tls: NatsTLS) -> Store:
    try:
        return open_store(settings.store, nats=settings.nats, creds=settings.creds, tls=tls, history=settings.history)
    except ValueError as exc:  # a malformed --store value: a usage error, not a traceback
        raise ConfigError(str(exc)) from None


def _url(scheme: str, address: tuple[str, int]) -> str:
    host = "127.0.0.1" if address[0] in ("0.0.0.0", "") else address[0]
    return f"{scheme}://[{host}]:{address[1]}" if ":" in host else f"{scheme}://{host}:{address[1]}"


class Server:
    """The running pieces; built by :func:`serve`, stopped by :meth:`close`."""

    def __init__(self, settings: Settings, *, store: Store | None = None) -> None:
        settings.check()
        self.settings = settings
        self.operator_jwt, self.trust = _load_trust(settings.operator)
        self.auth = AdminAuth(settings.admin_token_file, client_certs=bool(settings.tls_client_ca))
        try:
            self.auth.load()
        except TokenFileError as exc:
            raise ConfigError(str(exc)) from None
        self.writes = RateLimiter(settings.write_rate, settings.write_burst)
        signer = None
        if settings.signing_key:
            try:
                signer = load_seed(Path(settings.signing_key), Role.OPERATOR)
            except ClaimsError as exc:
                raise ConfigError(f"--signing-key {settings.signing_key}: {exc.message}") from None
        nats_tls = NatsTLS(settings.nats_tls_ca, settings.nats_tls_cert, settings.nats_tls_key)
        self.store: Store = store or _open_store(settings, nats_tls)
        audit_path = _audit_path(settings.audit_log, self.store)
        self.audit = AuditLog(audit_path, max_bytes=parse_bytes(settings.audit_max_bytes))
        policy = ManagedPolicy(settings.allow_new_accounts, dict(settings.max_limits), settings.clamp_limits)
        try:
            self.service = AccountService(self.store, self.trust, signer=signer, policy=policy,
                                          skew=settings.clock_skew, allow_delete=settings.allow_delete,
                                          cache=AccountCache.from_size(settings.cache_size), audit=self.audit)
        except ValueError as exc:
            raise ConfigError(str(exc)) from None
        try:
            self.bus = Bus(settings.nats, settings.creds or None, name=settings.name, tls=nats_tls) \
                if settings.nats else None
        except NatsTLSError as exc:
            raise ConfigError(str(exc)) from None
        if isinstance(self.store, DirectoryStore):
            self.store.describe = describe  # files other tools wrote get the meta they are served by
        kv = isinstance(self.store, KVStore)
        # KV: a change a dead instance held comes back after ack_wait (1 s); polling every 0.25 s
        # keeps its fail-over under 2 s.
        self.notifier = Notifier(self.store, self.bus, retry_interval=0.25 if kv else 1.0)
        self.service.on_change = self.notifier.kick
        if isinstance(self.store, KVStore):
            # Other instances write the same bucket: drop what they change from the service's cache.
            self.store.on_external_change = self.service.forget
            self.store.on_pending = self.notifier.kick  # a backlog fetched in the background
        self.responder = Responder(self.service, name=settings.name, silent_miss=settings.lookup_miss == "silent",
                                   write_rate=settings.write_rate, write_burst=settings.write_burst,
                                   system_account=self.trust.system_account)
        self.extras: dict[str, Any] = {}
        self.alerts: Alerts | None = None
        self._limits_memo: dict[str, tuple[str, AccountLimits]] = {}
        self.requests = RequestCounts()
        self.registry = CollectorRegistry()
        self.registry.register(AccountdCollector(
            self.requests, self.store.stats, self.service.stats, self.notifier.stats, lambda: self.responder.counters))
        self.runner: web.AppRunner | None = None
        self.address: tuple[str, int] = settings.host_port
        self.admin_address: tuple[str, int] | None = None
        """Where the admin routes are served when ``--admin-listen`` splits them off."""
        self.sites: list[GuardedSite] = []

    async def start(self) -> None:
        await self.store.open()
        try:
            self.audit.open()
        except OSError as exc:
            raise StoreError(f"cannot open the audit log {self.audit.path}: {exc.strerror or exc}"
                             " (pass --audit-log FILE or --audit-log off)") from None
        if self.bus is not None:
            self.bus.on_connect(self.responder.subscribe)

            async def kick(_: Any) -> None:
                self.notifier.kick()

            self.bus.on_reconnect(kick)
            self.bus.start()
        self.notifier.start()
        s = self.settings
        app = build_app(self.service, self.notifier, self.operator_jwt, config=s.public(),
                        extra_stats=self._extra_stats, request_counts=self.requests, auth=self.auth,
                        home="/-/status" if self.bus is not None else "/-/stats", writes=self.writes,
                        cors_origins=s.cors_origin, body_timeout=s.body_timeout)  # fmt: skip
        self._attach_monitor(app)
        self.runner = web.AppRunner(app, access_log=None, shutdown_timeout=10)
        await self.runner.setup()
        ssl_ctx = self._ssl_context()
        main = await self._listen(s.host_port, Routes.PUBLIC if s.admin_listen else Routes.ALL, ssl_ctx)
        self.address = main.address  # the bound port when --listen used port 0
        scheme = "https" if ssl_ctx else "http"
        base = s.public_url or _url(scheme, self.address)
        log.info("accountd %s listening on %s (store %s, operator %s)", __version__, base,
                 self.store.name, self.trust.operator.name or self.trust.operator.sub)
        log.info("nats-server config line: resolver: URL(%s/jwt/v1/accounts/)", base.rstrip("/"))
        if s.admin_host_port is not None:
            admin = await self._listen(s.admin_host_port, Routes.ADMIN, ssl_ctx)
            self.admin_address = admin.address
            log.info("admin routes on their own listener %s (absent from %s)", _url(scheme, admin.address), base)
        log.info("%s", self.auth.describe())
        log.info("audit log: %s", self.audit.path or "off")

    def _ssl_context(self) -> ssl.SSLContext | None:
        if not self.settings.tls_cert:
            return None
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(self.settings.tls_cert, self.settings.tls_key)
        if self.settings.tls_client_ca:
            # Optional: nats-servers without a certificate still reach the public routes; one the CA
            # did not sign fails the handshake.
            ctx.verify_mode = ssl.CERT_OPTIONAL
            ctx.load_verify_locations(cafile=self.settings.tls_client_ca)
        return ctx

    async def _listen(self, address: tuple[str, int], role: Routes, ssl_ctx: ssl.SSLContext | None) -> GuardedSite:
        assert self.runner is not None
        limits = Limits(self.settings.max_connections, self.settings.header_timeout)
        site = GuardedSite(self.runner, address[0], address[1], role=role, limits=limits, ssl_context=ssl_ctx,
                           reuse_address=True)  # fmt: skip
        await site.start()
        self.sites.append(site)
        return site

    def reload_tokens(self) -> None:
        """SIGHUP: re-read ``--admin-token-file``; a file that cannot be read keeps the tokens in use."""
        if not self.settings.admin_token_file:
            log.info("SIGHUP: no --admin-token-file to re-read")
            return
        try:
            count = self.auth.load()
        except TokenFileError as exc:
            log.error("SIGHUP: %s; the tokens loaded before stay in use", exc)
            return
        log.info("SIGHUP: loaded %d admin token(s) from %s", count, self.settings.admin_token_file)

    def _attach_monitor(self, app: web.Application) -> None:
        """System-events monitoring (status page, /-/monitor, /metrics) when NATS is configured.

        Without NATS there are no events to watch: /metrics then has accountd's own series only, and the
        accounts pages (/-/accounts/…) show no live usage.
        """
        if self.bus is None:
            app.router.add_get("/metrics", self._metrics)
            add_account_pages(app, signed_in=lambda request: request.get(VIA) is Via.SESSION, status=False)
            return
        attach(app, self.bus, self._account_name, self.extras, self._account_limits, registry=self.registry,
               signed_in=lambda request: request.get(VIA) is Via.SESSION, history_minutes=self.settings.monitor_history)
        self._attach_alerts(app, self.extras["monitor"])

    def _attach_alerts(self, app: web.Application, monitor: Monitor) -> None:
        """The alert rules over the monitor (GET /-/monitor/alerts, accountd_alert), and --alert-webhook."""
        s = self.settings
        hook = Webhook(s.alert_webhook) if s.alert_webhook else None
        if hook is not None:
            monitor.registry.register(WebhookCollector(hook))
        settings = AlertSettings(auth_errors_per_minute=s.alert_auth_errors_per_minute, limit_ratio=s.alert_limit_ratio)
        alerts = self.alerts = Alerts(monitor, settings, on_change=hook.notify if hook is not None else None,
                                      current=self._held)
        add_alert_routes(app, alerts)

        async def start(_: web.Application) -> None:
            if hook is not None:
                await hook.start()
            await alerts.start()

        async def stop(_: web.Application) -> None:
            await alerts.stop()
            if hook is not None:
                await hook.stop()

        app.on_startup.append(start)
        app.on_cleanup.append(stop)

    async def _metrics(self, request: web.Request) -> web.Response:
        return web.Response(body=generate_latest(self.registry), headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def _held(self, account: str) -> Held | None:
        """accountd's version of ``account`` (for the fleet alert), from the store through the cache."""
        try:
            entry = await self.service.get(account)
        except ServiceError:
            return None
        return Held(entry.account, "", entry.etag.strip('"'), entry.iat, entry.exp)

    def _account_name(self, account: str) -> str | None:
        entry = self.service.cache.peek(account)
        return str(entry.summary()["name"]) if entry else None

    def _account_limits(self, account: str) -> AccountLimits | None:
        entry = self.service.cache.peek(account)
        if entry is None:
            return None
        if self._limits_memo.get(account, ("", None))[0] != entry.jti:  # decode once per stored version
            if len(self._limits_memo) >= 10_000:
                self._limits_memo.clear()
            self._limits_memo[account] = (entry.jti, AccountClaims.from_go(payload(entry.jwt)).nats.limits)
        return self._limits_memo[account][1]

    def _extra_stats(self) -> dict[str, Any]:
        doc: dict[str, Any] = {"responder": self.responder.counters, "http": {
            "connections": sum(site.limits.open for site in self.sites),
            "connections_refused": sum(site.limits.refused for site in self.sites),
            "header_timeouts": sum(site.limits.header_timeouts for site in self.sites),
            "writes_refused": self.writes.refused,
        }, "audit": self.audit.counters}
        if self.bus is not None:
            doc["nats"] = {"connected": self.bus.connected, "connects": self.bus.connects}
        return doc

    async def close(self) -> None:
        if self.runner is not None and self.runner.server is not None:
            await self.runner.cleanup()  # stops accepting, lets in-flight requests finish
        if self.bus is not None and not await self.notifier.flush(timeout=5.0):
            log.warning("stopping with %d updates still in the outbox; they are published on the next start",
                        self.notifier.depth)
        await self.notifier.stop()
        if self.bus is not None:
            await self.bus.close()
        await self.audit.close()  # after both doors closed: their last records are in
        await self.store.close()


async def serve(settings: Settings, stop: asyncio.Event | None = None) -> int:
    server = Server(settings)
    try:
        await server.start()
    except (StoreError, OSError) as exc:
        await server.close()
        raise ConfigError(f"cannot start: {exc}") from None
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    with contextlib.suppress(NotImplementedError, RuntimeError):
        loop.add_signal_handler(signal.SIGHUP, server.reload_tokens)
    await stop.wait()
    log.info("stopping: finishing in-flight requests and flushing the outbox")
    await server.close()
    log.info("stopped")
    return 0


def run(settings: Settings) -> int:
    configure_logging(settings.log_level, settings.log_format)
    try:
        import uvloop  # optional: more GETs per second (BENCHMARKS.md)
    except ImportError:
        return asyncio.run(serve(settings))
    return int(uvloop.run(serve(settings)))
