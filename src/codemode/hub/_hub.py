"""The MCP client side: one `Client` per configured server, all on the hub's event loop.

Invariants:
- Each server's `Client` is entered and exited by one long-lived task (`_hold`), because
  anyio cancel scopes belong to the task that opened them; calls from any task on the loop
  then share the session. Closing the hub lets every `_hold` leave its context normally, so
  the SDK's stdio shutdown (close stdin, wait, terminate the tree) runs for every server.
- Servers connect in parallel; one that fails is reported (with the last lines of its
  stderr) and the others are still usable.
- Every call is bounded by a timeout. Progress notifications reach the call that asked for
  them; log notifications reach the calls in flight on that server (all of them: a
  notification does not say which request it belongs to), or the server's own log.
"""

from __future__ import annotations

import math
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterable
from contextlib import AbstractAsyncContextManager, AsyncExitStack
from typing import TYPE_CHECKING, Any

import anyio
import anyio.abc
import anyio.to_thread
from anyio.abc import TaskStatus

from codemode.config import Config, ServerConfig, StdioServer
from codemode.errors import ServerCrashedError, UnknownToolError, UpstreamError
from codemode.hub import _toolcache
from codemode.hub._link import (
    CONNECT_TIMEOUT,
    Link,
    Stopped,
    connect_problem,
    connect_timeout,
    prepare,
    stderr_tail,
    tethered,
    transport_of,
)
from codemode.hub._clients import build_client
from codemode.hub._toollists import ToolLists
from codemode.hub._state import CallResult, LiveCheck, LogRecord, Readiness, ServerState
from codemode.hub._toolcache import adopt
from codemode.trust.redact import Redactor

if TYPE_CHECKING:
    from mcp import Client

