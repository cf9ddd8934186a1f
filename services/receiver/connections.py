"""The receiver's connections: none waits long for a request, and idle ones never take a delivery's place.

uvicorn runs the receiver with `--http services.receiver.connections:GuardedProtocol`: its own h11
protocol plus two rules that no ASGI app or middleware can apply, because a connection that never completes
a request head never reaches the app.

- **A deadline for every request head.** A connection has `--timeout-keep-alive` seconds to send a complete
  request head: from the moment it is accepted, and again after each answer. Idle or half-sent, it is
  closed then. (uvicorn's own keep-alive timer starts only after a first answer, and the first byte of a
  next request stops it, so an idle new socket or a slow trickle of header bytes stayed open for ever.)
- **Waiting connections give way.** uvicorn answers 503 to a request that arrives while
  `--limit-concurrency` connections are open, idle ones included. When a new connection would fill the
  server, the oldest connection still waiting for its request head, taken from the address holding the most
  of them, is closed instead. A flood of idle sockets from one address therefore only ever pushes out its
  own, and a connection whose request is in progress is never closed.
"""

from __future__ import annotations

import asyncio
import weakref
from typing import Any

from uvicorn.config import Config
from uvicorn.protocols.http.h11_impl import H11Protocol
from uvicorn.server import ServerState

# Without --limit-concurrency uvicorn never refuses; idle sockets still give way past this many.
DEFAULT_MAX_CONNECTIONS = 256


class WaitingConnections:
    """The connections of one server that wait for a request head, per peer address, oldest first."""

    def __init__(self) -> None:
        self._by_address: dict[str, dict[GuardedProtocol, None]] = {}

    def add(self, address: str, connection: GuardedProtocol) -> None:
        self._by_address.setdefault(address, {})[connection] = None

    def discard(self, address: str, connection: GuardedProtocol) -> None:
        waiting = self._by_address.get(address)
        if waiting is None:
            return
        waiting.pop(connection, None)
        if not waiting:
            del self._by_address[address]

    def oldest_of_busiest_address(self, spare: GuardedProtocol) -> GuardedProtocol | None:
        """The longest-waiting connection of the address that holds the most, never `spare`."""
        counted = ((len(waiting) - (spare in waiting), waiting) for waiting in self._by_address.values())
        count, waiting = max(counted, key=lambda item: item[0], default=(0, {}))
        if not count:
            return None
        return next(connection for connection in waiting if connection is not spare)


# One registry per uvicorn server (a test process may run several); gone with the server.
_registries: weakref.WeakKeyDictionary[ServerState, WaitingConnections] = weakref.WeakKeyDictionary()


def waiting_connections(server_state: ServerState) -> WaitingConnections:
    registry = _registries.get(server_state)
    if registry is None:
        registry = _registries[server_state] = WaitingConnections()
    return registry


class GuardedProtocol(H11Protocol):
    """uvicorn's h11 protocol with a request-head deadline and idle connections that give way."""

    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self._waiting = waiting_connections(server_state)
        self._max_connections = config.limit_concurrency or DEFAULT_MAX_CONNECTIONS
        self._head_deadline: asyncio.TimerHandle | None = None
        self._address = ""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._address = self.client[0] if self.client else ""
        self._update_waiting()
        self._make_room()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        self._update_waiting()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._update_waiting()

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_waiting()
        super().connection_lost(exc)

    def _request_in_progress(self) -> bool:
        return self.cycle is not None and not self.cycle.response_complete

    def _update_waiting(self) -> None:
        if self.transport.is_closing() or self._request_in_progress():
            self._stop_waiting()
        elif self._head_deadline is None:
            # Started once per request: bytes that trickle in do not move the deadline.
            self._head_deadline = self.loop.call_later(self.timeout_keep_alive, self._head_too_late)
            self._waiting.add(self._address, self)

    def _stop_waiting(self) -> None:
        if self._head_deadline is not None:
            self._head_deadline.cancel()
            self._head_deadline = None
        self._waiting.discard(self._address, self)

    def _head_too_late(self) -> None:
        self._head_deadline = None
        self.close_waiting()

    def close_waiting(self) -> None:
        """Close this connection, which has no request in progress (as uvicorn's keep-alive timeout does)."""
        self._stop_waiting()
        # Counted as closed at once: uvicorn forgets it only on the loop's next turn.
        self.connections.discard(self)
        if not self.transport.is_closing():
            self.transport.close()

    def _make_room(self) -> None:
        # Leave room for this connection's own request: uvicorn refuses it once `limit` connections are open.
        while len(self.connections) >= self._max_connections:
            victim = self._waiting.oldest_of_busiest_address(spare=self)
            if victim is None:
                return
            victim.close_waiting()
