"""Hubs over a cassette, with the live `Hub`'s interface: nothing above knows which it has.

- `RecordingHub` wraps a live hub: every connected server's tools/list, then every call
  (result or error, progress and logs) goes to the cassette as it happens.
- `ReplayHub` stands in for the hub: the servers' tools come from the cassette and calls are
  answered from it, matched by server, tool and arguments, repeats in recorded order. It
  starts no server unless it must: a server missing from the cassette, or (not strict) a
  call that was not recorded, goes to a live hub started then. `record_missing` (the auto
  mode) appends what went live to the cassette.

Both keep a person's approval decisions too (`keep_decision`, `recorded_decision`): a replay
answers a call's approval question as the person did when it was recorded, and only for
that same call (server, tool, arguments); a call nobody approved still asks.
"""

from __future__ import annotations

import difflib
import json
from collections import defaultdict, deque
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import anyio
import anyio.abc
from anyio.abc import TaskStatus

from codemode.cassette._file import Recording, Scrubber, Writer, read
from codemode.config import Config
from codemode.errors import (
    NotRecordedError,
    ServerCrashedError,
    ToolCallError,
    ToolTimeoutError,
    UnknownToolError,
    UpstreamError,
)
from codemode.hub import READ_RESOURCE, SERVER_METHODS, CallResult, Hub, LiveCheck, LogRecord, ServerState
from codemode.hub._state import Readiness
from codemode.schema import ToolDef

ProgressCallback = Callable[[float, float | None, str | None], None]
LogCallback = Callable[[LogRecord], None]
# A server's question during a call (elicitation), answered live; a cassette keeps no answers.
QuestionCallback = Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]


class _Recorder:
    """Writes a hub's servers and calls to a cassette."""

    def __init__(self, writer: Writer) -> None:
        self.writer = writer

    def server(self, state: ServerState) -> None:
        self.writer.write({"kind": "server", "server": state.name, "transport": state.transport, "tools": state.wire_tools,
                           "instructions": state.instructions, "serverVersion": state.server_version,
                           "protocolVersion": state.protocol_version, "resources": state.resources,
                           "templates": state.resource_templates, "prompts": state.prompts})

    def decision(self, server: str, tool: str, arguments: dict[str, Any], decision: dict[str, str]) -> None:
        self.writer.write({"kind": "approval", "server": server, "tool": tool, "arguments": arguments,
                           "decision": decision["decision"], "scope": decision["scope"], "by": decision["by"]})

    async def call(self, hub: Hub, server: str, tool: str, arguments: dict[str, Any], timeout: float | None,
                   on_progress: ProgressCallback | None, on_log: LogCallback | None,
                   check_live: LiveCheck | None = None,
                   on_question: QuestionCallback | None = None) -> CallResult:
        progress: list[dict[str, Any]] = []
        logs: list[dict[str, Any]] = []

        def keep_progress(value: float, total: float | None, message: str | None) -> None:
            progress.append({"progress": value, "total": total, "message": message})
            if on_progress is not None:
                on_progress(value, total, message)

        def keep_log(record: LogRecord) -> None:
            logs.append({"level": record.level, "data": record.data, "logger": record.logger})
            if on_log is not None:
                on_log(record)

        if tool in SERVER_METHODS:  # resources and prompts (an app's `ui://` page too): recorded as a call is
            result = await hub.request(server, tool, arguments, timeout=timeout)
        else:
            result = await hub.call(server, tool, arguments, timeout=timeout, on_progress=keep_progress, on_log=keep_log,
                                    check_live=check_live, on_question=on_question)
        entry: dict[str, Any] = {"kind": "call", "server": server, "tool": tool, "arguments": arguments,
                                 "progress": progress, "logs": logs}
        if result.result_json:
            entry["result"] = json.loads(result.result_json)
        else:
            error = result.error
            entry["error"] = {"code": getattr(error, "code", "UPSTREAM_ERROR"),
                              "problem": getattr(error, "problem", str(error))}
        self.writer.write(entry)
        return result


