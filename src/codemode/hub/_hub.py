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

import json
import math
import os
import shutil
import sys
import tempfile
import time
import warnings
from collections import deque
from collections.abc import Callable, Iterable
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Literal

import anyio
import anyio.abc
import anyio.to_thread
from anyio.abc import TaskStatus

from codemode.config import Config, HttpServer, ServerConfig, StdioServer
from codemode.errors import ServerConnectError, ServerCrashedError, ToolCallError, UnknownToolError, UpstreamError
from codemode.hub import _toolcache
from codemode.schema import ToolDef

if TYPE_CHECKING:
    from mcp import Client
    from mcp_types import LoggingMessageNotificationParams

# A first `npx` run or a cold Python server (the SDK import alone is ~1.2 s) can be slow.
CONNECT_TIMEOUT = 60.0
# Guards against a server that never ends its tools/list pagination.
MAX_TOOL_PAGES = 1000
_STDERR_TAIL = 2000
_TETHER = str(Path(__file__).with_name("_tether.py"))
# Why a tool with `execution.taskSupport: "required"` is listed apart: the SDK's client has no
# task-augmented `tools/call` (2025-11-25 tasks), and a plain call is refused (-32601).
TASK_REQUIRED = ("runs only as an MCP task (execution.taskSupport \"required\"), which this client "
                 "cannot start yet; every plain call would fail")
_SERVER_LOG_LINES = 200

# "idle": its tools are known from the cache (`_toolcache`); it connects on its first call.
Status = Literal["idle", "connecting", "connected", "failed", "crashed", "closed", "disabled", "invalid"]


def _prepare(config: ServerConfig) -> Any:
    """Import the MCP SDK (about a second: pydantic model building) and, for the built-in
    demo, build its server (the shop's models and 13 tools: half a second more). Run on a
    thread at a server's first connect, so a run that calls no tool of a cached server never
    pays it. Returns the in-process server, or None."""
    import mcp  # noqa: F401
    from mcp.shared.exceptions import MCPDeprecationWarning

    # Logging, roots and sampling are deprecated in the 2026 protocol era; the SDK warns on use
    # of the deprecated surfaces, and such a warning must never land in a notebook cell.
    warnings.filterwarnings("ignore", category=MCPDeprecationWarning)
    if isinstance(config, StdioServer) and config.in_process:
        import importlib

        module, _, function = config.in_process.partition(":")
        return getattr(importlib.import_module(module), function)()
    return None


@dataclass
class LogRecord:
    """One `notifications/message` from a server."""

    server: str
    level: str
    data: Any
    logger: str | None = None


@dataclass
class CallResult:
    """What one tool call gave back, ready for the trace and for the worker."""

    ok: bool
    payload: dict[str, Any] | None = None  # worker-side value, see _results.result_payload
    error: ToolCallError | ServerCrashedError | None = None
    result_bytes: int = 0
    result_json: str = ""  # the compact wire JSON: what classic tool calling shows a model


@dataclass
class ServerState:
    """A configured server: how it is reached and what it offers."""

    name: str
    transport: str
    status: Status = "connecting"
    tools: list[ToolDef] = field(default_factory=list)
    wire_tools: list[dict[str, Any]] = field(default_factory=list)
    # Tools listed by the server that no call of ours can reach, each with the reason: kept
    # apart from `tools` (and so from stubs, search and the token account), shown as such.
    unavailable: list[tuple[ToolDef, str]] = field(default_factory=list)
    error: str | None = None
    protocol_version: str | None = None
    server_version: str | None = None
    instructions: str | None = None
    connect_seconds: float = 0.0
    log: deque[LogRecord] = field(default_factory=lambda: deque(maxlen=_SERVER_LOG_LINES))
    _index: tuple[list[ToolDef], int, dict[str, ToolDef]] | None = field(default=None, repr=False, compare=False)

    def tool(self, name: str) -> ToolDef | None:
        index = self._index
        if index is None or index[0] is not self.tools or index[1] != len(self.tools):
            # Built once per tool list (each call looks its tool up); the first of a name wins.
            index = self._index = (self.tools, len(self.tools), {t.name: t for t in reversed(self.tools)})
        return index[2].get(name)


