"""What every NATS client in accountd shares: a flush that keeps its promise.

``nats-py``'s ``Client.flush()`` writes its PING straight to the socket, while SUB and PUB
commands wait in the client's pending buffer until its flusher task runs. Under load the PING
overtakes them: the PONG comes back before the server has seen a subscription or a publish that
was made before the flush, and a message published right after "subscribe, flush" is missed.

:func:`flushed` first waits until the flusher has written everything pending (a round trip
whose PING may overtake, but whose wait lets the flusher run; repeated while bytes are still
pending), then sends a PING that is behind all of it on the socket. When it returns, the server
has processed every command issued before the call.
"""

from __future__ import annotations

from nats.aio.client import Client

__all__ = ["flushed"]


async def flushed(nc: Client, timeout: float = 5.0) -> None:
    """Return once the server has processed every command ``nc`` issued before this call."""
    for _ in range(_ROUNDS):
        await nc.flush(timeout=timeout)  # type: ignore[arg-type]  # nats-py annotates timeout as int
        if nc.pending_data_size == 0:
            break
    await nc.flush(timeout=timeout)  # type: ignore[arg-type]


_ROUNDS = 20
"""Round trips spent waiting for the pending buffer to empty while other tasks keep publishing."""
