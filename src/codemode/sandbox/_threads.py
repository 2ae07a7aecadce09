"""Threads a cell leaves running are stopped when the cell ends: CPU only inside a cell.

Runs in the worker (standard library only). A cell's threads outlive it, and the host's time
limit sees only the cell: two hashing threads could keep every core busy through later cells.
When a cell ends, the worker stops every thread but its own:

- the event loop's default executor is shut down (its idle threads wake and exit) and
  dropped, so the next `asyncio.to_thread` gets a fresh one;
- every other thread gets `SystemExit` raised in it (`PyThreadState_SetAsyncExc`), which
  ends it at its next Python instruction; the worker waits up to GRACE for them;
- what did not stop (a thread blocked in C: a long sleep, a lock, a C loop) is reported as
  still running, and the host then pauses the whole worker (SIGSTOP) until the next cell:
  no CPU between cells in any case. Its pending `SystemExit` lands as soon as it runs again.

Threads of the worker itself are marked with `mark_internal` and left alone.
"""

from __future__ import annotations

import threading
import time

TYPE_CHECKING = False  # `typing` costs ~10 ms of worker start-up
if TYPE_CHECKING:
    from typing import Any

# How long the worker waits for the cell's threads to end: a Python loop ends within a few
# milliseconds of the exception; a thread blocked in C would not end in any wait.
GRACE = 0.1
_MARK = "_codemode_internal"


def mark_internal(thread: threading.Thread) -> threading.Thread:
    """Keep `thread` (one of the worker's own) out of what a cell's end stops."""
    setattr(thread, _MARK, True)
    return thread


def _leftovers() -> list[threading.Thread]:
    main = threading.main_thread()
    return [t for t in threading.enumerate() if t is not main and t.is_alive() and not getattr(t, _MARK, False)]


def stop_leftovers(loop: Any = None) -> dict[str, list[str]] | None:
    """Stop the threads the cell left; None when there were none, else the names of those
    stopped and of those still running."""
    threads = _leftovers()
    if not threads:
        return None
    executor = getattr(loop, "_default_executor", None) if loop is not None else None
    if executor is not None:  # asyncio's own: its idle workers block in C until told to exit
        executor.shutdown(wait=False, cancel_futures=True)
        loop._default_executor = None
    import ctypes

    for thread in threads:
        if thread.ident is not None and thread.is_alive():
            ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(thread.ident), ctypes.py_object(SystemExit))
    deadline = time.monotonic() + GRACE
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    return {"stopped": [t.name for t in threads if not t.is_alive()],
            "running": [t.name for t in threads if t.is_alive()]}