@dataclass
class _Link:
    state: ServerState
    config: ServerConfig
    client: Client | None = None
    cached: dict[str, Any] | None = None  # its entry in the tool cache, when it had one
    errlog: IO[str] | None = None
    stop: anyio.Event = field(default_factory=anyio.Event)
    finished: anyio.Event = field(default_factory=anyio.Event)
    inflight: list[Callable[[LogRecord], None]] = field(default_factory=list)
    reconnecting: anyio.Lock = field(default_factory=anyio.Lock)
    connecting: anyio.CancelScope | None = None  # while it connects: `aclose` cancels it


class Readiness:
    """`wait_ready` for a hub and for the hubs that stand in for it (cassettes): set once the
    servers are connected, failed or replayed."""

    _ready: anyio.Event | None = None

    def _ready_event(self) -> anyio.Event:
        if self._ready is None:  # made on the loop, by whichever comes first
            self._ready = anyio.Event()
        return self._ready

    async def wait_ready(self) -> None:
        """Wait until every server has connected or failed (`serve` runs as a task)."""
        await self._ready_event().wait()


class Hub(Readiness):
    """The MCP servers of one session. Run `serve` as a task; call `call` from any task."""

    def __init__(self, config: Config, *, cached: bool = True) -> None:
        """`cached`: take tool lists from the cache (`_toolcache`), connecting such servers
        on their first call; False connects every server at `serve` (a recording wants that)."""
        self.config = config
        self._links: dict[str, _Link] = {}
        self._tg: anyio.abc.TaskGroup | None = None
        self._ready: anyio.Event | None = None
        self._closing: anyio.Event | None = None
        self._warmed = False
        # Bumped when a server's live tool list differs from the cached one the session built
        # its API on: the session rebuilds its API (and worker) before its next run.
        self.generation = 0
        for name, server in config.enabled().items():
            link = self._links[name] = _Link(ServerState(name, _transport(server)), server)
            if cached:
                link.cached = _toolcache.load(server)
                try:
                    if link.cached is not None:
                        _adopt(link.state, link.cached)
                except (TypeError, KeyError, AttributeError):  # an entry of another shape: connect
                    link.cached, link.state.tools, link.state.wire_tools = None, [], []
                    link.state.status = "connecting"
        # Entries that are kept but not connected, so a listing shows them as what they are.
        self._idle: dict[str, ServerState] = {
            name: ServerState(name, _transport(server), status="disabled")
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

    async def _hold(self, link: _Link, ready: anyio.Event) -> None:
        state = link.state
        started = time.perf_counter()
        # The connect deadline is lifted once connected. (A `fail_after` around the enter
        # alone would be exited before the Client's own task group: anyio forbids that.)
        scope = anyio.CancelScope(deadline=anyio.current_time() + _connect_timeout(link))
        link.connecting = scope
        try:
            with scope:
                await self._connect_and_hold(link, ready, started, scope)
            if scope.cancelled_caught and state.status == "connecting":
                if link.stop.is_set():
                    raise _Stopped
                raise TimeoutError
        except Exception as exc:  # noqa: BLE001 - boundary: one server's failure is reported, not raised
            state.error = _connect_problem(exc, link)
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

    async def _connect_and_hold(self, link: _Link, ready: anyio.Event, started: float, scope: anyio.CancelScope) -> None:
        state = link.state
        # Off the loop, so calls to other servers and the worker's start go on meanwhile.
        in_process = await anyio.to_thread.run_sync(_prepare, link.config)
        async with AsyncExitStack() as stack:
            link.client = await stack.enter_async_context(self._client(link, stack, in_process))
            await self._list_tools(link)
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
            await link.stop.wait()

    async def _reconnect(self, link: _Link) -> None:
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

    async def _connect(self, link: _Link) -> None:
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

    def _check_cache(self, link: _Link) -> None:
        """Compare the live tool list with the cached one; write the cache when they differ."""
        entry = _entry(link.state)
        if link.cached is not None and _same(link.cached, entry):
            return
        _toolcache.save(link.config, entry)
        if link.cached is not None:
            self.generation += 1  # the session built its API on a list that was stale
        link.cached = entry

    def _client(self, link: _Link, stack: AsyncExitStack, in_process: Any = None) -> Client:
        from mcp import Client
        from mcp.client.sse import sse_client
        from mcp.client.stdio import StdioServerParameters, stdio_client
        from mcp.client.streamable_http import streamable_http_client

        config = link.config
        name = link.state.name

        async def on_log(params: LoggingMessageNotificationParams) -> None:
            record = LogRecord(name, str(params.level), params.data, params.logger)
            link.state.log.append(record)
            for deliver in link.inflight:
                deliver(record)

        if in_process is not None:  # the built-in demo: no second interpreter
            return Client(in_process, mode=config.mode, logging_callback=on_log, log_level="info")
        if isinstance(config, StdioServer):
            link.errlog = tempfile.TemporaryFile("w+", encoding="utf-8", errors="replace")
            command, args = tethered(config.command, config.args, config.env, config.cwd)
            params = StdioServerParameters(command=command, args=args, env=config.env or None, cwd=config.cwd)
            transport: Any = stdio_client(params, errlog=link.errlog)
        elif isinstance(config, HttpServer) and config.sse:
            transport = sse_client(config.url, headers=config.headers or None, timeout=30.0, sse_read_timeout=300.0)
        else:
            assert isinstance(config, HttpServer)
            import httpx2

            http = httpx2.AsyncClient(headers=config.headers, timeout=httpx2.Timeout(30.0, read=300.0))
            stack.push_async_callback(http.aclose)
            transport = streamable_http_client(config.url, http_client=http)
        return Client(transport, mode=config.mode, logging_callback=on_log, log_level="info")

    async def _list_tools(self, link: _Link) -> None:
        from codemode.hub._results import wire

        assert link.client is not None
        tools, wire_tools, unavailable, cursor = [], [], [], None
        for _ in range(MAX_TOOL_PAGES):
            page = await link.client.list_tools(cursor=cursor)
            for tool in page.tools:
                annotations = tool.annotations.model_dump(by_alias=True, exclude_none=True) if tool.annotations else {}
                definition = ToolDef(
                    server=link.state.name,
                    name=tool.name,
                    description=tool.description or "",
                    input_schema=dict(tool.input_schema or {"type": "object"}),
                    output_schema=dict(tool.output_schema) if tool.output_schema else None,
                    annotations=annotations,
                    title=tool.title,
                )
                execution = getattr(tool, "execution", None)
                if getattr(execution, "task_support", None) == "required":
                    unavailable.append((definition, TASK_REQUIRED))
                    continue
                wire_tools.append(wire(tool))
                tools.append(definition)
            cursor = page.next_cursor
            if cursor is None:
                break
        link.state.tools, link.state.wire_tools, link.state.unavailable = tools, wire_tools, unavailable

    async def call(
        self,
        server: str,
        tool: str,
        arguments: dict[str, Any],
        *,
        timeout: float | None = None,
        on_progress: Callable[[float, float | None, str | None], None] | None = None,
        on_log: Callable[[LogRecord], None] | None = None,
    ) -> CallResult:
        """Call one tool by its MCP name. Failures come back in the result, never raised."""
        link = self._links.get(server)
        if link is None:
            return CallResult(False, error=UnknownToolError(server, tool, f"no server {server!r} in this session"))
        if link.state.status == "idle":
            await self._connect(link)
        if link.state.status == "crashed":
            await self._reconnect(link)
        if link.client is None or link.state.status != "connected":
            problem = link.state.error or f"the server is {link.state.status}"
            return CallResult(False, error=ServerCrashedError(server, problem))
        timeout = timeout if timeout is not None else (link.config.timeout or self.config.call_timeout)
        progress_cb = None
        if on_progress is not None:
            async def progress_cb(progress: float, total: float | None, message: str | None) -> None:
                on_progress(progress, total, message)
        from codemode.hub._results import error_text, map_call_error, result_payload

        if on_log is not None:
            link.inflight.append(on_log)
        try:
            with anyio.fail_after(timeout + 1.0):  # the SDK's own timeout answers first
                result = await link.client.call_tool(tool, arguments, read_timeout_seconds=timeout,
                                                     progress_callback=progress_cb)
        except Exception as exc:  # noqa: BLE001 - mapped to our errors at this boundary
            error = map_call_error(exc, server, tool, timeout)
            if isinstance(error, ServerCrashedError):
                link.state.status = "crashed"
                link.state.error = error.problem + _stderr_tail(link)
            return CallResult(False, error=error)
        finally:
            if on_log is not None:
                link.inflight.remove(on_log)
        # The size of the compact wire JSON (pydantic-core serialises it in Rust, in microseconds).
        text = result.model_dump_json(by_alias=True, exclude_none=True)
        size = len(text.encode())
        if result.is_error:
            error = UpstreamError(server, tool, error_text(result, tool))
            return CallResult(False, error=error, result_bytes=size, result_json=text)
        payload = result_payload(result, link.state.tool(tool))
        return CallResult(True, payload=payload, result_bytes=size, result_json=text)


def _transport(server: ServerConfig) -> str:
    if isinstance(server, StdioServer):
        return "stdio"
    return "sse" if server.sse else "http"


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


def _entry(state: ServerState) -> dict[str, Any]:
    """A connected server's tool-cache entry."""
    return {"tools": [{k: v for k, v in tool.as_dict().items() if k != "server"} for tool in state.tools],
            "wire": state.wire_tools, "instructions": state.instructions,
            "unavailable": [[{k: v for k, v in tool.as_dict().items() if k != "server"}, why]
                            for tool, why in state.unavailable],
            "serverVersion": state.server_version, "protocolVersion": state.protocol_version}


def _same(a: dict[str, Any], b: dict[str, Any]) -> bool:
    # Through JSON: the cache's lists and the SDK's values compare alike.
    def text(entry: dict[str, Any]) -> str:
        return json.dumps({k: entry.get(k) for k in ("tools", "wire", "instructions", "unavailable")},
                          sort_keys=True, default=str)

    return text(a) == text(b)


def _adopt(state: ServerState, entry: dict[str, Any]) -> None:
    """Fill a server's state from its cache entry: known tools, not connected."""
    state.tools = [ToolDef(server=state.name, **tool) for tool in entry["tools"] if isinstance(tool, dict)]
    state.wire_tools = list(entry["wire"])
    state.unavailable = [(ToolDef(server=state.name, **tool), why) for tool, why in entry.get("unavailable") or []]
    state.instructions = entry.get("instructions")
    state.server_version = entry.get("serverVersion")
    state.protocol_version = entry.get("protocolVersion")
    state.status = "idle"


def tethered(command: str, args: list[str], env: dict[str, str] | None, cwd: str | Path | None) -> tuple[str, list[str]]:
    """The command line that runs a stdio server under `_tether.py`, so the server and what
    it starts end with this process and with the server (see that module). Raises
    FileNotFoundError for a command that is not there, as spawning it would."""
    path = (env or {}).get("PATH", os.environ.get("PATH", os.defpath))
    if os.sep in command:
        found = os.path.join(str(cwd), command) if cwd and not os.path.isabs(command) else command
        if not os.access(found, os.X_OK):
            raise FileNotFoundError(command)
    elif shutil.which(command, path=path) is None:
        raise FileNotFoundError(command)
    if not os.path.isdir("/proc"):  # the tether reads its group from /proc (Linux)
        return command, list(args)
    return sys.executable, ["-I", "-S", _TETHER, str(os.getpid()), command, *args]


def _stderr_tail(link: _Link) -> str:
    if link.errlog is None or link.errlog.closed:
        return ""
    try:
        link.errlog.flush()
        link.errlog.seek(0)
        tail = link.errlog.read()[-_STDERR_TAIL:].strip()
    except (OSError, ValueError):
        return ""
    return f"; its last error output:\n{tail}" if tail else ""


def _connect_timeout(link: _Link) -> float:
    return link.config.connect_timeout or CONNECT_TIMEOUT


class _Stopped(Exception):
    """The hub closed while the server was still connecting."""


def _connect_problem(exc: BaseException, link: _Link) -> str:
    while isinstance(exc, BaseExceptionGroup) and len(exc.exceptions) == 1:
        exc = exc.exceptions[0]
    if isinstance(exc, _Stopped):
        return "the session closed while it was connecting"
    if isinstance(exc, TimeoutError):
        problem = (f"did not finish connecting within {_connect_timeout(link):g} s (connectTimeout); "
                   "it may be hanging in initialize")
    elif isinstance(exc, FileNotFoundError):
        problem = f"command not found: {getattr(link.config, 'command', '?')!r}; check the config's command and PATH"
    elif isinstance(exc, ServerConnectError):
        problem = exc.problem
    else:
        problem = f"could not connect ({type(exc).__name__}: {exc})".replace("()", "")
    return problem + _stderr_tail(link)
