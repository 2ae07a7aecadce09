"""Shared parts of the integration tests: the hub's portal, a demo session, a demo over HTTP.

Everything here is real: the portal is the process-wide background loop the faces use, the
session runs a real worker and a real demo server over stdio, and the HTTP demo is
`python -m codemode.demo --transport streamable-http` in its own process.
"""

from __future__ import annotations

import os
import select
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

import pytest
from _helpers import free_port, read_until, stop

from codemode.config import demo_config

if TYPE_CHECKING:  # the SDK loads only for the tests that use these fixtures
    from anyio.from_thread import BlockingPortal

    from codemode.engine import Session

# Deterministic starts: every server connects when its session starts, as with no tool cache
# (tests/hub/test_toolcache.py turns the cache on, in a directory of its own). Kernels and
# CLI processes the tests start inherit it.
os.environ.setdefault("CODEMODE_TOOL_CACHE", "0")

HTTP_START_TIMEOUT = 30.0
"""Seconds for the HTTP demo to say it is listening; a cold interpreter with the SDK needs ~2 s."""
_READY_LINE = b"Uvicorn running on"


@pytest.fixture(scope="session")
def portal() -> BlockingPortal:
    """The process-wide portal onto the hub's background loop (stopped at interpreter exit)."""
    from codemode.hub import get_portal

    return get_portal()


@pytest.fixture(scope="session")
def demo_env() -> dict[str, str]:
    """The environment the demo server needs to import `codemode` from this checkout."""
    return _demo_env()


@pytest.fixture(scope="session")
def process_exited() -> Callable[[int, float], bool]:
    """`process_exited(pid, timeout)`: whether the process ended, waiting up to `timeout` s."""
    return _process_exited


@pytest.fixture(scope="session")
def demo_session() -> Iterator[Session]:
    """One session on the demo server over stdio, shared by the tests that need no isolation."""
    from codemode.engine import Session

    with Session(demo_config()) as session:
        yield session


@pytest.fixture(scope="session")
def demo_http_url() -> Iterator[str]:
    """The URL of a demo server over streamable HTTP, on a free loopback port."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "codemode.demo", "--transport", "streamable-http",
         "--port", str(port), "--log-level", "INFO"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env={**os.environ, **_demo_env()},
    )
    try:
        assert process.stderr is not None
        log = read_until(process.stderr, _READY_LINE, HTTP_START_TIMEOUT)
        assert _READY_LINE in log, f"the HTTP demo did not start:\n{log.decode(errors='replace')}"
        # Keep draining its request log so the server never blocks on a full pipe.
        threading.Thread(target=process.stderr.read, daemon=True).start()
        with socket.create_connection(("127.0.0.1", port), timeout=HTTP_START_TIMEOUT):
            pass  # it accepts connections
        yield f"http://127.0.0.1:{port}/mcp"
    finally:
        stop(process, timeout=10)
        if process.stderr is not None:
            process.stderr.close()


def _demo_env() -> dict[str, str]:
    server = demo_config().servers["demo"]
    return dict(server.env)  # type: ignore[union-attr]


def _process_exited(pid: int, timeout: float) -> bool:
    # A pidfd reads ready once the process has ended (a zombie counts): no polling, no sleeps.
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return True
    try:
        readable, _, _ = select.select([fd], [], [], timeout)
        return bool(readable)
    finally:
        os.close(fd)
