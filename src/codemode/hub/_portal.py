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
from concurrent.futures import Future
from contextlib import AbstractContextManager
from typing import Any, TypeVar

from anyio.from_thread import BlockingPortal, start_blocking_portal

_lock = threading.Lock()
_portal: BlockingPortal | None = None
_portal_cm: AbstractContextManager[BlockingPortal] | None = None
_loop: asyncio.AbstractEventLoop | None = None
T = TypeVar("T")


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


def submit(func: Callable[..., Coroutine[Any, Any, T]], *args: Any) -> Future[T]:
    """Start `func(*args)` on the background loop and return its future at once.

    One hand-off to the loop's thread, where the portal's `start_task_soon` waits for the
    loop to say the task was spawned (a round trip, which in a busy kernel costs more than
    a trivial cell's whole run). The loop cancels a task still running when it stops.
    """
    get_portal()
    assert _loop is not None
    return asyncio.run_coroutine_threadsafe(func(*args), _loop)


def stop_portal(*_: Any) -> None:
    """Stop the background loop (at exit; sessions close their servers before this runs)."""
    global _portal, _portal_cm, _loop
    with _lock:
        cm, _portal, _portal_cm, _loop = _portal_cm, None, None, None
    if cm is not None:
        cm.__exit__(None, None, None)
