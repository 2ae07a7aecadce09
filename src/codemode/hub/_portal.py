"""The one background event loop that owns every MCP session for the life of the process.

Sync callers (the magic, the kernel, the CLI) reach async code through one anyio blocking
portal, started on first use and stopped at interpreter exit. Never an event loop per call:
MCP sessions are bound to the loop that opened them.
"""

from __future__ import annotations

import atexit
import threading
from contextlib import AbstractContextManager
from typing import Any

from anyio.from_thread import BlockingPortal, start_blocking_portal

_lock = threading.Lock()
_portal: BlockingPortal | None = None
_portal_cm: AbstractContextManager[BlockingPortal] | None = None


def get_portal() -> BlockingPortal:
    """The process-wide portal onto the background asyncio loop, started on first use."""
    global _portal, _portal_cm
    with _lock:
        if _portal is None:
            _portal_cm = start_blocking_portal("asyncio", name="codemode-loop")
            _portal = _portal_cm.__enter__()
            atexit.register(stop_portal)
        return _portal


def stop_portal(*_: Any) -> None:
    """Stop the background loop (at exit; sessions close their servers before this runs)."""
    global _portal, _portal_cm
    with _lock:
        cm, _portal, _portal_cm = _portal_cm, None, None
    if cm is not None:
        cm.__exit__(None, None, None)
