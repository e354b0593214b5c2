"""Names for the strings that are easy to mix up.

All of them are plain ``str`` at run time; mypy keeps an account key from being passed where a
JWT belongs.
"""

from typing import NewType

__all__ = ["JWT", "AccountKey", "OperatorKey", "PublicKey", "UserKey"]

PublicKey = NewType("PublicKey", str)
"""Any nkey public key (``O…``, ``A…``, ``U…``, ``N…``…)."""
OperatorKey = NewType("OperatorKey", str)
AccountKey = NewType("AccountKey", str)
UserKey = NewType("UserKey", str)
JWT = NewType("JWT", str)
"""An encoded NATS JWT, ``header.payload.signature``."""
