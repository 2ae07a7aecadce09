"""Warm workers for new client sessions.

Each worker is a `Session` sharing the root session's hub (`Session.share`): its own
sandboxed worker process, the same upstream connections. A new client's first `execute`
takes a started one, so it never waits for a cold start while the pool has one; a filler
thread starts the next in the background. Everything here is sync (`Session.start` goes
through the hub's portal) and is called from worker threads of the server's loop.

Invariants:
- Workers start one at a time (`_start_lock`): a burst of concurrent worker starts from
  many threads lost a worker's handshake now and then (1 in 20 here, "did not answer in
  time" after 30 s), and one at a time costs a new session at most a queue of starts.
- The pool never holds more than `size` idle workers; `close` stops them all, and a worker
  the filler finishes starting after `close` is stopped at once.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from codemode.session import Session

logger = logging.getLogger(__name__)


class WorkerPool:
    """`size` started worker sessions on `root`'s servers, refilled in the background.
    `make` makes an unstarted worker (default: `root.share()`)."""

    def __init__(self, root: Session, size: int, make: Callable[[], Session] | None = None) -> None:
        self.root = root
        self.size = size
        self._make = make or root.share
        self._idle: list[Session] = []
        self._lock = threading.Lock()
        self._start_lock = threading.Lock()
        self._wanted = threading.Event()
        self._closed = False
        self._starting = 0
        self.started = 0  # workers started in all (warm and cold), for /health
        self._thread: threading.Thread | None = None

    @property
    def warm(self) -> int:
        with self._lock:
            return len(self._idle)

    def open(self) -> None:
        """Start the filler thread (it starts `size` workers at once)."""
        if self.size and self._thread is None:
            self._thread = threading.Thread(target=self._fill_forever, name="codemode-serve-pool", daemon=True)
            self._thread.start()
            self._wanted.set()

    def take(self) -> Session:
        """A started worker session: a warm one, or (when none is left) one started now."""
        with self._lock:
            while self._idle:
                worker = self._idle.pop()
                if worker.started:
                    self._wanted.set()
                    return worker
                _close_quietly(worker)
        self._wanted.set()
        return self._start()

    def close(self) -> None:
        """Stop the idle workers; workers handed out are their sessions' to close."""
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
        self._wanted.set()
        for worker in idle:
            _close_quietly(worker)

    def _start(self) -> Session:
        worker = self._make()
        with self._start_lock:
            worker.start()
        with self._lock:
            self.started += 1
        return worker

    def _fill_forever(self) -> None:
        while True:
            self._wanted.wait()
            self._wanted.clear()
            while True:
                with self._lock:
                    if self._closed or len(self._idle) >= self.size:
                        break
                try:
                    worker = self._start()
                except Exception:  # noqa: BLE001 - boundary: a failed start is logged, retried on the next take
                    logger.exception("codemode serve: a warm worker failed to start")
                    break
                with self._lock:
                    keep = not self._closed and len(self._idle) < self.size
                    if keep:
                        self._idle.append(worker)
                if not keep:
                    _close_quietly(worker)
            with self._lock:
                if self._closed:
                    return


def _close_quietly(worker: Session) -> None:
    try:
        worker.close()
    except Exception:  # noqa: BLE001 - boundary: closing a dead worker must not stop the others
        logger.exception("codemode serve: a worker failed to close")
