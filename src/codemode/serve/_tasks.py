"""`execute` as a task: MCP Tasks, in both protocol eras, for long runs.

A client that asks for a task gets one at once (`working`) while the code runs behind it; it
follows the run with `tasks/get` (the status message is the run's latest progress: which tool
call started or ended) and gets the very `CallToolResult` a plain `execute` returns.

- 2025-11-25 (the tasks utility, in the handshake era): the server declares the `tasks`
  capability (list, cancel, task-augmented `tools/call`) and `execute` declares
  `execution.taskSupport: "optional"`; a `tools/call` whose params carry `task` (with the `ttl`
  the client wants) is answered with a `CreateTaskResult`; `tasks/get`, `tasks/result` (waits
  for the end, then the result tagged with the task), `tasks/list`, `tasks/cancel`. `search`
  does not run as a task: asked to, it is -32601, as the spec has it for such a tool.
- 2026-07-28 (the `io.modelcontextprotocol/tasks` extension, SEP-2663): the server advertises
  the extension; an `execute` whose request declares it in its client capabilities becomes a
  task (the server decides; this one always does), answered with the flat task and
  `resultType: "task"`; `tasks/get` (the result or error inlined once it ends, the question
  inlined while it asks), `tasks/update` (answers), `tasks/cancel`. Without the extension
  declared, tasks/* is -32021. No `tasks/result` or `tasks/list` in that era.

The run itself is the ordinary `tools/call` chain, called again by this module's middleware
from a task of its own (`Tasks.serve`), with the request's session seen through a
`TaskSession` (`_tasksession`): the handler does not know, except that in the 2026 era it asks
its approvals through that session rather than by `input_required` rounds (see `in_task`).

Invariants:
- A task answers only the token that started it (as sessions do); to any other it does not
  exist. Its id is 192 random bits. Tasks are not authentication: the bearer token is.
- A token has at most `MAX_LIVE_TASKS` unfinished tasks; one more is refused with -32600
  naming the limit. Finished ones are kept until their TTL (asked by the client, at most
  `MAX_TTL_MS`), at most `MAX_KEPT_TASKS` per token (the oldest go first).
- `tasks/cancel` interrupts the code as a cancelled request does, and the session's next
  `execute` runs once the worker has stopped it. A task past its TTL is cancelled and dropped.
"""

from __future__ import annotations

import dataclasses
import logging
import secrets
import time
import weakref
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import anyio
import anyio.abc
import mcp_types as types
from mcp.server.context import CallNext, HandlerResult, ServerRequestContext
from mcp.server.lowlevel import Server
from mcp.shared.exceptions import MCPError
from mcp_types import (
    INTERNAL_ERROR,
    INVALID_PARAMS,
    INVALID_REQUEST,
    METHOD_NOT_FOUND,
    MISSING_REQUIRED_CLIENT_CAPABILITY,
    SERVER_INFO_META_KEY,
)
from mcp_types.version import MODERN_PROTOCOL_VERSIONS

from codemode.serve._context import Asker
from codemode.serve._handles import DEFAULT_ROUTE
from codemode.serve._tasksession import RELATED_TASK, TaskSession

logger = logging.getLogger(__name__)

#: The 2026-07-28 extension's identifier.
EXTENSION_ID = "io.modelcontextprotocol/tasks"
#: How long a task is kept when its client names no TTL, and the most it may ask for: a
#: finished task holds its result in memory until then.
DEFAULT_TTL_MS = 3600 * 1000
MAX_TTL_MS = 24 * 3600 * 1000
#: The polling interval suggested to clients: a run's progress moves at the pace of tool calls.
POLL_INTERVAL_MS = 1000
#: Unfinished tasks per token: each holds a session's worker busy.
MAX_LIVE_TASKS = 16
#: Finished tasks kept per token, beyond which the oldest are dropped before their TTL.
MAX_KEPT_TASKS = 100
# How often tasks past their TTL are looked for.
SWEEP_SECONDS = 30.0

TERMINAL = frozenset({"completed", "failed", "cancelled"})
_LEGACY_METHODS = ("tasks/get", "tasks/result", "tasks/list", "tasks/cancel")
_MODERN_METHODS = ("tasks/get", "tasks/update", "tasks/cancel")
_CAPABILITY: dict[str, Any] = {"list": {}, "cancel": {}, "requests": {"tools": {"call": {}}}}
_installed: weakref.WeakKeyDictionary[Server[Any], Tasks] = weakref.WeakKeyDictionary()


class UpdateTaskParams(types.RequestParams):
    """`tasks/update` (2026-07-28 extension): answers to the questions a task asks."""

    task_id: str
    input_responses: dict[str, Any]


