"""Hand-written ``$SYS`` payloads shaped like nats-server 2.9.10 and 2.15.1 send them (SPEC §9, §9.1).

Field sets follow what the two versions were observed to send; values are made up.
"""

from __future__ import annotations

import base64
import json
from typing import Any

A = "AALPTKKDORCBUHDX5EE6E7NVBTZOTVZA3MVUEZZITSKAKZ47I2IEFF4E"
U = "UCIGXNWRVTOV7LVISTQY25LO6FD2A4MW2OZEW6QUWW4QXQA4AJCM7VHU"
N1 = "NAUSGELQWOLMMVHBNU77OYUFXGFY2LBOGI7E4MA7T3TJ5BLYEFFCXLLZ"
N2 = "NBBRD4I7S76RJXCT6IJTE2RCKHKHO5VCTQ7UGRX7JW7M44VNNK5YFKZ2"


def _b64(doc: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(doc).encode()).decode().rstrip("=")


# A structurally valid (unsigned) user JWT: the monitor only reads what it claims.
USER_JWT = ".".join(
    [
        _b64({"typ": "JWT", "alg": "ed25519-nkey"}),
        _b64({"sub": U, "name": "alice", "iss": A, "nats": {"type": "user", "version": 2}}),
        "c2lnbmF0dXJl",
    ]
)

SERVER_29 = {"name": "n1", "host": "127.0.0.1", "id": N2, "ver": "2.9.10", "seq": 20, "jetstream": False,
             "time": "2026-11-24T15:58:03.054325828Z"}  # fmt: skip
SERVER_215 = {
    "name": "n1", "host": "127.0.0.1", "id": N1, "cluster": "c", "ver": "2.15.1",
    "feature_flags": {"js_ack_fc_v2": False}, "metadata": {"zone": "a"}, "jetstream": False, "flags": 0,
    "seq": 17, "time": "2026-11-24T15:57:18.733083235Z",
}  # fmt: skip

CLIENT_29 = {
    "start": "2026-11-24T15:58:03.052123313Z", "host": "127.0.0.1", "id": 6, "acc": A, "user": U,
    "name": "client-u", "lang": "python3", "ver": "2.16.0", "jwt": USER_JWT, "issuer_key": A, "name_tag": "alice",
    "kind": "Client", "client_type": "nats",
}  # fmt: skip
# 2.15: acc may be omitted (omitempty); nonce (2.10) and reply (2.14) are new.
CLIENT_215 = {
    "start": "2026-11-24T15:57:18.729033572Z", "host": "127.0.0.1", "id": 7, "user": U, "name": "client-u",
    "lang": "python3", "ver": "2.16.0", "jwt": USER_JWT, "issuer_key": A, "name_tag": "A", "kind": "Client",
    "client_type": "nats", "nonce": "abc", "reply": "_INBOX.x",
}  # fmt: skip


def typed(kind: str, server: dict[str, Any], **body: Any) -> bytes:
    doc = {"type": f"io.nats.server.advisory.v1.{kind}", "id": "7EdpOcBq0cZFUN87ahNTZS",
           "timestamp": "2026-11-24T15:57:18.732976547Z", "server": server, **body}  # fmt: skip
    return json.dumps(doc).encode()


def connect(server: dict[str, Any], client: dict[str, Any]) -> bytes:
    return typed("client_connect", server, client=client)


def disconnect(server: dict[str, Any], client: dict[str, Any], reason: str = "Client Closed") -> bytes:
    stats: dict[str, Any] = {"msgs": 3, "bytes": 120}
    if server is SERVER_215:
        stats = {**stats, "routes": {"msgs": 0, "bytes": 0}, "leafs": {"msgs": 0, "bytes": 0}}
    stopped = {**client, "stop": "2026-11-24T15:57:19.03524378Z", "rtt": 2128305}
    return typed("client_disconnect", server, client=stopped, sent=stats, received=stats, reason=reason)


def conns(server: dict[str, Any], account: str, n: int, *, leafnodes: int = 0) -> bytes:
    body: dict[str, Any] = {"acc": account, "conns": n, "leafnodes": leafnodes, "total_conns": n + leafnodes,
                            "sent": {"msgs": 0, "bytes": 0}, "received": {"msgs": 0, "bytes": 0},
                            "slow_consumers": 0}  # fmt: skip
    if server is SERVER_215:
        body.update(name="A", num_subscriptions=4)
    return typed("account_connections", server, **body)


def statsz(server: dict[str, Any], *, connections: int = 1, msgs: int = 1) -> bytes:
    stats: dict[str, Any] = {
        "start": "2026-11-24T15:57:18.195040666Z", "mem": 14831616, "cores": 2, "cpu": 1.5,
        "connections": connections, "total_connections": 2, "active_accounts": 1, "subscriptions": 62,
        "sent": {"msgs": msgs, "bytes": msgs * 100}, "received": {"msgs": msgs, "bytes": msgs * 10},
        "slow_consumers": 0, "active_servers": 1,
    }  # fmt: skip
    if server is SERVER_215:
        route = {"rid": 1, "name": "n2", "sent": {}, "received": {}, "pending": 0}
        stats.update(sent_to_clients={"msgs": 1, "bytes": 0}, received_from_clients={"msgs": 1, "bytes": 0},
                     gomaxprocs=2, routes=[route])  # fmt: skip
    return json.dumps({"server": server, "statsz": stats}).encode()
