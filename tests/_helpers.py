"""Small process and socket helpers the test suites share (servers they start on loopback).

Every wait is bounded: a hang fails the test instead of stalling the suite.
"""

from __future__ import annotations

import contextlib
import os
import select
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from typing import Any

# How long a server may take to go after SIGTERM before it gets SIGKILL.
STOP_TIMEOUT = 30.0
# The moment a test waits for must come within this; a hang fails instead of stalling the suite.
WAIT = 60.0


def free_port() -> int:
    """A TCP port free on 127.0.0.1 now (the kernel picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def read_until(stream: Any, marker: bytes, timeout: float) -> bytes:
    """Bytes read from a pipe until `marker` appears, EOF, or `timeout` seconds pass."""
    deadline = time.monotonic() + timeout
    data = b""
    fd = stream.fileno()
    while marker not in data:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        readable, _, _ = select.select([fd], [], [], remaining)
        if not readable:
            break
        chunk = os.read(fd, 65536)
        if not chunk:
            break
        data += chunk
    return data


def stop(process: subprocess.Popen[Any], timeout: float = STOP_TIMEOUT) -> None:
    """SIGTERM, a bounded wait, then SIGKILL: the process is gone when this returns."""
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def reap(process: subprocess.Popen[Any]) -> None:
    """Kill it if it still runs, then collect it and close its pipes (never blocks on a pipe
    a child of it may still hold)."""
    if process.poll() is None:
        process.kill()
    process.wait()
    for pipe in (process.stdin, process.stdout, process.stderr):
        if pipe is not None:
            pipe.close()


def wait_until(condition: Callable[[], object], what: str, timeout: float = WAIT) -> None:
    """Poll `condition` until it is true; fail naming `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.01)  # what is awaited has no event to wait on


UVICORN_READY = b"Uvicorn running on"


@contextlib.contextmanager
def uvicorn_server(argv: Callable[[int], list[str]], timeout: float = 30.0) -> Iterator[str]:
    """A test's own MCP server over streamable HTTP (a Python script under uvicorn), started
    with `argv(port)` on a free port: its URL, `http://127.0.0.1:PORT/mcp`, until the block ends."""
    import sys
    import threading

    port = free_port()
    process = subprocess.Popen([sys.executable, *argv(port)], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE)
    try:
        assert process.stderr is not None
        log = read_until(process.stderr, UVICORN_READY, timeout)
        assert UVICORN_READY in log, log.decode(errors="replace")
        threading.Thread(target=process.stderr.read, daemon=True).start()  # never a full pipe
        yield f"http://127.0.0.1:{port}/mcp"
    finally:
        stop(process, timeout=10)
        if process.stderr is not None:
            process.stderr.close()
