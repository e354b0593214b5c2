"""The NATS JWT v2 claim structures (nats-io/jwt v2), field for field and in Go's order.

Every class is a :class:`~accountd.claims.gostruct.GoStruct`: dataclass defaults are what a
*new* object gets (Go's ``NewAccountClaims`` etc.: -1 = unlimited), while decoding gives absent
fields Go's zero value — exactly the "absent means 0" rule nats-server applies (SPEC §3.12).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from accountd.claims.errors import DecodeError
from accountd.claims.gostruct import GoStruct, encode_value, go

__all__ = [
    "Account",
    "AccountClaims",
    "AccountLimits",
    "Activation",
    "ActivationClaims",
    "Authorization",
    "Claims",
    "Export",
    "GenericClaims",
    "Import",
    "JetStreamLimits",
    "Operator",
    "OperatorClaims",
    "Permission",
    "Permissions",
    "ResponsePermission",
    "ScopedSigningKey",
    "ServiceLatency",
    "TimeRange",
    "Trace",
    "User",
    "UserClaims",
    "UserPermissionLimits",
    "WeightedMapping",
]

# --- shared pieces -------------------------------------------------------------------------


@dataclass
class Permission(GoStruct):
    allow: list[str] = go(factory=list)
    deny: list[str] = go(factory=list)


@dataclass
class ResponsePermission(GoStruct):
    max: int = go(0, key="max", omitempty=False)
    ttl: int = go(0, omitempty=False)
    """Nanoseconds (Go ``time.Duration``)."""


@dataclass
class Permissions(GoStruct):
    pub: Permission = go(factory=Permission, omitempty=False)
    sub: Permission = go(factory=Permission, omitempty=False)
    resp: ResponsePermission | None = go(None)


@dataclass
class TimeRange(GoStruct):
    start: str = go("")
    end: str = go("")


def _decode_cidrs(value: Any, path: str) -> list[str]:
    # Go's CIDRList also accepts one comma-separated string.
    if value is None:
        return []
    if isinstance(value, str):
        return [p.strip() for p in value.split(",") if p.strip()]
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return list(value)
    raise DecodeError("bad_encoding", f"{path}: expected a list of CIDRs")


@dataclass
class UserPermissionLimits(GoStruct):
    """Go's ``UserPermissionLimits``: ``Permissions`` + ``Limits`` + bearer/connection settings."""

    pub: Permission = go(factory=Permission, omitempty=False)
    sub: Permission = go(factory=Permission, omitempty=False)
    resp: ResponsePermission | None = go(None)
    src: list[str] = go(factory=list, decode=_decode_cidrs)
    times: list[TimeRange] = go(factory=list)
    times_location: str = go("")
    subs: int = go(-1)
    data: int = go(-1)
    payload: int = go(-1)
    bearer_token: bool = go(False)
    proxy_required: bool = go(False)
    allowed_connection_types: list[str] = go(factory=list)


# --- operator ------------------------------------------------------------------------------


@dataclass
class GenericFields(GoStruct):
    """Marker base: ``tags, type, version`` come last in every ``nats`` object."""

    TYPE: ClassVar[str] = ""


@dataclass
class Operator(GenericFields):
    TYPE: ClassVar[str] = "operator"

    signing_keys: list[str] = go(factory=list)
    account_server_url: str = go("")
    operator_service_urls: list[str] = go(factory=list)
    system_account: str = go("")
    assert_server_version: str = go("")
    strict_signing_key_usage: bool = go(False)
    tags: list[str] = go(factory=list)
    type: str = go("operator")
    version: int = go(2)


# --- account -------------------------------------------------------------------------------


@dataclass
class JetStreamLimits(GoStruct):
    mem_storage: int = go(0)
    disk_storage: int = go(0)
    streams: int = go(0)
    consumer: int = go(0)
    max_ack_pending: int = go(0)
    mem_max_stream_bytes: int = go(0)
    disk_max_stream_bytes: int = go(0)
    max_bytes_required: bool = go(False)

    def enabled(self) -> bool:
        return self.mem_storage != 0 or self.disk_storage != 0


