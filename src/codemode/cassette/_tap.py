"""One session's calls on a borrowed hub, written to a cassette of their own.

`codemode serve` shares one hub among its client sessions; `--record` gives each client a
transcript notebook and a cassette beside it. A `TapHub` stands between a worker session and
the shared hub: while a `SessionCassette` is attached, the calls made through it (and the
tool lists of the servers they reach) are written to that cassette; otherwise it only
passes calls on. The hub itself, and the other sessions' calls, are untouched.

Invariants:
- A cassette written here replays as one recorded by `RecordingHub` does: a server line for
  every server whose tools are known (connected, or from the tool cache), then the calls.
- Lines come from two threads (the server's loop for searches and executes, the hub's for
  calls): each is written whole, under a lock.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from codemode.cassette._file import Scrubber, Writer
from codemode.cassette._hubs import LogCallback, ProgressCallback, QuestionCallback, _Recorder
from codemode.config import Config
from codemode.hub import READ_RESOURCE, CallResult, LiveCheck, ServerState
from codemode.trust.redact import Redactor


class SessionCassette:
    """The cassette of one client session: its servers' tool lists, then its calls."""

    def __init__(self, config: Config, path: Path) -> None:
        self.path = path
        scrubber = Scrubber(path.parent, Redactor.of(config))
        self._recorder = _Recorder(_LockedWriter(path, scrubber, fresh=True))
        self._written: set[str] = set()
        self._lock = threading.Lock()

    def servers(self, states: dict[str, ServerState]) -> None:
        """Write the tool list of each server not written yet whose tools are known."""
        with self._lock:
            for name, state in states.items():
                if name not in self._written and state.status in ("connected", "idle") and state.wire_tools:
                    self._written.add(name)
                    self._recorder.server(state)

    async def call(self, hub: Any, server: str, tool: str, arguments: dict[str, Any], timeout: float | None,
                   on_progress: ProgressCallback | None, on_log: LogCallback | None,
                   check_live: LiveCheck | None = None,
                   on_question: QuestionCallback | None = None) -> CallResult:
        self.servers(hub.servers)
        return await self._recorder.call(hub, server, tool, arguments, timeout, on_progress, on_log, check_live,
                                         on_question)


class TapHub:
    """A borrowed hub with the hub's interface; its calls go to `cassette` while one is set."""

    def __init__(self, hub: Any) -> None:
        self.hub = hub
        self.cassette: SessionCassette | None = None

    async def call(self, server: str, tool: str, arguments: dict[str, Any], *, timeout: float | None = None,
                   on_progress: ProgressCallback | None = None, on_log: LogCallback | None = None,
                   check_live: LiveCheck | None = None,
                   on_question: QuestionCallback | None = None) -> CallResult:
        cassette = self.cassette
        if cassette is None:
            return await self.hub.call(server, tool, arguments, timeout=timeout, on_progress=on_progress,
                                       on_log=on_log, check_live=check_live, on_question=on_question)
        return await cassette.call(self.hub, server, tool, arguments, timeout, on_progress, on_log, check_live,
                                   on_question)

    async def read_resource(self, server: str, uri: str, *, timeout: float | None = None) -> CallResult:
        cassette = self.cassette
        if cassette is None:
            return await self.hub.read_resource(server, uri, timeout=timeout)  # type: ignore[no-any-return]
        return await cassette.call(self.hub, server, READ_RESOURCE, {"uri": uri}, timeout, None, None)

    async def request(self, server: str, method: str, arguments: dict[str, Any], *,
                      timeout: float | None = None) -> CallResult:
        cassette = self.cassette
        if cassette is None:
            return await self.hub.request(server, method, arguments, timeout=timeout)  # type: ignore[no-any-return]
        return await cassette.call(self.hub, server, method, arguments, timeout, None, None)

    def keep_decision(self, server: str, tool: str, arguments: dict[str, Any], decision: dict[str, str]) -> None:
        cassette = self.cassette
        if cassette is not None:
            cassette._recorder.decision(server, tool, arguments, decision)

    def recorded_decision(self, server: str, tool: str, arguments: dict[str, Any]) -> dict[str, Any] | None:
        return None

    def __getattr__(self, name: str) -> Any:
        return getattr(self.hub, name)  # all else a session asks of its hub: servers, wait_ready, ...


class _LockedWriter(Writer):
    def __init__(self, path: Path, scrubber: Scrubber, *, fresh: bool) -> None:
        super().__init__(path, scrubber, fresh=fresh)
        self._lock = threading.Lock()

    def write(self, entry: dict[str, Any]) -> None:
        with self._lock:
            super().write(entry)
