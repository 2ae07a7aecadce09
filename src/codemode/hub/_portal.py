"""The one background event loop that owns every MCP session for the life of the process.

Sync callers (the magic, the kernel, the CLI) reach async code through one anyio blocking
portal, started on first use and stopped at interpreter exit. Never an event loop per call:
MCP sessions are bound to the loop that opened them.
"""

from __future__ import annotations

import asyncio
import atexit
import threading
from collections.abc import Callable, Coroutine
from contextlib import AbstractContextManager
from typing import Any

from anyio.from_thread import BlockingPortal, start_blocking_portal

_lock = threading.Lock()
_portal: BlockingPortal | None = None
_portal_cm: AbstractContextManager[BlockingPortal] | None = None
_loop: asyncio.AbstractEventLoop | None = None
_tasks: set[asyncio.Task[Any]] = set()


def get_portal() -> BlockingPortal:
    """The process-wide portal onto the background asyncio loop, started on first use."""
    global _portal, _portal_cm, _loop
    with _lock:
        if _portal is None:
            _portal_cm = start_blocking_portal("asyncio", name="codemode-loop")
            _portal = _portal_cm.__enter__()
            _loop = _portal.call(asyncio.get_running_loop)
            atexit.register(stop_portal)
        return _portal


def start_soon(func: Callable[..., Coroutine[Any, Any, Any]], *args: Any) -> None:
    """Start `func(*args)` as a task on the background loop and return at once.

    One hand-off to the loop's thread and nothing back: the portal's `start_task_soon` waits
    for the loop to say the task was spawned (a round trip, which in a busy kernel costs more
    than a trivial cell's whole run) and chains a thread-safe future to the task (more work
    on the loop's thread just as the waiting thread wakes). So the task must hand its outcome
    over itself. The loop cancels a task still running when it stops.
    """
    get_portal()
    loop = _loop
    assert loop is not None
    try:
        running = asyncio.get_running_loop()
    except RuntimeError:  # the usual case: a thread without a running loop
        running = None
    if running is loop:  # its caller would wait for it on the thread that must run it
        raise RuntimeError("this waits for codemode's background event loop, so it cannot run on that "
                           "loop's thread; call it from another thread (asyncio.to_thread, anyio.to_thread)")
    coroutine = func(*args)

    def start() -> None:
        task = loop.create_task(coroutine)
        _tasks.add(task)  # the loop keeps only a weak reference
        task.add_done_callback(_tasks.discard)

    try:
        loop.call_soon_threadsafe(start)
    except RuntimeError:  # the loop closed (the interpreter is exiting)
        coroutine.close()
        raise


def stop_portal(*_: Any) -> None:
    """Stop the background loop (at exit; sessions close their servers before this runs)."""
    global _portal, _portal_cm, _loop
    with _lock:
        cm, _portal, _portal_cm, _loop = _portal_cm, None, None, None
    if cm is not None:
        cm.__exit__(None, None, None)