@dataclass
class AccountLimits(GoStruct):
    """Go's ``OperatorLimits``: NatsLimits + AccountLimits + JetStreamLimits, flattened."""

    subs: int = go(-1)
    data: int = go(-1)
    payload: int = go(-1)
    imports: int = go(-1)
    exports: int = go(-1)
    wildcards: bool = go(True)
    disallow_bearer: bool = go(False)
    conn: int = go(-1)
    leaf: int = go(-1)
    mem_storage: int = go(0)
    disk_storage: int = go(0)
    streams: int = go(0)
    consumer: int = go(0)
    max_ack_pending: int = go(0)
    mem_max_stream_bytes: int = go(0)
    disk_max_stream_bytes: int = go(0)
    max_bytes_required: bool = go(False)
    tiered_limits: dict[str, JetStreamLimits] = go(factory=dict)

    JETSTREAM_FIELDS: ClassVar[tuple[str, ...]] = (
        "mem_storage",
        "disk_storage",
        "streams",
        "consumer",
        "max_ack_pending",
        "mem_max_stream_bytes",
        "disk_max_stream_bytes",
        "max_bytes_required",
    )

    def jetstream_flat(self) -> JetStreamLimits:
        return JetStreamLimits(**{k: getattr(self, k) for k in self.JETSTREAM_FIELDS})


@dataclass
class Import(GoStruct):
    name: str = go("")
    subject: str = go("")
    account: str = go("")
    token: str = go("")
    to: str = go("")
    local_subject: str = go("")
    type: str = go("")
    share: bool = go(False)
    allow_trace: bool = go(False)


@dataclass
class ServiceLatency(GoStruct):
    sampling: Any = go(None, omitempty=False)
    """1..100 (percent) or the string ``"headers"``."""
    results: str = go("", omitempty=False)


@dataclass
class Export(GoStruct):
    name: str = go("")
    subject: str = go("")
    type: str = go("")
    token_req: bool = go(False)
    revocations: dict[str, int] = go(factory=dict)
    response_type: str = go("")
    response_threshold: int = go(0)
    service_latency: ServiceLatency | None = go(None)
    account_token_position: int = go(0)
    advertise: bool = go(False)
    allow_trace: bool = go(False)
    description: str = go("")
    info_url: str = go("")


@dataclass
class ScopedSigningKey(GoStruct):
    """A ``user_scope`` signing key: users it signs get ``template`` as their permissions."""

    kind: str = go("user_scope", omitempty=False)
    key: str = go("", omitempty=False)
    role: str = go("", omitempty=False)
    template: UserPermissionLimits = go(factory=UserPermissionLimits, omitempty=False)
    description: str = go("", omitempty=False)


SigningKey = str | ScopedSigningKey


def _decode_signing_keys(value: Any, path: str) -> list[SigningKey]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise DecodeError("bad_encoding", f"{path}: expected a list of signing keys")
    keys: list[SigningKey] = []
    for i, item in enumerate(value):
        if isinstance(item, str):
            keys.append(item)
        elif isinstance(item, dict):
            kind = item.get("kind")
            if kind != "user_scope":
                raise DecodeError("bad_encoding", f"{path}[{i}]: unknown signing key kind {kind!r}")
            keys.append(ScopedSigningKey.from_go(item, f"{path}[{i}]"))
        else:
            raise DecodeError("bad_encoding", f"{path}[{i}]: expected a key or a scoped key object")
    return keys


def _signing_key_id(k: SigningKey) -> str:
    return k if isinstance(k, str) else k.key


def _encode_signing_keys(keys: list[SigningKey]) -> list[Any]:
    return [encode_value(k) for k in sorted(keys, key=_signing_key_id)]


@dataclass
class WeightedMapping(GoStruct):
    subject: str = go("", omitempty=False)
    weight: int = go(0)
    cluster: str = go("")


@dataclass
class Authorization(GoStruct):
    auth_users: list[str] = go(factory=list)
    allowed_accounts: list[str] = go(factory=list)
    xkey: str = go("")


@dataclass
class Trace(GoStruct):
    dest: str = go("")
    sampling: int = go(0)


