"""nsc's on-disk layout: operator stores, the keystore, file locking and atomic writes.

A directory written by accountd is an nsc data directory and the other way round (SPEC §8.3):

* :mod:`~accountd.nsc.home` — where the home is (``--home``, ``$ACCOUNTD_HOME``, ``./keys``), its lock;
* :mod:`~accountd.nsc.store` — ``stores/<Operator>/…``: operator, account and user JWTs;
* :mod:`~accountd.nsc.keystore` — ``keys/keys/<X>/<YY>/<PUB>.nk`` seeds and ``keys/creds/…``;
* :mod:`~accountd.nsc.atomic` — temp + fsync + rename writes, all-or-nothing transactions;
* :mod:`~accountd.nsc.lock` — ``fcntl.flock`` on ``<home>/.lock``;
* :mod:`~accountd.nsc.entities` — creating and re-signing operators, accounts and users;
* :mod:`~accountd.nsc.importer` — copying an existing nsc tree into a home.
"""

from accountd.nsc.atomic import Transaction, write_atomic
from accountd.nsc.errors import AlreadyExists, KeyConflict, LayoutError, LockTimeout, NotFound, NscError
from accountd.nsc.home import DEFAULT_HOME, HOME_ENV, Home
from accountd.nsc.keystore import KeyStore
from accountd.nsc.lock import HomeLock
from accountd.nsc.store import Entity, OperatorDir

__all__ = [
    "DEFAULT_HOME",
    "HOME_ENV",
    "AlreadyExists",
    "Entity",
    "Home",
    "HomeLock",
    "KeyConflict",
    "KeyStore",
    "LayoutError",
    "LockTimeout",
    "NotFound",
    "NscError",
    "OperatorDir",
    "Transaction",
    "write_atomic",
]