class Task:
    """One `execute` run as a task: its status, and its result or error once it ends."""

    def __init__(self, owner: str | None, modern: bool, ttl_ms: int, route: str = DEFAULT_ROUTE) -> None:
        # `ROUTE.SECRET`, as a session handle: a proxy sends the task's later requests to the
        # process that runs it by the name before the "." (deploy/haproxy.cfg).
        self.id = f"{route}.{secrets.token_urlsafe(24)}"
        self.owner = owner  # the digest of the token that started it
        self.modern = modern
        self.ttl_ms = ttl_ms
        self.created = self.updated = time.time()
        self.status = "working"
        self.message: str | None = "the code is running"
        self.result: dict[str, Any] | None = None
        self.error: dict[str, Any] | None = None
        self.inputs: dict[str, Any] = {}  # 2026: the questions out now, by key
        self.waiter: tuple[Any, Any] | None = None  # 2025: a waiting tasks/result's session and request id
        self.scope = anyio.CancelScope()
        self.ended = anyio.Event()
        self.asking: set[Any] = set()  # the asyncio tasks of questions out now (`TaskSession.elicit_form`)
        self._replies: dict[str, tuple[list[Any], anyio.Event]] = {}
        self._asked = 0

    @property
    def expired(self) -> bool:
        return time.time() > self.created + self.ttl_ms / 1000

    def status_to(self, status: str, message: str | None = None) -> None:
        if self.status in TERMINAL:  # a terminal status never changes (cancelled stays cancelled)
            return
        self.status = status
        self.message = message if message is not None else self.message
        self.updated = time.time()

    def note(self, message: str | None) -> None:
        """The run's latest progress, as the status message."""
        if message and self.status not in TERMINAL:
            self.message = message
            self.updated = time.time()

    async def ask(self, request: dict[str, Any]) -> Any:
        """Put a question to the client (2026 era) and wait for its answer (`tasks/update`)."""
        self._asked += 1
        key = f"approval-{self._asked}"  # never reused within a task, as the extension requires
        reply: list[Any] = []
        answered = anyio.Event()
        self.inputs[key] = request
        self._replies[key] = (reply, answered)
        self.status_to("input_required", "waiting for an answer")
        try:
            await answered.wait()
            return reply[0]
        finally:
            self.inputs.pop(key, None)
            self._replies.pop(key, None)
            if not self.inputs and self.status == "input_required":
                self.status_to("working", "the code is running")

    def answer(self, responses: Mapping[str, Any]) -> None:
        """Hand over the answers to questions out now; others are ignored, as the extension says."""
        for key, value in responses.items():
            waiting = self._replies.get(key)
            if waiting is not None and not waiting[1].is_set():
                waiting[0].append(value)
                waiting[1].set()

    def cancel(self) -> None:
        self.status_to("cancelled", "cancelled by the client")
        self.scope.cancel()
        for asking in list(self.asking):  # a question out: no answer is coming (the call is refused)
            asking.cancel()

    def view(self, modern: bool, detailed: bool = False) -> dict[str, Any]:
        """The task in the wire form of an era (`detailed`: 2026 `tasks/get`, with its payload)."""
        view: dict[str, Any] = {"taskId": self.id, "status": self.status, "createdAt": _iso(self.created),
                                "lastUpdatedAt": _iso(self.updated)}
        if self.message:
            view["statusMessage"] = self.message
        view.update({"ttlMs": self.ttl_ms, "pollIntervalMs": POLL_INTERVAL_MS} if modern
                    else {"ttl": self.ttl_ms, "pollInterval": POLL_INTERVAL_MS})
        if detailed and self.status == "input_required" and self.inputs:
            view["inputRequests"] = dict(self.inputs)
        elif detailed and self.status == "completed":
            view["result"] = self.result
        elif detailed and self.status == "failed":
            view["error"] = self.error
        return view


