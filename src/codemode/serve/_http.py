"""HTTP that survives slow and idle clients: read deadlines, a connection cap, descriptors.

uvicorn's h11 protocol keeps a connection that never finishes its request for ever (its
keep-alive timeout starts only after a first response), and counts such connections against
`limit_concurrency`, so a crowd of idle sockets opened before any token check starves the
token holder, and past the descriptor limit nothing is accepted at all. Here:

- a request's headers must arrive within `HEADER_TIMEOUT` of the connection (or of its first
  byte on a kept-alive one) and its body within `BODY_TIMEOUT` of its headers, or the
  connection is closed (before any token check: no bytes of a slow client reach the app);
- at most `max_connections` connections are open at once; past it, the oldest connection
  still waiting for its request headers is closed to make room (none: the new one is), so
  a flood of idle sockets evicts itself while a client that sends its request at once gets in;
- the soft descriptor limit is raised to the hard one at start (`raise_descriptor_limit`),
  and the cap stays below it with room for workers and upstream servers.
"""

from __future__ import annotations

import asyncio
from typing import Any

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

HEADER_TIMEOUT = 10.0
BODY_TIMEOUT = 30.0
# Descriptors kept for what is not a client connection: workers' pipes, upstream servers,
# transcripts, the tool cache.
_RESERVED_DESCRIPTORS = 512
MAX_CONNECTIONS = 4096


def raise_descriptor_limit() -> int:
    """Raise the soft RLIMIT_NOFILE to the hard one; the soft limit now in force."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY:
        hard = max(soft, 1 << 20)
    if soft != resource.RLIM_INFINITY and soft < hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
            soft = hard
        except (ValueError, OSError):
            pass
    return soft


def connection_cap(descriptors: int) -> int:
    """Client connections to allow with `descriptors` file descriptors."""
    return max(16, min(MAX_CONNECTIONS, descriptors - _RESERVED_DESCRIPTORS))


def guarded_protocol(max_connections: int) -> type[asyncio.Protocol]:
    """uvicorn's h11 protocol with read deadlines and a connection cap (`uvicorn.Config(http=...)`)."""

    class GuardedH11(_GuardedH11):
        cap = max_connections

    return GuardedH11


class _GuardedH11(H11Protocol):
    cap = MAX_CONNECTIONS

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._deadline: asyncio.TimerHandle | None = None
        self._waiting_for: str | None = None  # "headers" or "body": what the deadline is for
        self._opened = 0.0

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._opened = self.loop.time()
        if len(self.connections) > self.cap and not self._evict():
            self.transport.close()
            return
        self._expect("headers", HEADER_TIMEOUT)

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self._idle():
            self._expect("headers", HEADER_TIMEOUT)  # a request begun on a kept-alive connection
        elif self.conn.their_state is h11.SEND_BODY:
            self._expect("body", BODY_TIMEOUT)
        else:
            self._clear()

    def connection_lost(self, exc: Exception | None) -> None:
        self._clear()
        super().connection_lost(exc)

    def _expect(self, what: str, seconds: float) -> None:
        if self._waiting_for == what:
            return  # the deadline runs from the first wait, not from the last byte
        self._clear()
        self._waiting_for = what
        self._deadline = self.loop.call_later(seconds, self._expired, what)

    def _clear(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
        self._deadline, self._waiting_for = None, None

    def _expired(self, what: str) -> None:
        self._deadline = None
        late = self.conn.their_state is h11.SEND_BODY if what == "body" else self._idle()
        if late and not self.transport.is_closing():
            self.transport.close()

    def _idle(self) -> bool:
        """Waiting for a request's headers, with no response under way."""
        return self.conn.their_state is h11.IDLE and (self.cycle is None or self.cycle.response_complete)

    def _evict(self) -> bool:
        """Close the oldest connection still waiting for its request headers; False if none."""
        waiting = [c for c in self.connections if isinstance(c, _GuardedH11) and c is not self and c._idle()
                   and c._waiting_for == "headers" and not c.transport.is_closing()]
        if not waiting:
            return False
        min(waiting, key=lambda c: c._opened).transport.close()
        return True
