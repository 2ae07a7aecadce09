"""Turns at a session's worker: runs from any number of threads, one at a time, in order.

A session has one worker and a worker runs one cell at a time, so `Session.run` from several
threads queues. Everything here lives on the hub's event loop (the only place that touches
the worker), so no thread lock is needed. Invariants:

- First come, first served: a run's turn is its place in the queue when its task reached
  the loop (the order of `Session.run` calls, up to the moment each crossed the portal).
- A run that is interrupted (Ctrl-C, its caller's cancel) while it waits leaves the queue
  and never starts; one interrupted while it runs is interrupted in the worker. Either way
  only that run is affected: the next in line gets its turn when it ends.
- Once the session closes, every waiting run is turned away and no new one gets a turn.
"""

from __future__ import annotations

import asyncio
from collections import deque
from dataclasses import dataclass


@dataclass(eq=False)
class Ticket:
    """One run's place in the queue, and what happened to it. Touched on the loop only."""

    turn: asyncio.Future[bool] | None = None  # set while it waits
    running: bool = False  # it holds the worker
    interrupted: bool = False  # an interrupt came for it (while waiting, or running)
    done: bool = False


class Turns:
    """A FIFO queue of runs in front of one worker."""

    def __init__(self) -> None:
        self._waiting: deque[Ticket] = deque()
        self._busy = False
        self.closed = False

    @property
    def waiting(self) -> int:
        return len(self._waiting)

    async def take(self, ticket: Ticket) -> bool:
        """Wait for `ticket`'s turn. False when it was withdrawn or the session closed first."""
        if self.closed or ticket.interrupted:
            return False
        if not self._busy and not self._waiting:
            self._busy = True
        else:
            ticket.turn = asyncio.get_running_loop().create_future()
            self._waiting.append(ticket)
            try:
                if not await ticket.turn:
                    return False
            except asyncio.CancelledError:
                # Cancelled by the portal (its caller went away): pass the turn on if it was ours.
                if ticket.turn.done() and not ticket.turn.cancelled() and ticket.turn.result():
                    self.give()
                else:
                    self._discard(ticket)
                raise
            finally:
                ticket.turn = None
        ticket.running = True
        return True

    def give(self, ticket: Ticket | None = None) -> None:
        """The running run ended: the next one in line goes."""
        if ticket is not None:
            ticket.running, ticket.done = False, True
        while self._waiting:
            following = self._waiting.popleft()
            if following.turn is not None and not following.turn.done():
                following.turn.set_result(True)
                return
        self._busy = False

    def withdraw(self, ticket: Ticket) -> bool:
        """Take a waiting run out of the queue; False when it is not waiting (it runs or ended)."""
        if ticket.turn is None or ticket.turn.done():
            return False
        ticket.turn.set_result(False)
        self._discard(ticket)
        return True

    def close(self) -> None:
        """Turn away every waiting run, and every later one."""
        self.closed = True
        while self._waiting:
            ticket = self._waiting.popleft()
            if ticket.turn is not None and not ticket.turn.done():
                ticket.turn.set_result(False)

    def _discard(self, ticket: Ticket) -> None:
        try:
            self._waiting.remove(ticket)
        except ValueError:
            pass
