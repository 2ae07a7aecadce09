"""Helpers of the serve tests: real `codemode serve` processes: over stdio (one client each) and over HTTP.

Each server is `python -m codemode serve` in its own process with a config file written
here: the demo server upstream, and the `codemode` settings the test needs. Clients are the
SDK's own `Client` (and, in test_inspector.py, the MCP Inspector's CLI).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import subprocess
import sys
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from _helpers import read_until, stop
from proctable import children

from codemode.config import demo_config

START_TIMEOUT = 60.0
"""Seconds for a server to connect its upstream servers and listen (about 5 s here)."""
_LISTENING = re.compile(rb"listening on (http://\S+/mcp)")


def write_config(path: Path, settings: dict[str, Any] | None = None, servers: dict[str, Any] | None = None) -> Path:
    """A config file with the demo server (or `servers`) and these `codemode` settings."""
    demo = demo_config().servers["demo"]
    upstream = servers if servers is not None else {
        "demo": {"command": demo.command, "args": demo.args, "env": demo.env}}  # type: ignore[union-attr]
    path.write_text(json.dumps({"mcpServers": upstream, "codemode": settings or {}}), encoding="utf-8")
    return path


def stdio_params(config: Path, *extra: str, env: dict[str, str] | None = None) -> Any:
    from mcp.client.stdio import StdioServerParameters

    return StdioServerParameters(command=sys.executable, args=["-m", "codemode", "serve", "--config", str(config),
                                                               *extra], env={**os.environ, **(env or {})})


def run_stdio(config: Path, scenario: Callable[[Any], Awaitable[Any]], *extra: str, **client_options: Any) -> Any:
    """Run `scenario(client)` against a fresh `codemode serve` over stdio; the client speaks
    the handshake era (`mode="legacy"`: a session per connection) unless `mode` says otherwise."""
    client_options.setdefault("mode", "legacy")
    import anyio
    from mcp import Client
    from mcp.client.stdio import stdio_client

    async def main() -> Any:
        with open(os.devnull, "w") as errlog:
            async with Client(stdio_client(stdio_params(config, *extra), errlog=errlog), **client_options) as client:
                return await scenario(client)

    return anyio.run(main)


@dataclass
class HttpServer:
    url: str
    process: subprocess.Popen[bytes]
    token: str | None = None

    def run(self, scenario: Callable[..., Awaitable[Any]], clients: int = 1) -> Any:
        """Run `scenario(client, ...)` with `clients` SDK clients, each its own MCP session."""
        import anyio

        async def main() -> Any:
            from contextlib import AsyncExitStack

            async with AsyncExitStack() as stack:
                opened = [await stack.enter_async_context(self.client()) for _ in range(clients)]
                return await scenario(*opened)

        return anyio.run(main)

    @contextlib.asynccontextmanager
    async def client(self, **options: Any) -> AsyncIterator[Any]:
        """An SDK client on its own MCP session (and its own HTTP connection pool); in the
        handshake era unless `mode` says otherwise."""
        options.setdefault("mode", "legacy")
        import httpx2
        from mcp import Client
        from mcp.client.streamable_http import streamable_http_client

        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        async with httpx2.AsyncClient(headers=headers, timeout=httpx2.Timeout(30.0, read=120.0)) as http:
            async with Client(streamable_http_client(self.url, http_client=http), **options) as client:
                yield client


def start_http(config: Path, *extra: str, env: dict[str, str] | None = None,
               soft_files: int | None = None) -> Iterator[HttpServer]:
    """`codemode serve --transport http` in its own process; `soft_files`: started with that
    soft descriptor limit (`ulimit -Sn`), as a shell would give it."""
    command = [sys.executable, "-m", "codemode", "serve", "--config", str(config), "--transport", "http", "--port", "0",
               *extra]
    if soft_files is not None:
        command = ["sh", "-c", f'ulimit -Sn {soft_files} && exec "$@"', "sh", *command]
    process = subprocess.Popen(
        command,
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env={**os.environ, **(env or {})},
    )
    drain = None
    try:
        assert process.stderr is not None
        log = read_until(process.stderr, b"/mcp", START_TIMEOUT)
        found = _LISTENING.search(log)
        assert found, f"codemode serve did not start:\n{log.decode(errors='replace')}"
        drain = threading.Thread(target=lambda: sys.stderr.buffer.write(process.stderr.read()), daemon=True)  # keep its stderr drained
        drain.start()
        yield HttpServer(found.group(1).decode(), process)
    finally:
        stop(process, timeout=20)
        if drain is not None:
            drain.join(timeout=10)
        if process.stderr is not None:
            process.stderr.close()


def worker_pids(parent: int) -> set[int]:
    """The sandbox workers `parent` started."""
    return children(parent, "codemode.sandbox.worker")


def codemode_test(notebook: Path, *flags: str) -> subprocess.CompletedProcess[str]:
    """`codemode test [FLAGS] NOTEBOOK` (nbval in a real kernel), run from the notebook's folder."""
    return subprocess.run([sys.executable, "-m", "codemode", "test", *flags, str(notebook)], cwd=notebook.parent,
                          capture_output=True, text=True, timeout=600, env={**os.environ}, check=False)
