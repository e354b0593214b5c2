"""The NATS edge: the system-account connection, the outbox notifier and the ``$SYS`` responders."""

from accountd.bus.connection import Bus
from accountd.bus.notifier import Notifier
from accountd.bus.responder import Responder

__all__ = ["Bus", "Notifier", "Responder"]
