"""``accountd serve`` settings: flags, then ``ACCOUNTD_*`` environment, then a TOML file.

The TOML file uses the flag names with underscores (``listen``, ``store``, ``nats`` — a string
or a list —, ``creds``, ``signing_key``, ``max_limits = {conn = 100}``…). Secrets (seed paths are
not secret, but URLs may carry passwords) are masked in :meth:`Settings.public`.
"""

from __future__ import annotations

import dataclasses
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from accountd.service.audit import parse_bytes
from accountd.service.cache import DEFAULT_CACHE_SIZE, parse_cache_size

__all__ = ["ConfigError", "Settings", "load_toml", "parse_limits"]


class ConfigError(ValueError):
    """A setting is missing or malformed; the message says which and how to fix it."""


@dataclass
class Settings:
    listen: str = "127.0.0.1:9090"
    store: str = ""
    operator: str = ""
    nats: list[str] = field(default_factory=list)
    creds: str = ""
    signing_key: str = ""
    allow_new_accounts: bool = False
    max_limits: dict[str, int] = field(default_factory=dict)
    clamp_limits: bool = False
    allow_delete: bool = True
    clock_skew: int = 0
    name: str = "accountd"
    lookup_miss: str = "empty"
    cache_size: str = DEFAULT_CACHE_SIZE
    history: int = 50
    audit_log: str = ""
    """A file, ``off``, or empty: beside a directory or SQLite store, none for the others."""
    audit_max_bytes: str = "64MiB"
    tls_cert: str = ""
    tls_key: str = ""
    tls_client_ca: str = ""
    admin_token_file: str = ""
    admin_listen: str = ""
    cors_origin: list[str] = field(default_factory=list)
    write_rate: float = 100.0
    write_burst: int = 1000
    max_connections: int = 1024
    header_timeout: float = 10.0
    body_timeout: float = 30.0
    nats_tls_ca: str = ""
    nats_tls_cert: str = ""
    nats_tls_key: str = ""
    log_level: str = "info"
    log_format: str = "text"
    public_url: str = ""
    monitor_history: int = 60
    alert_webhook: str = ""
    alert_auth_errors_per_minute: int = 10
    alert_limit_ratio: float = 0.8
    """Minutes of server and account history the monitor keeps (with --nats)."""

    @property
    def host_port(self) -> tuple[str, int]:
        return _host_port(self.listen, "--listen")

    @property
    def admin_host_port(self) -> tuple[str, int] | None:
        return _host_port(self.admin_listen, "--admin-listen") if self.admin_listen else None

    def check(self) -> None:
        if not self.operator:
            raise ConfigError("no operator JWT configured: pass --operator FILE (or ACCOUNTD_OPERATOR)")
        if not self.store:
            raise ConfigError("no store configured: pass --store DIR, --store memory: or --store nats-kv://BUCKET")
        if bool(self.tls_cert) != bool(self.tls_key):
            raise ConfigError("--tls-cert and --tls-key go together")
        if self.tls_client_ca and not self.tls_cert:
            raise ConfigError("--tls-client-ca needs --tls-cert and --tls-key (client certificates need TLS)")
        if bool(self.nats_tls_cert) != bool(self.nats_tls_key):
            raise ConfigError("--nats-tls-cert and --nats-tls-key go together")
        if self.write_rate < 0 or self.write_burst < 1:
            raise ConfigError("--write-rate must be >= 0 (0 = no limit) and --write-burst >= 1")
        if self.max_connections < 1:
            raise ConfigError("--max-connections must be >= 1")
        if self.header_timeout <= 0 or self.body_timeout <= 0:
            raise ConfigError("--header-timeout and --body-timeout must be > 0 seconds")
        if self.lookup_miss not in ("empty", "silent"):
            raise ConfigError("--lookup-miss must be 'empty' or 'silent'")
        try:
            parse_cache_size(self.cache_size)
        except ValueError as exc:
            raise ConfigError(f"--cache-size: {exc}") from None
        if isinstance(self.history, bool) or not isinstance(self.history, int) or self.history < 0:
            raise ConfigError("--history must be a number of versions >= 0 (0 = no history)")
        if isinstance(self.monitor_history, bool) or not isinstance(self.monitor_history, int) \
                or not 1 <= self.monitor_history <= 1440:
            raise ConfigError("--monitor-history must be a number of minutes from 1 to 1440")
        try:
            if parse_bytes(self.audit_max_bytes) < 1:
                raise ValueError("must be at least 1 byte")
        except ValueError as exc:
            raise ConfigError(f"--audit-max-bytes: {exc}") from None
        if self.alert_webhook and urlsplit(self.alert_webhook).scheme not in ("http", "https"):
            raise ConfigError("--alert-webhook must be an http:// or https:// URL")
        if isinstance(self.alert_auth_errors_per_minute, bool) or self.alert_auth_errors_per_minute < 1:
            raise ConfigError("--alert-auth-errors-per-minute must be a number >= 1")
        if not 0 < self.alert_limit_ratio <= 10:
            raise ConfigError("--alert-limit-ratio must be > 0 (0.8 = 80 % of a limit)")
        if self.log_format not in ("text", "json"):
            raise ConfigError("--log-format must be 'text' or 'json'")
        self.host_port  # noqa: B018 - validates
        if self.admin_listen:
            _host_port(self.admin_listen, "--admin-listen")

    def public(self) -> dict[str, Any]:
        """The settings with secrets masked (for ``/-/config``)."""
        doc = dataclasses.asdict(self)
        doc["nats"] = [_mask_url(u) for u in self.nats]
        doc["alert_webhook"] = _mask_url(self.alert_webhook)
        for key in ("creds", "signing_key", "tls_key", "admin_token_file", "nats_tls_key"):
            if doc[key]:
                doc[key] = f"{doc[key]} (contents not shown)"
        return doc


def _host_port(text: str, option: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit():
        raise ConfigError(f"{option} must be HOST:PORT, got {text!r}")
    return (host.strip("[]") or "0.0.0.0"), int(port)


def _mask_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.password or parts.username:
        host = parts.hostname or ""
        netloc = f"***@{host}" + (f":{parts.port}" if parts.port else "")
        return urlunsplit(parts._replace(netloc=netloc))
    return url


def parse_limits(text: str) -> dict[str, int]:
    """``conn=100,subs=1000`` → ``{"conn": 100, "subs": 1000}``."""
    out: dict[str, int] = {}
    for item in filter(None, (p.strip() for p in text.split(","))):
        name, sep, value = item.partition("=")
        if not sep:
            raise ConfigError(f"--max-limits item {item!r} must be NAME=NUMBER")
        try:
            out[name.strip()] = int(value)
        except ValueError:
            raise ConfigError(f"--max-limits value for {name!r} is not a number: {value!r}") from None
    return out


def load_toml(path: str | Path) -> dict[str, Any]:
    try:
        with open(path, "rb") as fh:
            doc = tomllib.load(fh)
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path} is not valid TOML: {exc}") from None
    table = doc.get("serve", doc)
    known = {f.name for f in dataclasses.fields(Settings)}
    unknown = sorted(set(table) - known - {"serve"})
    if unknown:
        raise ConfigError(f"config file {path}: unknown settings {', '.join(unknown)}")
    for key in ("nats", "cors_origin"):
        if isinstance(table.get(key), str):
            table[key] = [u.strip() for u in table[key].split(",") if u.strip()]
    return {k: v for k, v in table.items() if k in known}