class Tasks:
    """The tasks of one server process, by id; their runs go in `serve`'s task group."""

    def __init__(self, server: Server[Any]) -> None:
        self.server = server
        self.tasks: dict[str, Task] = {}
        self.group: anyio.abc.TaskGroup | None = None

    async def serve(self) -> None:
        """Hold the task group runs go in and drop expired tasks, until cancelled."""
        async with anyio.create_task_group() as group:
            self.group = group
            while True:
                await anyio.sleep(SWEEP_SECONDS)
                self.purge()

    def purge(self) -> None:
        for task in [task for task in self.tasks.values() if task.expired]:
            task.scope.cancel()
            del self.tasks[task.id]

    def find(self, ctx: ServerRequestContext[Any], task_id: str) -> Task:
        self.purge()
        task = self.tasks.get(task_id)
        if task is None or task.owner != Asker.of(ctx).owner:
            raise MCPError(INVALID_PARAMS, f"no task {task_id!r} here: it ended more than its TTL ago, or another "
                                           "server process holds it, or it was never started with this token")
        return task

    def create(self, owner: str | None, modern: bool, ttl_ms: int, route: str = DEFAULT_ROUTE) -> Task:
        self.purge()
        mine = sorted((task for task in self.tasks.values() if task.owner == owner), key=lambda task: task.created)
        live = [task for task in mine if task.status not in TERMINAL]
        if len(live) >= MAX_LIVE_TASKS:
            raise MCPError(INVALID_REQUEST, f"{len(live)} tasks of this token are still running, the most this server "
                                            f"runs at once ({MAX_LIVE_TASKS}); wait for one to end or cancel one "
                                            "(tasks/cancel), then ask again", data={"code": "MAX_TASKS"})
        finished = [task for task in mine if task.status in TERMINAL]
        for task in finished[:max(len(finished) - MAX_KEPT_TASKS + 1, 0)]:
            del self.tasks[task.id]
        task = Task(owner, modern, ttl_ms, route)
        self.tasks[task.id] = task
        return task

    async def middleware(self, ctx: ServerRequestContext[Any], call_next: CallNext) -> HandlerResult:
        """Starts a task for an `execute` that asks for one; declares task support in the handshake era."""
        modern = ctx.protocol_version in MODERN_PROTOCOL_VERSIONS
        if ctx.method == "initialize":
            result = await call_next(ctx)
            if isinstance(result, dict) and isinstance(result.get("capabilities"), dict):
                result["capabilities"]["tasks"] = _CAPABILITY
            return result
        if ctx.method == "tools/list" and not modern:
            result = await call_next(ctx)
            for tool in result.get("tools", []) if isinstance(result, dict) else []:
                if tool.get("name") == "execute":
                    tool["execution"] = {"taskSupport": "optional"}
            return result
        params = ctx.params or {}
        if ctx.method != "tools/call" or not _asks_for_task(ctx, params, modern):
            return await call_next(ctx)
        if params.get("name") != "execute":
            if modern:  # the server decides, in this era: a search answers at once
                return await call_next(ctx)
            raise MCPError(METHOD_NOT_FOUND, f"{params.get('name')!r} does not run as a task (no execution."
                                             "taskSupport): call it without `task`; execute runs as one")
        if self.group is None:
            raise MCPError(INTERNAL_ERROR, "this server's tasks are not running (Tasks.serve)")
        asker = Asker.of(ctx)
        task = self.create(asker.owner, modern, _ttl(params.get("task")), asker.route)
        self.group.start_soon(self._drive, task, ctx, call_next)
        if not modern:
            return {"task": task.view(False)}
        return {**task.view(True), "resultType": "task", "_meta": {SERVER_INFO_META_KEY: self.server.server_info_stamp}}

    async def _drive(self, task: Task, ctx: ServerRequestContext[Any], call_next: CallNext) -> None:
        """Run the `tools/call` chain for the task, keep its outcome."""
        try:
            with task.scope:
                result = await call_next(dataclasses.replace(ctx, session=TaskSession(ctx.session, task)))  # type: ignore[arg-type]
                task.result = dict(result) if isinstance(result, Mapping) else {}
                task.status_to("completed", "the run ended with an error" if task.result.get("isError")
                               else "the run ended")
        except MCPError as exc:
            task.error = exc.error.model_dump(by_alias=True, mode="json", exclude_none=True)
            task.status_to("failed", exc.error.message)
        except Exception as exc:
            logger.error("codemode serve: a task failed", exc_info=exc)
            task.error = {"code": INTERNAL_ERROR, "message": f"the server failed to run the code: {exc}"}
            task.status_to("failed", task.error["message"])
        finally:
            task.status_to("cancelled", "cancelled")  # not ended otherwise: cancelled, or the server stopping
            task.ended.set()

    async def on_get(self, ctx: ServerRequestContext[Any], params: types.GetTaskRequestParams) -> dict[str, Any]:
        modern = _era(ctx, "tasks/get")
        return self.find(ctx, params.task_id).view(modern, detailed=modern)

    async def on_result(self, ctx: ServerRequestContext[Any], params: types.GetTaskPayloadRequestParams
                        ) -> dict[str, Any]:
        _era(ctx, "tasks/result")
        task = self.find(ctx, params.task_id)
        task.waiter = (ctx.session, ctx.request_id)  # where its questions go meanwhile
        try:
            await task.ended.wait()
        finally:
            if task.waiter is not None and task.waiter[1] == ctx.request_id:
                task.waiter = None
        if task.error is not None:
            raise MCPError(task.error["code"], task.error["message"], task.error.get("data"))
        if task.result is None:
            raise MCPError(INVALID_REQUEST, f"task {task.id!r} was cancelled before it ended: it has no result")
        meta = {**(task.result.get("_meta") or {}), RELATED_TASK: {"taskId": task.id}}
        return {**task.result, "_meta": meta}

    async def on_list(self, ctx: ServerRequestContext[Any], params: types.PaginatedRequestParams) -> dict[str, Any]:
        _era(ctx, "tasks/list")
        self.purge()
        owner = Asker.of(ctx).owner
        return {"tasks": [task.view(False) for task in self.tasks.values() if task.owner == owner]}

    async def on_cancel(self, ctx: ServerRequestContext[Any], params: types.CancelTaskRequestParams
                        ) -> dict[str, Any]:
        modern = _era(ctx, "tasks/cancel")
        task = self.find(ctx, params.task_id)
        if task.status in TERMINAL and not modern:
            raise MCPError(INVALID_PARAMS, f"task {task.id!r} has already ended ({task.status}): nothing to cancel")
        task.cancel()
        return {} if modern else task.view(False)

    async def on_update(self, ctx: ServerRequestContext[Any], params: UpdateTaskParams) -> dict[str, Any]:
        _era(ctx, "tasks/update")
        self.find(ctx, params.task_id).answer(params.input_responses)
        return {}


