"""Threads a cell leaves running are stopped when the cell ends: CPU only inside a cell.

Runs in the worker (standard library only). A cell's threads outlive it, and the host's time
limit sees only the cell: two hashing threads could keep every core busy through later cells.
When a cell ends, the worker looks at every thread but its own, and at what CPU each uses
over a short sample (its per-thread CPU clock):

- a busy thread gets `SystemExit` raised in it (`PyThreadState_SetAsyncExc`), which ends it
  at its next Python instruction; the worker waits up to GRACE for it;
- an idle thread (blocked on a lock, a queue, a sleep: a thread pool waiting for work) is
  left alone, so a pool made in one cell still works in the next;
- what did not stop, and every idle thread, is reported, and the host then pauses the whole
  worker (SIGSTOP) until the next cell: no CPU between cells in any case.

Threads of the worker itself are marked with `mark_internal` and left alone. Where there is
no per-thread CPU clock, every thread counts as busy.
"""

from __future__ import annotations

import threading
import time

# How long the worker waits for the cell's threads to end: a Python loop ends within a few
# milliseconds of the exception; a thread blocked in C would not end in any wait.
GRACE = 0.1
# The sample that tells busy threads from idle ones, and the CPU that makes a thread busy
# in it (a spinning thread gets a good share of it even on a loaded machine).
SAMPLE = 0.05
BUSY = 0.002
_MARK = "_codemode_internal"


def mark_internal(thread: threading.Thread) -> threading.Thread:
    """Keep `thread` (one of the worker's own) out of what a cell's end stops."""
    setattr(thread, _MARK, True)
    return thread


def _leftovers() -> list[threading.Thread]:
    main = threading.main_thread()
    return [t for t in threading.enumerate() if t is not main and t.is_alive() and not getattr(t, _MARK, False)]


def _cpu(thread: threading.Thread) -> float | None:
    try:
        return time.clock_gettime(time.pthread_getcpuclockid(thread.ident))  # type: ignore[arg-type]
    except (AttributeError, OSError, OverflowError, TypeError):  # no such clock here, or it ended
        return None


def stop_leftovers() -> dict[str, list[str]] | None:
    """Stop the busy threads the cell left; None when there were none, else the names of
    those stopped, those still running, and the idle ones left alone."""
    threads = _leftovers()
    if not threads:
        return None
    before = {thread: _cpu(thread) for thread in threads}
    time.sleep(SAMPLE)
    busy: list[threading.Thread] = []
    idle: list[threading.Thread] = []
    for thread in threads:
        now = _cpu(thread)
        start = before[thread]
        if thread.is_alive():
            (busy if start is None or now is None or now - start > BUSY else idle).append(thread)
    if busy:
        import ctypes

        for thread in busy:
            if thread.ident is not None and thread.is_alive():
                ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(thread.ident), ctypes.py_object(SystemExit))
        deadline = time.monotonic() + GRACE
        for thread in busy:
            thread.join(max(0.0, deadline - time.monotonic()))
    return {"stopped": [t.name for t in busy if not t.is_alive()],
            "running": [t.name for t in busy if t.is_alive()],
            "idle": [t.name for t in idle if t.is_alive()]}
