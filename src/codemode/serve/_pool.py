"""Warm workers for new client sessions.

Each worker is a `Session` sharing the root session's hub (`Session.share`): its own
sandboxed worker process, the same upstream connections. A new client's first `execute`
takes a started one, so it never waits for a cold start while the pool has one. Everything
here is sync (`Session.start` goes through the hub's portal) and is called from worker
threads of the server's loop.

Invariants:
- Workers start in parallel: the pool refills every missing worker at once, each on a
  thread of its own, and a session that finds the pool empty starts its own meanwhile (a
  cold start never queues behind the warm ones). Parallel sandbox starts are safe (tests:
  tests/serve/test_serve_pool.py starts 40 at once).
- The pool never holds more than `size` idle workers, nor starts more than it misses;
  `close` stops the idle ones, waits for the starts in flight, and stops what they started.
- A failed start is logged and not retried in a loop: the next `take` refills.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from codemode.engine import Session

logger = logging.getLogger(__name__)

# Seconds `close` waits for each start in flight (a worker start takes well under one here).
_CLOSE_WAIT = 60.0


class WorkerPool:
    """`size` started worker sessions on `root`'s servers, refilled in the background.
    `make` makes an unstarted worker (default: `root.share()`)."""

    def __init__(self, root: Session, size: int, make: Callable[[], Session] | None = None) -> None:
        self.root = root
        self.size = size
        self._make = make or root.share
        self._idle: list[Session] = []
        self._lock = threading.Lock()
        self._closed = False
        self._filling = 0  # warm starts in flight
        self._threads: set[threading.Thread] = set()
        self.started = 0  # workers started in all (warm and cold), for /health
        self.starting = 0  # starts in flight now (warm and cold)
        self.most_starting = 0  # the most starts that were in flight at once

    @property
    def warm(self) -> int:
        with self._lock:
            return len(self._idle)

    def open(self) -> None:
        """Start `size` workers, in parallel, in the background."""
        self._refill()

    def take(self) -> Session:
        """A started worker session: a warm one, or (when none is left) one started now."""
        while True:
            with self._lock:
                worker = self._idle.pop() if self._idle else None
            if worker is None:
                break
            if worker.started:
                self._refill()
                return worker
            _close_quietly(worker)
        self._refill()
        return self._start()

    def close(self) -> None:
        """Stop the idle workers and what the starts in flight start; workers handed out
        are their sessions' to close."""
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
            threads = list(self._threads)
        for worker in idle:
            _close_quietly(worker)
        for thread in threads:
            thread.join(_CLOSE_WAIT)

    def _refill(self) -> None:
        with self._lock:
            if self._closed:
                return
            missing = self.size - len(self._idle) - self._filling
            self._filling += max(missing, 0)
            threads = [threading.Thread(target=self._fill_one, name="codemode-serve-pool", daemon=True)
                       for _ in range(missing)]
            self._threads.update(threads)
        for thread in threads:
            thread.start()

    def _fill_one(self) -> None:
        worker = None
        try:
            if not self._closed:  # a start not begun when the pool closed never begins
                worker = self._start()
        except Exception:  # noqa: BLE001 - boundary: a failed start is logged; the next take refills
            logger.exception("codemode serve: a warm worker failed to start")
        with self._lock:
            self._filling -= 1
            self._threads.discard(threading.current_thread())
            keep = worker is not None and not self._closed and len(self._idle) < self.size
            if keep:
                self._idle.append(worker)  # type: ignore[arg-type]
        if worker is not None and not keep:
            _close_quietly(worker)

    def _start(self) -> Session:
        worker = self._make()
        with self._lock:
            self.starting += 1
            self.most_starting = max(self.most_starting, self.starting)
        try:
            worker.start()
        finally:
            with self._lock:
                self.starting -= 1
        with self._lock:
            self.started += 1
        return worker


def _close_quietly(worker: Session) -> None:
    try:
        worker.close()
    except Exception:  # noqa: BLE001 - boundary: closing a dead worker must not stop the others
        logger.exception("codemode serve: a worker failed to close")