class Hub(Readiness, ToolLists):
    """The MCP servers of one session. Run `serve` as a task; call `call` from any task."""

    def __init__(self, config: Config, *, cached: bool = True, sign_in: Iterable[str] = ()) -> None:
        """`cached`: take tool lists from the cache (`_toolcache`), connecting such servers
        on their first call; False connects every server at `serve` (a recording wants that).
        `sign_in`: servers to sign in to in a browser even with no `oauth` entry (`codemode auth login`)."""
        self.config = config
        self.sign_in = frozenset(sign_in)
        self._links: dict[str, Link] = {}
        self._tg: anyio.abc.TaskGroup | None = None
        self._ready: anyio.Event | None = None
        self._closing: anyio.Event | None = None
        self._warmed = False
        # Bumped when a server's live tool list differs from the cached one the session built
        # its API on: the session rebuilds its API (and worker) before its next run.
        self.generation = 0
        # Servers that announced `tools/list_changed` and were listed again: the session puts
        # the new tools in its namespaces before its next run and says so (`take_changed`).
        self.changed: set[str] = set()
        self._relisting: list[anyio.Event] = []  # lists asked for and not yet done
        redact = Redactor.of(config).text
        for name, server in config.enabled().items():
            link = self._links[name] = Link(ServerState(name, transport_of(server)), server, redact=redact)
            if cached:
                link.cached = _toolcache.load(server)
                try:
                    if link.cached is not None:
                        adopt(link.state, link.cached)
                except (TypeError, KeyError, AttributeError):  # an entry of another shape: connect
                    link.cached, link.state.tools, link.state.wire_tools = None, [], []
                    link.state.status = "connecting"
        # Entries that are kept but not connected, so a listing shows them as what they are.
        self._idle: dict[str, ServerState] = {
            name: ServerState(name, transport_of(server), status="disabled")
            for name, server in config.servers.items() if server.disabled}
        self._idle.update({name: ServerState(name, "-", status="invalid", error=problem)
                           for name, problem in config.broken.items()})

    @property
    def servers(self) -> dict[str, ServerState]:
        """Every configured server: connected or not, disabled and invalid entries too."""
        states = {name: link.state for name, link in self._links.items()}
        return {**states, **self._idle}

    async def serve(self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        """Connect every server in parallel, report started, and hold them until `aclose`."""
        self._closing = anyio.Event()
        async with anyio.create_task_group() as tg:
            self._tg = tg
            tg.start_soon(self._closing.wait, name="codemode-hub-keeper")  # lazy connects need the group
            ready = []
            for link in self._links.values():
                if link.state.status == "idle":  # tools from the cache: it connects on first call
                    link.finished.set()
                    continue
                event = anyio.Event()
                ready.append(event)
                tg.start_soon(self._hold, link, event, name=f"codemode-server-{link.state.name}")
            if ready:
                self._warmed = True
                warmed = anyio.Event()
                tg.start_soon(_warm_validator, warmed, name="codemode-warm-jsonschema")
                ready.append(warmed)
            for event in ready:
                await event.wait()
            self._ready_event().set()
            task_status.started()

    async def aclose(self) -> None:
        """Disconnect every server (bounded by the SDK's own shutdown timeouts)."""
        for link in self._links.values():
            link.stop.set()
            if link.connecting is not None:  # a connect in flight ends now, its process too
                link.connecting.cancel()
        for link in self._links.values():
            await link.finished.wait()
            if link.state.status == "idle":
                link.state.status = "closed"
        if self._closing is not None:
            self._closing.set()

    async def _hold(self, link: Link, ready: anyio.Event) -> None:
        state = link.state
        started = time.perf_counter()
        # The connect deadline is lifted once connected. (A `fail_after` around the enter
        # alone would be exited before the Client's own task group: anyio forbids that.)
        scope = anyio.CancelScope(deadline=anyio.current_time() + connect_timeout(link))
        link.connecting = scope
        try:
            with scope:
                await self._connect_and_hold(link, ready, started, scope)
            if scope.cancelled_caught and state.status == "connecting":
                if link.stop.is_set():
                    raise Stopped
                raise TimeoutError
        except Exception as exc:  # noqa: BLE001 - boundary: one server's failure is reported, not raised
            state.error = connect_problem(exc, link)
            state.status = "failed" if state.status == "connecting" else "crashed"
        finally:
            link.connecting = None
            if state.status == "connected":
                state.status = "closed"
            link.client = None
            ready.set()
            link.finished.set()
            if link.errlog is not None:
                link.errlog.close()

    async def _connect_and_hold(self, link: Link, ready: anyio.Event, started: float, scope: anyio.CancelScope) -> None:
        state = link.state
        async with AsyncExitStack() as stack:
            # A stdio server starts first, so its own start-up overlaps the SDK's import here.
            streams = await stack.enter_async_context(self._stdio(link)) if self._spawns(link.config) else None
            # Off the loop, so calls to other servers and the worker's start go on meanwhile.
            in_process = await anyio.to_thread.run_sync(prepare, link.config)
            link.client = await stack.enter_async_context(
                build_client(link, stack, in_process, streams, sign_in=link.state.name in self.sign_in,
                             on_tools_changed=self._tools_changed))
            await self._list_tools(link)
            await self._list_offers(link)
            scope.deadline = math.inf
            link.connecting = None
            client = link.client
            state.protocol_version = client.protocol_version
            info = client.server_info
            state.server_version = f"{info.name} {info.version}".strip() if info else None
            state.instructions = client.instructions
            state.connect_seconds = time.perf_counter() - started
            self._check_cache(link)
            state.status = "connected"
            ready.set()
            async with anyio.create_task_group() as listening:
                if self._listens(client):  # the 2026-07-28 way to hear `tools/list_changed`
                    listening.start_soon(self._listen, link, name=f"codemode-listen-{state.name}")
                await link.stop.wait()
                listening.cancel_scope.cancel()

    async def _reconnect(self, link: Link) -> None:
        """Start a server again after it died. The call that found it dead has failed
        (tools need not be idempotent, so it is never retried); the calls after it reconnect."""
        async with link.reconnecting:
            if link.state.status != "crashed" or self._tg is None:
                return  # another call reconnected it meanwhile, or the hub is closing
            link.stop.set()
            with anyio.move_on_after(CONNECT_TIMEOUT):
                await link.finished.wait()
            link.stop, link.finished = anyio.Event(), anyio.Event()
            link.state.status, link.state.error = "connecting", None
            ready = anyio.Event()
            self._tg.start_soon(self._hold, link, ready, name=f"codemode-server-{link.state.name}")
            await ready.wait()

    async def connect_all(self, names: Iterable[str] | None = None) -> None:
        """Connect, in parallel, every server whose tools came from the cache; or, given
        `names`, those of them (a run's code names them), waiting for any such connect
        already in flight (it holds the server's lock until it is done)."""
        wanted = None if names is None else set(names)
        async with anyio.create_task_group() as tg:
            for name, link in self._links.items():
                if link.state.status == "idle" if wanted is None else name in wanted:
                    tg.start_soon(self._connect, link)

    async def _connect(self, link: Link) -> None:
        """Connect a server whose tools came from the cache, on its first call."""
        async with link.reconnecting:
            if link.state.status != "idle" or self._tg is None:
                return  # another call connected it meanwhile, or the hub is closing
            link.finished = anyio.Event()
            link.state.status = "connecting"
            ready = anyio.Event()
            self._tg.start_soon(self._hold, link, ready, name=f"codemode-server-{link.state.name}")
            if not self._warmed:
                self._warmed = True
                self._tg.start_soon(_warm_validator, anyio.Event(), name="codemode-warm-jsonschema")
            await ready.wait()

    @staticmethod
    def _spawns(config: ServerConfig) -> bool:
        return isinstance(config, StdioServer) and not config.in_process

    def _stdio(self, link: Link) -> AbstractAsyncContextManager[Any]:
        """Start a stdio server under its tether; its streams, and its stop on exit."""
        from codemode.hub._stdio import stdio_transport

        config = link.config
        assert isinstance(config, StdioServer)
        link.errlog = tempfile.TemporaryFile("w+", encoding="utf-8", errors="replace")
        command, args = tethered(config.command, config.args, config.env, config.cwd)
        return stdio_transport(command, args, config.env, config.cwd, link.errlog)

    async def call(
        self,
        server: str,
        tool: str,
        arguments: dict[str, Any],
        *,
        timeout: float | None = None,
        on_progress: Callable[[float, float | None, str | None], None] | None = None,
        on_log: Callable[[LogRecord], None] | None = None,
        check_live: LiveCheck | None = None,
        on_question: Callable[[dict[str, Any]], Awaitable[dict[str, Any]]] | None = None,
    ) -> CallResult:
        """Call one tool by its MCP name. Failures come back in the result, never raised.

        `check_live` is awaited with the tool as the connected server lists it now (None: it
        lists no such tool) just before the call goes out, the server connected first if its
        tools came from the cache: an error it returns refuses the call (an approval decided
        from the live server's annotations, never from a cached or recorded list alone).

        `on_question` answers what the server asks meanwhile (elicitation: the request's
        params in, an `ElicitResult` as wire JSON out); without one, questions are declined."""
        link = self._links.get(server)
        if link is None:
            return CallResult(False, error=UnknownToolError(server, tool, f"no server {server!r} in this session"))
        if link.state.status in ("idle", "connecting"):
            # A lazy connect in flight holds `reconnecting` until the server is up or failed:
            # a second call waits for it instead of failing with "the server is connecting".
            await self._connect(link)
        if link.state.status == "crashed":
            await self._reconnect(link)
        if link.client is None or link.state.status != "connected":
            problem = link.state.error or f"the server is {link.state.status}"
            return CallResult(False, error=ServerCrashedError(server, problem))
        if check_live is not None:
            refused = await check_live(link.state.tool(tool))
            if refused is not None:
                return CallResult(False, error=refused)
        timeout = timeout if timeout is not None else (link.config.timeout or self.config.call_timeout)
        progress_cb = None
        if on_progress is not None:
            async def progress_cb(progress: float, total: float | None, message: str | None) -> None:
                on_progress(progress, total, message)
        from codemode.hub._results import error_text, map_call_error, result_payload

        if on_log is not None:
            link.inflight.append(on_log)
        if on_question is not None:
            link.asking.append(on_question)
        try:
            with anyio.fail_after(timeout + 1.0):  # the SDK's own timeout answers first
                result = await link.client.call_tool(tool, arguments, read_timeout_seconds=timeout,
                                                     progress_callback=progress_cb)
        except Exception as exc:  # noqa: BLE001 - mapped to our errors at this boundary
            error = map_call_error(exc, server, tool, timeout)
            if isinstance(error, ServerCrashedError):
                # The call says why too: the server's last words are what its author needs.
                error = ServerCrashedError(server, error.problem + stderr_tail(link))
                link.state.status = "crashed"
                link.state.error = error.problem
            return CallResult(False, error=error)
        finally:
            if on_log is not None:
                link.inflight.remove(on_log)
            if on_question is not None:
                link.asking.remove(on_question)
        # The size of the compact wire JSON (pydantic-core serialises it in Rust, in microseconds).
        text = result.model_dump_json(by_alias=True, exclude_none=True)
        size = len(text.encode())
        if result.is_error:
            error = UpstreamError(server, tool, error_text(result, tool))
            return CallResult(False, error=error, result_bytes=size, result_json=text)
        payload = result_payload(result, link.state.tool(tool), text)
        return CallResult(True, payload=payload, result_bytes=size, result_json=text)

    async def read_resource(self, server: str, uri: str, *, timeout: float | None = None) -> CallResult:
        """Read one resource (`resources/read`): failures come back in the result (`_resources`)."""
        return await self.request(server, "resources/read", {"uri": uri}, timeout=timeout)

    async def request(self, server: str, method: str, arguments: dict[str, Any], *,
                      timeout: float | None = None) -> CallResult:
        """One of `SERVER_METHODS` (resources and prompts: list, templates, read, get), its
        wire result as the payload's value. Failures come back in the result, never raised."""
        from codemode.hub._resources import server_request

        return await server_request(self, server, method, arguments, timeout)


async def _warm_validator(done: anyio.Event) -> None:
    """Import jsonschema off the loop while servers connect.

    The SDK validates structured results against `outputSchema` with jsonschema, imported
    on the first such call; with the format checkers a Jupyter install brings, that import
    took 1.3 s here, most of it `rfc3987_syntax` building IRI parsers that no result
    validation uses (`_lazyiri` defers them to the first IRI checked). Done while the
    servers start, it costs little wall time, and the first call's timing in the trace is
    the call's own.
    """
    import importlib

    from codemode.hub import _lazyiri

    _lazyiri.install()
    try:
        await anyio.to_thread.run_sync(importlib.import_module, "jsonschema")
    finally:
        done.set()