class RecordingHub(Readiness):
    """The live hub, with everything it lists and answers written to a cassette."""

    def __init__(self, config: Config, path: Path, scrubber: Scrubber) -> None:
        self.config = config
        self.cassette = path
        self._live = Hub(config, cached=False)  # every tools/list recorded, none from the cache
        self._scrubber = scrubber
        self._recorder: _Recorder | None = None

    @property
    def servers(self) -> dict[str, ServerState]:
        return self._live.servers

    async def serve(self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        async with anyio.create_task_group() as tg:
            tg.start_soon(self._live.serve)
            await self._live.wait_ready()
            # Begun here, not when made: a session makes its next hub as it closes this one.
            self._recorder = _Recorder(Writer(self.cassette, self._scrubber, fresh=True))
            for state in self._live.servers.values():
                if state.status == "connected":
                    self._recorder.server(state)
            self._ready_event().set()
            task_status.started()

    async def aclose(self) -> None:
        await self._live.aclose()

    async def call(self, server: str, tool: str, arguments: dict[str, Any], *, timeout: float | None = None,
                   on_progress: ProgressCallback | None = None, on_log: LogCallback | None = None,
                   check_live: LiveCheck | None = None,
                   on_question: QuestionCallback | None = None) -> CallResult:
        assert self._recorder is not None, "serve() has not begun"
        return await self._recorder.call(self._live, server, tool, arguments, timeout, on_progress, on_log, check_live,
                                         on_question)

    async def read_resource(self, server: str, uri: str, *, timeout: float | None = None) -> CallResult:
        return await self.call(server, READ_RESOURCE, {"uri": uri}, timeout=timeout)

    async def request(self, server: str, method: str, arguments: dict[str, Any], *,
                      timeout: float | None = None) -> CallResult:
        return await self.call(server, method, arguments, timeout=timeout)

    def keep_decision(self, server: str, tool: str, arguments: dict[str, Any], decision: dict[str, str]) -> None:
        """Write a person's approval decision (`decision`, `scope`, `by`) on this call."""
        if self._recorder is not None:
            self._recorder.decision(server, tool, arguments, decision)

    def recorded_decision(self, server: str, tool: str, arguments: dict[str, Any]) -> dict[str, Any] | None:
        return None  # recording asks anew


class ReplayHub(Readiness):
    """Tool lists and call results from a cassette; live servers only when it must."""

    def __init__(self, config: Config, path: Path, scrubber: Scrubber, *, strict: bool = False,
                 record_missing: bool = False) -> None:
        self.config = config
        self.cassette = path
        self.strict = strict
        self._scrubber = scrubber
        self._recording: Recording = read(path, scrubber)
        self._record_missing = record_missing
        self._recorder: _Recorder | None = None
        self._queues: dict[str, deque[dict[str, Any]]] = defaultdict(deque)
        for entry in self._recording.calls:
            self._queues[self._key(entry["server"], entry["tool"], entry.get("arguments") or {})].append(entry)
        self._decisions: dict[str, deque[dict[str, Any]]] = defaultdict(deque)
        for entry in self._recording.approvals:
            self._decisions[self._key(entry["server"], entry["tool"], entry.get("arguments") or {})].append(entry)
        self._states: dict[str, ServerState] = {}
        for name, server in config.enabled().items():
            recorded = self._recording.servers.get(name)
            transport = "http" if getattr(server, "url", None) else "stdio"
            self._states[name] = _replayed_state(name, recorded) if recorded else ServerState(name, transport)
        self._live: Hub | None = None
        self._tg: anyio.abc.TaskGroup | None = None
        self._stop = anyio.Event()
        self._starting = anyio.Lock()

    @property
    def servers(self) -> dict[str, ServerState]:
        live = self._live.servers if self._live is not None else {}
        return {name: live.get(name, state) if state.status != "connected" else state
                for name, state in self._states.items()}

    async def serve(self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        async with anyio.create_task_group() as tg:
            self._tg = tg
            if self._record_missing:
                self._recorder = _Recorder(Writer(self.cassette, self._scrubber, fresh=False))
            missing = [name for name, state in self._states.items() if state.status != "connected"]
            if missing and not self.strict:
                await self._start_live()
            for name in missing:
                state = self._states[name]
                if self._live is None:
                    state.status, state.error = "failed", (
                        f"not in the cassette {self.cassette.name} (a strict replay starts no server); "
                        "record it with --record")
                elif self._recorder is not None and self._live.servers[name].status == "connected":
                    self._recorder.server(self._live.servers[name])
            self._ready_event().set()
            task_status.started()
            await self._stop.wait()
            if self._live is not None:
                await self._live.aclose()

    async def aclose(self) -> None:
        self._stop.set()

    async def _start_live(self) -> Hub:
        async with self._starting:
            if self._live is None:
                assert self._tg is not None
                self._live = live = Hub(self.config)  # set first: a close meanwhile closes it too
                self._tg.start_soon(live.serve)
                await live.wait_ready()
            return self._live

    def _key(self, server: str, tool: str, arguments: dict[str, Any]) -> str:
        return json.dumps([server, tool, self._scrubber.scrub(arguments)], sort_keys=True, ensure_ascii=False)

    async def call(self, server: str, tool: str, arguments: dict[str, Any], *, timeout: float | None = None,
                   on_progress: ProgressCallback | None = None, on_log: LogCallback | None = None,
                   check_live: LiveCheck | None = None,
                   on_question: QuestionCallback | None = None) -> CallResult:
        """A recorded call from the cassette; an unrecorded one live (not strict), where
        `check_live` sees the live server's tool, not the cassette's (`Hub.call`)."""
        queue = self._queues.get(self._key(server, tool, arguments))
        if queue:
            return self._replay(queue.popleft(), on_progress, on_log)
        if self.strict or server not in self.config.enabled():
            return CallResult(False, error=self._not_recorded(server, tool, arguments))
        live = await self._start_live()
        if self._recorder is not None:
            return await self._recorder.call(live, server, tool, arguments, timeout, on_progress, on_log, check_live,
                                             on_question)
        if tool in SERVER_METHODS:
            return await live.request(server, tool, arguments, timeout=timeout)
        return await live.call(server, tool, arguments, timeout=timeout, on_progress=on_progress, on_log=on_log,
                               check_live=check_live, on_question=on_question)

    async def read_resource(self, server: str, uri: str, *, timeout: float | None = None) -> CallResult:
        return await self.call(server, READ_RESOURCE, {"uri": uri}, timeout=timeout)

    async def request(self, server: str, method: str, arguments: dict[str, Any], *,
                      timeout: float | None = None) -> CallResult:
        return await self.call(server, method, arguments, timeout=timeout)

    def recorded_decision(self, server: str, tool: str, arguments: dict[str, Any]) -> dict[str, Any] | None:
        """The recorded approval decision on this call (repeats in recorded order), or None."""
        queue = self._decisions.get(self._key(server, tool, arguments))
        return queue.popleft() if queue else None

    def keep_decision(self, server: str, tool: str, arguments: dict[str, Any], decision: dict[str, str]) -> None:
        if self._recorder is not None:  # auto mode: what was new goes in
            self._recorder.decision(server, tool, arguments, decision)

    def _replay(self, entry: dict[str, Any], on_progress: ProgressCallback | None,
                on_log: LogCallback | None) -> CallResult:
        server, tool = entry["server"], entry["tool"]
        for step in entry.get("progress") or []:
            if on_progress is not None:
                on_progress(step.get("progress", 0), step.get("total"), step.get("message"))
        for log in entry.get("logs") or []:
            if on_log is not None:
                on_log(LogRecord(server, str(log.get("level")), log.get("data"), log.get("logger")))
        if "result" not in entry:
            error = entry.get("error") or {}
            return CallResult(False, error=_error(server, tool, str(error.get("code")), str(error.get("problem"))))
        if tool in SERVER_METHODS:
            text = json.dumps(entry["result"], separators=(",", ":"), ensure_ascii=False)
            return CallResult(True, payload={"kind": "json", "value": entry["result"]}, result_bytes=len(text.encode()),
                              result_json=text)
        from mcp_types import CallToolResult

        from codemode.hub._results import error_text, result_payload

        result = CallToolResult.model_validate(entry["result"])
        text = result.model_dump_json(by_alias=True, exclude_none=True)
        size = len(text.encode())
        if result.is_error:
            return CallResult(False, error=UpstreamError(server, tool, error_text(result, tool)),
                              result_bytes=size, result_json=text)
        payload = result_payload(result, self._states[server].tool(tool) if server in self._states else None, text)
        return CallResult(True, payload=payload, result_bytes=size, result_json=text)

    def _not_recorded(self, server: str, tool: str, arguments: dict[str, Any]) -> NotRecordedError:
        call = _signature(server, tool, arguments)
        where = f"the cassette {self.cassette.name}"
        candidates = [e for e in self._recording.calls if (e["server"], e["tool"]) == (server, tool)] or \
            [e for e in self._recording.calls if e["server"] == server]
        if not candidates:
            hint = f"; no call of {server}.{tool} is recorded"
        else:
            wanted = json.dumps(arguments, sort_keys=True)
            closest = max(candidates, key=lambda e: difflib.SequenceMatcher(
                None, wanted, json.dumps(e.get("arguments") or {}, sort_keys=True)).ratio())
            recorded = _signature(closest["server"], closest["tool"], closest.get("arguments") or {})
            diff = argument_diff(arguments, closest.get("arguments") or {}) if closest["tool"] == tool else ""
            repeats = " (recorded, but called more often than in the recording)" if not diff and closest["tool"] == tool else ""
            hint = f"; the closest recorded call is {recorded}{repeats}" + (f": {diff}" if diff else "")
        return NotRecordedError(server, tool, f"{call} is not in {where}{hint}. Record it: "
                                "%codemode record PATH, or codemode test --record")


def argument_diff(called: dict[str, Any], recorded: dict[str, Any]) -> str:
    """`order_id: 1002 here, 1001 recorded; limit: only recorded (5)` for an error message."""
    parts = []
    for key in sorted(set(called) | set(recorded)):
        if key not in recorded:
            parts.append(f"{key}: only here ({_short(called[key])})")
        elif key not in called:
            parts.append(f"{key}: only recorded ({_short(recorded[key])})")
        elif called[key] != recorded[key]:
            parts.append(f"{key}: {_short(called[key])} here, {_short(recorded[key])} recorded")
    return "; ".join(parts)


def _short(value: Any, limit: int = 60) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _signature(server: str, tool: str, arguments: dict[str, Any]) -> str:
    args = ", ".join(f"{k}={_short(v, 40)}" for k, v in arguments.items())
    return f"{server}.{tool}({args})"


def _error(server: str, tool: str, code: str, problem: str) -> ToolCallError | ServerCrashedError:
    if code == "TIMEOUT":
        return ToolTimeoutError(server, tool, problem)
    if code == "SERVER_CRASHED":
        return ServerCrashedError(server, problem)
    if code == "UNKNOWN_TOOL":
        return UnknownToolError(server, tool, problem)
    return UpstreamError(server, tool, problem)


def _replayed_state(name: str, recorded: dict[str, Any]) -> ServerState:
    wire_tools = [t for t in recorded.get("tools") or [] if isinstance(t, dict)]
    # The transport it was recorded over: nothing above the hub knows it talks to a cassette.
    state = ServerState(name, str(recorded.get("transport") or "stdio"), status="connected", wire_tools=wire_tools,
                        instructions=recorded.get("instructions"), server_version=recorded.get("serverVersion"),
                        protocol_version=recorded.get("protocolVersion"))
    state.tools = [_tooldef(name, tool) for tool in wire_tools]
    # What it listed besides tools (stubs and search name them); an older cassette has none.
    state.resources, state.resource_templates, state.prompts = (
        [item for item in value if isinstance(item, dict)] if isinstance(value, list) else None
        for value in (recorded.get(key) for key in ("resources", "templates", "prompts")))
    return state


def _tooldef(server: str, tool: dict[str, Any]) -> ToolDef:
    return ToolDef(server=server, name=str(tool.get("name")), description=tool.get("description") or "",
                   input_schema=dict(tool.get("inputSchema") or {"type": "object"}),
                   output_schema=dict(tool["outputSchema"]) if tool.get("outputSchema") else None,
                   annotations=dict(tool.get("annotations") or {}), title=tool.get("title"))
