"""AccountService: validate → store → outbox. Imports neither aiohttp nor nats.

The HTTP handlers and the NATS responder both call this one object, so a JWT is judged the same
way whichever door it came through (SPEC §6.4, §6.6). Publication is not done here: every
successful write leaves the account *pending* in the store (durably, in the same commit), and
:attr:`AccountService.on_change` wakes whoever drains that outbox.

Modules: :mod:`.accounts` (the service), :mod:`.cache` (the bounded cache of hot accounts),
:mod:`.managed` (re-signing account-signed JWTs with an operator signing key), :mod:`.origin` (how a
change arrived), :mod:`.audit` (write attempts and the audit log), :mod:`.history` (versions, diffs
and search as the admin routes show them), :mod:`.transfer` (import and export of directories).
"""

from accountd.service.accounts import AccountService, PutResult
from accountd.service.cache import AccountCache, CachedAccount, parse_cache_size
from accountd.service.managed import ManagedPolicy

__all__ = ["AccountCache", "AccountService", "CachedAccount", "ManagedPolicy", "PutResult", "parse_cache_size"]
