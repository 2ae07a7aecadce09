"""Starting the upstream side of `codemode serve` while the server already answers.

The MCP server answers `initialize` at once; the root session (the hub and its servers)
starts in the background, in two steps a request waits for only as far as it needs:

- `started`: the hub is ready: every server's tool list is known, from the on-disk tool
  cache (the server is "idle": not connected yet) or from a connection. `tools/list` and
  `search` wait for this; with every server in the cache it takes no connection at all.
- `connected`: every "idle" server has then been connected too (in parallel). `execute`
  waits for this, so a run's calls never find a server mid-connect.

The warm pool fills only once every server is connected: a worker builds its namespaces
from the servers whose tools are known, and one mid-connect would be left out of them.

`/health` shows each server's state as it goes (idle, connecting, connected, failed).
A failure to start (not a server's failure, which is that server's state, but the session's:
no sandbox here) is kept and answered to every request that waits, as an error result.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING

import anyio
import anyio.to_thread

from codemode.shared.escape import escaped

if TYPE_CHECKING:
    from codemode.engine import Session

logger = logging.getLogger(__name__)


class Startup:
    """The root session's start, run as a task of the server's loop (`run`)."""

    def __init__(self, root: Session, then: Callable[[], None] | None = None) -> None:
        """`then`: called (on a thread) once every server is connected, when the start worked."""
        self.root = root
        self._then = then
        self.started = anyio.Event()
        self.connected = anyio.Event()
        self.error: str | None = None

    async def run(self) -> None:
        try:
            # abandon_on_cancel: a shutdown meanwhile does not wait here; `root.close()` waits
            # for the start (the session's own lock) and then stops what it started.
            await anyio.to_thread.run_sync(self.root.start, abandon_on_cancel=True)
        except Exception as exc:  # noqa: BLE001 - boundary: kept and answered to every request
            logger.exception("codemode serve: the session failed to start")
            self.error = f"codemode serve could not start its session: {type(exc).__name__}: {exc}"
            print(escaped(f"codemode serve: {self.error}"), file=sys.stderr, flush=True)
        finally:
            self.started.set()
        try:
            if self.error is None:
                await anyio.to_thread.run_sync(self.root.connect, abandon_on_cancel=True)
                for name, state in self.root.servers.items():
                    if state.status not in ("connected", "disabled"):
                        print(escaped(f"codemode serve: server {name!r} is {state.status}: {state.error}"),
                              file=sys.stderr, flush=True)
                if self._then is not None:
                    await anyio.to_thread.run_sync(self._then)
        finally:
            self.connected.set()

    async def wait_started(self) -> str | None:
        """Wait for the tool lists; the start's error, if it failed."""
        await self.started.wait()
        return self.error

    async def wait_connected(self) -> str | None:
        """Wait for every server to be connected (or failed); the start's error, if it failed."""
        await self.connected.wait()
        return self.error
