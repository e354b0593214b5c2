"""Who sent a ``$SYS.REQ`` claims request: the connection name, found through its reply inbox.

A NATS message does not name its sender, but the requester is subscribed to its reply subject
(``_INBOX.<nuid>.*``). ``$SYS.REQ.SERVER.PING.CONNZ`` with the system account and that subject as
``filter_subject`` makes the one server holding that connection describe it, name included.

The answer is cached per client (the inbox prefix every request of one connection shares), so a
``push --all`` of a thousand accounts asks once; a lookup waits at most ``timeout`` (the server
that has the connection answers within milliseconds; servers without it answer with no
connection). It is asked only after a request passed its write limit, so a flood cannot turn into
a CONNZ storm. Unknown (no reply subject, the connection is gone, an old server): ``""``, also
cached. Only system-account users can send these requests at all; one that invents a reply subject
per request still costs a wait per request, as it already spreads over write-limit buckets.
"""

from __future__ import annotations

import json
import logging
from collections import OrderedDict
from typing import Any

from nats.aio.client import Client
from nats.aio.msg import Msg

from accountd.bus.replies import NoResponders, collect_replies

__all__ = ["ClientNames"]

log = logging.getLogger("accountd.responder")

CONNZ = "$SYS.REQ.SERVER.PING.CONNZ"
CACHE = 1024


def _connections(msg: Msg) -> list[dict[str, Any]]:
    try:
        doc = json.loads(msg.data)
    except ValueError:
        return []
    data = doc.get("data") if isinstance(doc, dict) else None
    conns = data.get("connections") if isinstance(data, dict) else None
    return [c for c in conns if isinstance(c, dict)] if isinstance(conns, list) else []


def _owner(conns: list[dict[str, Any]], reply: str) -> dict[str, Any] | None:
    """The connection whose own inbox subscription covers ``reply`` (not one that listens to ``>``)."""
    prefix = reply.rsplit(".", 1)[0] + "."
    for conn in conns:
        subs = conn.get("subscriptions_list")
        if isinstance(subs, list) and any(isinstance(s, str) and (s == reply or s.startswith(prefix)) for s in subs):
            return conn
    return conns[0] if len(conns) == 1 else None


class ClientNames:
    def __init__(self, system_account: str, *, timeout: float = 0.25, cache: int = CACHE) -> None:
        self.system_account = system_account
        self.timeout = timeout
        self.cache = cache
        self._names: OrderedDict[str, str] = OrderedDict()
        self.lookups = 0

    async def name_of(self, nc: Client | None, reply: str, client: str) -> str:
        """The connection name of the client behind ``reply`` (``client``: its cache key), or ``""``."""
        if nc is None or not reply or not self.system_account:
            return ""
        if client in self._names:
            self._names.move_to_end(client)
            return self._names[client]
        self.lookups += 1
        query = json.dumps({"acc": self.system_account, "filter_subject": reply, "subscriptions": True})
        try:
            replies = await collect_replies(nc, CONNZ, query.encode(), quiet=self.timeout, timeout=self.timeout,
                                            done=lambda got: any(_connections(m) for m in got))
        except NoResponders:
            return ""
        except Exception as exc:  # a lookup is a courtesy: never fail the request over it
            log.debug("CONNZ lookup for %s failed: %s", reply, exc)
            return ""
        owner = next((c for m in replies if (c := _owner(_connections(m), reply)) is not None), None)
        name = str(owner.get("name") or "") if owner is not None else ""
        self._names[client] = name  # not found is remembered too: it costs a wait each time
        while len(self._names) > self.cache:
            self._names.popitem(last=False)
        return name
