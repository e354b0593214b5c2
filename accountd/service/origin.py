"""How a change arrived: the ``origin`` a store keeps with each version, and the audit log repeats.

One shape per door, all flat ``str`` → ``str`` mappings (:class:`accountd.store.Version`):

- ``{"via": "http", "client": ADDRESS}``: ``POST``/``DELETE /jwt/v1/accounts/<pub>``;
- ``{"via": "nats", "subject": S, "client": INBOX, "name": CONNECTION}``: ``$SYS.REQ.CLAIMS.UPDATE``,
  ``$SYS.REQ.ACCOUNT.<id>.CLAIMS.UPDATE``, ``$SYS.REQ.CLAIMS.DELETE``;
- ``{"via": "managed", "path": "http"|"nats", …}``: an account-signed JWT re-signed by accountd;
- ``{"via": "import"}``: ``accountd import dir``.

A NATS message does not name its sender: ``client`` is the request's reply-inbox prefix, the same
key its write limit uses (:func:`accountd.bus.responder.client_of`), and ``name`` the connection
name nats-server reports for the connection subscribed to that inbox (:mod:`accountd.bus.clients`;
absent when it has none or cannot be found).
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

__all__ = ["IMPORT", "Origin", "http_origin", "managed_origin", "nats_origin"]

Origin = Mapping[str, str]

IMPORT: Final[Origin] = MappingProxyType({"via": "import"})


def http_origin(client: str | None) -> Origin:
    return {"via": "http", "client": client or ""}


def nats_origin(subject: str, client: str) -> Origin:
    return {"via": "nats", "subject": subject, "client": client}


def managed_origin(origin: Origin) -> Origin:
    """The origin of a JWT accountd re-signed: ``managed``, and the door it came through as ``path``."""
    if origin.get("via") == "managed":
        return origin
    rest = {k: v for k, v in origin.items() if k != "via"}
    return {"via": "managed", "path": origin.get("via", ""), **rest}