@dataclass
class Account(GenericFields):
    TYPE: ClassVar[str] = "account"

    imports: list[Import] = go(factory=list)
    exports: list[Export] = go(factory=list)
    limits: AccountLimits = go(factory=AccountLimits, omitempty=False)
    signing_keys: list[SigningKey] = go(
        factory=list, decode=_decode_signing_keys, encode=_encode_signing_keys
    )
    revocations: dict[str, int] = go(factory=dict)
    default_permissions: Permissions = go(factory=Permissions, omitempty=False)
    mappings: dict[str, list[WeightedMapping]] = go(factory=dict)
    authorization: Authorization | None = go(factory=Authorization)
    """``None`` only when a decoded JWT had none (jwt < 2.4); new claims emit ``{}`` like Go."""
    trace: Trace | None = go(None)
    cluster_traffic: str = go("")
    description: str = go("")
    info_url: str = go("")
    tags: list[str] = go(factory=list)
    type: str = go("account")
    version: int = go(2)

    def signing_key_ids(self) -> list[str]:
        return [_signing_key_id(k) for k in self.signing_keys]

    def scoped_key(self, key: str) -> ScopedSigningKey | None:
        for k in self.signing_keys:
            if isinstance(k, ScopedSigningKey) and k.key == key:
                return k
        return None


# --- user, activation ------------------------------------------------------------------------


@dataclass
class User(GenericFields):
    TYPE: ClassVar[str] = "user"

    pub: Permission = go(factory=Permission, omitempty=False)
    sub: Permission = go(factory=Permission, omitempty=False)
    resp: ResponsePermission | None = go(None)
    src: list[str] = go(factory=list, decode=_decode_cidrs)
    times: list[TimeRange] = go(factory=list)
    times_location: str = go("")
    subs: int = go(-1)
    data: int = go(-1)
    payload: int = go(-1)
    bearer_token: bool = go(False)
    proxy_required: bool = go(False)
    allowed_connection_types: list[str] = go(factory=list)
    issuer_account: str = go("")
    tags: list[str] = go(factory=list)
    type: str = go("user")
    version: int = go(2)

    def has_permissions_or_limits(self) -> bool:
        """True when anything but the scoped-user shape is set (SPEC §3.8)."""
        return bool(
            self.pub.allow or self.pub.deny or self.sub.allow or self.sub.deny or self.resp
            or self.src or self.times or self.times_location or self.subs or self.data
            or self.payload or self.bearer_token or self.proxy_required or self.allowed_connection_types
        )

    def clear_for_scope(self) -> None:
        """Reduce to what a user signed by a scoped key may carry."""
        self.pub, self.sub, self.resp = Permission(), Permission(), None
        self.src, self.times, self.times_location = [], [], ""
        self.subs = self.data = self.payload = 0
        self.bearer_token = self.proxy_required = False
        self.allowed_connection_types = []


@dataclass
class Activation(GenericFields):
    TYPE: ClassVar[str] = "activation"

    subject: str = go("")
    kind: str = go("")
    issuer_account: str = go("")
    tags: list[str] = go(factory=list)
    type: str = go("activation")
    version: int = go(2)


# --- top level -----------------------------------------------------------------------------


@dataclass
class Claims(GoStruct):
    """The standard claims; subclasses add ``nats``. Key order: aud exp jti iat iss name nbf sub nats."""

    TYPE: ClassVar[str] = ""

    aud: str = go("")
    exp: int = go(0)
    jti: str = go("")
    iat: int = go(0)
    iss: str = go("")
    name: str = go("")
    nbf: int = go(0)
    sub: str = go("")

    def standard(self) -> dict[str, Any]:
        """The fields the jti hash covers, in order, empty ones omitted (SPEC §3.3)."""
        out: dict[str, Any] = {}
        for k in ("aud", "exp", "iat", "iss", "name", "nbf", "sub"):
            v = getattr(self, k)
            if v:
                out[k] = v
        return out


@dataclass
class OperatorClaims(Claims):
    TYPE: ClassVar[str] = "operator"
    nats: Operator = go(factory=Operator, omitempty=False)


@dataclass
class AccountClaims(Claims):
    TYPE: ClassVar[str] = "account"
    nats: Account = go(factory=Account, omitempty=False)


@dataclass
class UserClaims(Claims):
    TYPE: ClassVar[str] = "user"
    nats: User = go(factory=User, omitempty=False)


@dataclass
class ActivationClaims(Claims):
    TYPE: ClassVar[str] = "activation"
    nats: Activation = go(factory=Activation, omitempty=False)


@dataclass
class GenericClaims(Claims):
    """Any other claim (e.g. nsc's delete request): ``nats`` is a free map, keys sorted."""

    nats: dict[str, Any] = go(factory=dict)