def install(server: Server[Any]) -> Tasks:
    """Serve tasks on `server`: its middleware, the tasks/* methods, the 2026 extension's ad."""
    tasks = Tasks(server)
    server.middleware.append(tasks.middleware)  # innermost: the run's chain is the plain call's
    server.extensions[EXTENSION_ID] = {}
    server.add_request_handler("tasks/get", types.GetTaskRequestParams, tasks.on_get)
    server.add_request_handler("tasks/result", types.GetTaskPayloadRequestParams, tasks.on_result)
    server.add_request_handler("tasks/list", types.PaginatedRequestParams, tasks.on_list)
    server.add_request_handler("tasks/cancel", types.CancelTaskRequestParams, tasks.on_cancel)
    server.add_request_handler("tasks/update", UpdateTaskParams, tasks.on_update)
    _installed[server] = tasks
    return tasks


async def serve_tasks(server: Server[Any]) -> None:
    """Run `server`'s tasks (see `Tasks.serve`) until cancelled; nothing when none are installed."""
    tasks = _installed.get(server)
    if tasks is not None:
        await tasks.serve()


def in_task(ctx: ServerRequestContext[Any]) -> bool:
    """Whether this `tools/call` runs as a task (its session is a `TaskSession`)."""
    return isinstance(ctx.session, TaskSession)


def _asks_for_task(ctx: ServerRequestContext[Any], params: Mapping[str, Any], modern: bool) -> bool:
    if not modern:
        return isinstance(params.get("task"), Mapping)
    if params.get("requestState") is not None:  # a round of an input_required exchange: not a new call
        return False
    capabilities = ctx.session.client_capabilities
    return EXTENSION_ID in ((capabilities.extensions if capabilities is not None else None) or {})


def _era(ctx: ServerRequestContext[Any], method: str) -> bool:
    """Whether the request is of the 2026 era, once it is known to have `method` in its era."""
    modern = ctx.protocol_version in MODERN_PROTOCOL_VERSIONS
    if method not in (_MODERN_METHODS if modern else _LEGACY_METHODS):
        raise MCPError(METHOD_NOT_FOUND, "Method not found", data=method)
    if modern and not _asks_for_task(ctx, {}, modern):
        raise MCPError(MISSING_REQUIRED_CLIENT_CAPABILITY, f"{method} needs the {EXTENSION_ID} extension declared "
                                                           "in the request's client capabilities",
                       data={"requiredCapabilities": {"extensions": {EXTENSION_ID: {}}}})
    return modern


def _ttl(asked: Any) -> int:
    ttl = asked.get("ttl") if isinstance(asked, Mapping) else None
    if isinstance(ttl, bool) or not isinstance(ttl, int) or ttl <= 0:
        return DEFAULT_TTL_MS
    return min(ttl, MAX_TTL_MS)


def _iso(moment: float) -> str:
    return datetime.fromtimestamp(moment, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
