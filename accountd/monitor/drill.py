"""Drill-down requests, asked when somebody looks: an account's live connections and one server's detail.

    $SYS.REQ.ACCOUNT.<acc>.CONNZ          every server answers with that account's connections
    $SYS.REQ.SERVER.<id>.STATSZ|ROUTEZ|GATEWAYZ|LEAFZ|JSZ|HEALTHZ   one server answers each

A reply that does not decode is counted (``malformed``, by kind) and left out, never raised.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any

from nats.aio.msg import Msg

from accountd.monitor.shapes import ClientInfo, MalformedEvent, ServerInfo, int_field, list_field, obj_field, str_field

__all__ = ["SERVER_ID", "account_connections", "server_detail"]

JSON = dict[str, Any]
Collect = Callable[[str, bytes], Awaitable[list[Msg]]]
"""``collect(subject, payload)``: every reply to one request (the monitor's ``collect_replies``)."""

SERVER_ID = re.compile(r"^N[A-Z2-7]{55}$")
"""What a server id looks like (it goes into a subject, so nothing else is asked for)."""

MAX_CONNECTIONS = 1024  # nats-server's own CONNZ page size
SERVER_REQUESTS = ("STATSZ", "ROUTEZ", "GATEWAYZ", "LEAFZ", "JSZ", "HEALTHZ")


def _reply(msg: Msg, key: str = "data") -> tuple[ServerInfo, JSON]:
    try:
        doc = json.loads(msg.data)
    except ValueError:  # UnicodeDecodeError and JSONDecodeError both are
        raise MalformedEvent("not JSON") from None
    if not isinstance(doc, dict):
        raise MalformedEvent("not an object")
    if isinstance(doc.get("error"), dict):
        raise MalformedEvent(f"error reply: {str(doc['error'].get('description', ''))[:100]}")
    return ServerInfo.decode(obj_field(doc, "server")), obj_field(doc, key)


def _connection(c: Any, server: ServerInfo) -> JSON:
    if not isinstance(c, dict):
        raise MalformedEvent("a connection is not an object")
    ip, port = str_field(c, "ip"), int_field(c, "port")
    claimed = ClientInfo(jwt=str_field(c, "jwt")).claimed()  # the user's JWT: read for its name, never shown
    return {
        "server": server.label, "server_id": server.id, "cid": int_field(c, "cid"), "kind": str_field(c, "kind"),
        "name": str_field(c, "name"), "address": f"{ip}:{port}" if ip else "", "user": str_field(c, "authorized_user"),
        "user_name": claimed.get("name", ""), "lang": str_field(c, "lang"), "version": str_field(c, "version"),
        "start": str_field(c, "start") or None, "uptime": str_field(c, "uptime"), "idle": str_field(c, "idle"),
        "rtt": str_field(c, "rtt"), "pending_bytes": int_field(c, "pending_bytes"), "in_msgs": int_field(c, "in_msgs"),
        "out_msgs": int_field(c, "out_msgs"), "in_bytes": int_field(c, "in_bytes"),
        "out_bytes": int_field(c, "out_bytes"), "subscriptions": int_field(c, "subscriptions"),
    }  # fmt: skip


async def account_connections(collect: Collect, account: str, malformed: Counter[str]) -> JSON:
    """``{"account", "connections": [...], "servers": n, "total"}``: the live connections of
    ``account`` on every server that answered, oldest first (``total`` counts those not listed too)."""
    payload = json.dumps({"auth": True, "limit": MAX_CONNECTIONS}).encode()
    rows: list[JSON] = []
    servers = total = 0
    for msg in await collect(f"$SYS.REQ.ACCOUNT.{account}.CONNZ", payload):
        try:
            server, data = _reply(msg)
            found = [_connection(c, server) for c in list_field(data, "connections")]
        except MalformedEvent:
            malformed["connz"] += 1
            continue
        servers += 1
        total += int_field(data, "total") if isinstance(data.get("total"), int) else len(found)
        rows += found
    rows.sort(key=lambda r: (r["start"] or "", r["server"], r["cid"]))
    return {"account": account, "connections": rows, "servers": servers, "total": total}


def _trim_jsz(data: JSON) -> JSON:
    """JSZ without the per-account detail (the limits view has that) and the store path."""
    out = {k: v for k, v in data.items() if k not in ("account_details", "config")}
    config = data.get("config")
    if isinstance(config, dict):
        out["config"] = {k: v for k, v in config.items() if k != "store_dir"}
    return out


async def server_detail(collect: Collect, server_id: str, malformed: Counter[str]) -> JSON:
    """One server's STATSZ, routes, gateways, leafnodes, JetStream and health, asked in parallel.

    A part that did not answer (an old server) is ``null``, and so is ``jetstream`` when it is off
    (JSZ still answers then, ``"disabled": true``, observed on 2.15.1); ``answered`` names the
    requests that were answered.
    """
    if not SERVER_ID.match(server_id):
        raise ValueError(f"not a server id: {server_id[:60]!r}")
    replies = await asyncio.gather(*(collect(f"$SYS.REQ.SERVER.{server_id}.{kind}", b"{}") for kind in SERVER_REQUESTS))
    parts: dict[str, JSON | None] = {}
    info: ServerInfo | None = None
    for kind, msgs in zip(SERVER_REQUESTS, replies, strict=True):
        parts[kind] = None
        for msg in msgs[:1]:
            try:
                info, parts[kind] = _reply(msg, "statsz" if kind == "STATSZ" else "data")
            except MalformedEvent:
                malformed[kind.lower()] += 1
    routez, gatewayz, leafz, jsz = (parts[k] or {} for k in ("ROUTEZ", "GATEWAYZ", "LEAFZ", "JSZ"))
    return {
        "id": server_id,
        "server": info.to_dict() if info else None,
        "statsz": parts["STATSZ"],
        "routes": routez.get("routes") if parts["ROUTEZ"] is not None else None,
        "gateways": ({"outbound": gatewayz.get("outbound_gateways") or {},
                      "inbound": gatewayz.get("inbound_gateways") or {}} if parts["GATEWAYZ"] is not None else None),
        "leafnodes": leafz.get("leafs") if parts["LEAFZ"] is not None else None,
        "jetstream": _trim_jsz(jsz) if parts["JSZ"] is not None and not jsz.get("disabled") else None,
        "health": parts["HEALTHZ"],
        "answered": [k.lower() for k in SERVER_REQUESTS if parts[k] is not None],
    }  # fmt: skip
