"""The MCP server of `codemode serve`, on the SDK's low-level `Server`.

Two tools (`search`, `execute`; see `_tools`), and the run-report app `execute` links
(`ui://codemode/run`, see `_runapp`) as the one resource. The low-level server, not `MCPServer`,
because the tool list is ours to write word by word (it is the model's whole surface) and
an `execute` result is a `CallToolResult` with both a text block and `structuredContent`.

Invariants:
- Both protocol eras, through the SDK: `server/discover` and the 2026-07-28 per-request
  envelope beside `initialize` and 2025-11-25 sessions. Which session an `execute` runs in is
  `_context`'s to say: the handle it carries, else its handshake-era connection's own
  session, else a new one. Every `execute` result names its session's handle.
- An unknown tool is a JSON-RPC error (-32602), as the spec has it; everything else wrong with
  a call is an `isError` result.
- While an `execute` runs, each tool call's start and end go to the client as progress
  notifications (when it sent a progress token), and the code's prints as log messages.
- A refusal or a failure of the code is an `isError` result; nothing here drops a connection.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import warnings
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import mcp_types as types
from mcp.server.context import ServerRequestContext
from mcp.server.lowlevel import Server
from mcp.server.request_state import RequestStateBoundary, RequestStateSecurity
from mcp.shared.exceptions import MCPDeprecationWarning, MCPError
from mcp_types import INVALID_PARAMS

from codemode._version import __version__
from codemode.errors import CodemodeError
from codemode.serve._account import note_run, token_line
from codemode.serve._context import Asker, SessionLost, session_for
from codemode.serve._limits import Refused, RunLimits, check_code, run_limits
from codemode.serve._links import Link, bound_images, bound_structured
from codemode.serve._relay import LOG_LEVEL_KEY, Relay
from codemode.serve._rounds import Run
from codemode.serve._runapp import (
    EXTENSION_ID,
    RUN_APP_URI,
    list_app_resources,
    read_app_resource,
)
from codemode.serve._search import search
from codemode.serve._sessions import ClientSession, Sessions
from codemode.serve._stateroute import StateRoute, run_lost
from codemode.serve._tasks import in_task, install as install_tasks
from codemode.serve._tools import error_result as _error
from codemode.serve._tools import linkable, refusal, structured, summary_text, tool_list
from codemode.serve._values import SCHEME as VALUES_SCHEME
from codemode.trace import rich_content
from codemode.trust.approvers import ElicitationApprover, elicitation_modes

if TYPE_CHECKING:
    from codemode.engine import Event
    from codemode.trace import RunReport

logger = logging.getLogger(__name__)

INSTRUCTIONS = (
    "Code mode: the tools of several MCP servers as a Python API. Find tools with `search`, then "
    "write Python that calls them with `execute`; variables persist between execute calls."
)


def build_server(sessions: Sessions) -> Server[Any]:
    """The MCP server whose tools run code in `sessions`' workers. Its requests wait for the
    upstream side only as far as they need (see `_startup`): `initialize` not at all."""
    listed: list[types.Tool] = []

    async def on_list_tools(ctx: ServerRequestContext[Any], params: types.PaginatedRequestParams | None
                            ) -> types.ListToolsResult:
        if not listed:
            failed = await sessions.startup.wait_started()
            listed[:] = [types.Tool.model_validate(entry) for entry in _listing(sessions, failed=bool(failed))]
        return types.ListToolsResult(tools=listed)

    async def on_call_tool(ctx: ServerRequestContext[Any], params: types.CallToolRequestParams
                           ) -> types.CallToolResult | types.InputRequiredResult:
        if params.name not in ("search", "execute"):  # a protocol error, as the spec has it for an unknown tool
            raise MCPError(code=INVALID_PARAMS, message=f"Unknown tool: {params.name!r} (the tools are search and execute)")
        arguments = params.arguments or {}
        asker = Asker.of(ctx)
        startup = sessions.startup
        failed = await (startup.wait_started() if params.name == "search" else startup.wait_connected())
        if failed:
            return _error("NOT_STARTED", failed)
        if params.name == "search":
            return search(sessions, ctx, arguments, asker)
        if params.request_state is not None:  # a 2026 round answering the question a run asked
            return await _resume(sessions, asker, params, ctx)
        try:
            client = session_for(ctx, sessions, asker, arguments.get("session"))
        except ValueError as exc:
            return _error("INVALID_ARGUMENTS", str(exc))
        except SessionLost as lost:
            return _refused("SESSION_LOST", f"{lost}. A new session is ready: pass session={lost.fresh!r}", lost.fresh)
        client.peer = asker.client or client.peer
        return await _execute(sessions, client, arguments, params.meta, ctx, asker)

    async def on_list_resources(ctx: ServerRequestContext[Any], params: types.PaginatedRequestParams | None
                                ) -> types.ListResourcesResult:
        return types.ListResourcesResult(resources=list_app_resources())

    async def on_read_resource(ctx: ServerRequestContext[Any], params: types.ReadResourceRequestParams
                               ) -> types.ReadResourceResult:
        asker = Asker.of(ctx)
        found = read_app_resource(params.uri) or sessions.values.read(
            params.uri, lambda handle: sessions.find(handle, asker.owner) is not None)
        if found is None and params.uri.startswith(VALUES_SCHEME):
            raise MCPError(INVALID_PARAMS, f"no value {params.uri!r} here: its session ended, or newer values "
                                           "replaced it, or another server process holds it")
        if found is None:
            raise MCPError(INVALID_PARAMS, f"no resource {params.uri!r} here; the one resource is {RUN_APP_URI}")
        return found

    async def on_set_logging_level(ctx: ServerRequestContext[Any], params: types.SetLevelRequestParams
                                   ) -> types.EmptyResult:
        # Honoured for this connection: stdout goes at info, stderr at warning, each only at or
        # above the level asked (2026 requests carry their own level; the SDK gates those).
        connection = getattr(ctx.session, "_connection", None)
        if connection is not None:
            connection.state[LOG_LEVEL_KEY] = params.level
        return types.EmptyResult()

    # The logging capability (the code's prints as log messages) is deprecated in the 2026 era,
    # which the SDK warns about on every start; the handshake era this server speaks too has it.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MCPDeprecationWarning)
        server: Server[Any] = Server("codemode", version=__version__, instructions=INSTRUCTIONS,
                                     get_tool_input_schema=lambda name: _input_schema(sessions, name),
                                     on_list_tools=on_list_tools, on_call_tool=on_call_tool,
                                     on_list_resources=on_list_resources, on_read_resource=on_read_resource,
                                     on_set_logging_level=on_set_logging_level)
    # MCP Apps (`execute` links the run-report app): advertised where the era's capabilities
    # have `extensions` (2026-07-28); a handshake-era host finds the app by the tool's `_meta`.
    server.extensions[EXTENSION_ID] = {}
    # The requestState of an input_required round is sealed and checked by the SDK (a key of this
    # process: a run lives in one process anyway, and state minted elsewhere is refused).
    # Outside the seal, the state names this backend for a proxy to route the retry by (`_stateroute`).
    server.middleware.append(StateRoute())
    server.middleware.append(RequestStateBoundary(RequestStateSecurity.ephemeral(), default_audience="codemode"))
    install_tasks(server)  # `execute` as a task, for clients that ask (`_tasks`)
    return server


async def _execute(sessions: Sessions, client: ClientSession, arguments: dict[str, Any], meta: Any,
                   ctx: ServerRequestContext[Any], asker: Asker) -> types.CallToolResult | types.InputRequiredResult:
    config = sessions.config
    try:
        code = check_code(config, arguments.get("code"))
        servers = sorted({tool.server for tool in sessions.root.tools()})
        run_limits(config, arguments.get("timeout"), meta, None, servers)  # a bad argument: refused at once
        rate_left = sessions.rates.admit(asker.owner)

        def plan(client: ClientSession) -> RunLimits:
            # Called by `Sessions.run` under the session's lock, the execute counted as it returns:
            # concurrent executes of one session see each other's counts.
            if config.max_executes is not None and client.executes >= config.max_executes:
                raise Refused("MAX_EXECUTES", f"this session has made {client.executes} execute calls, the most it "
                                              "may (codemode.maxExecutes); start a new session")
            # The session's tool calls left cap the run's: once none are left, code still runs and
            # only its tool calls are refused (MAX_TOOL_CALLS, as a ToolError the code may catch).
            left = None
            if config.max_session_tool_calls is not None:
                left = max(config.max_session_tool_calls - client.tool_calls, 0)
            limits = run_limits(config, arguments.get("timeout"), meta, left, servers)
            if rate_left is not None:
                limits = dataclasses.replace(limits, max_tool_calls=min(
                    c for c in (limits.max_tool_calls, rate_left) if c is not None))
            return limits

        value = arguments.get("input")
        inputs = {"input": value} if value is not None else None
    except Refused as refused:
        return _refused(refused.code, refused.message, client.key, getattr(refused, "retry_after", None))
    relay = Relay(ctx)
    # A request that can carry no live event (a 2026 request without a progress token or a log
    # level) gets none: each would wake the run's thread. Its later rounds get none either.
    on_event: Callable[[Event], None] | None = relay.on_event if relay.carries else None
    shown: list[Event] | None = None
    if sessions.record is not None:  # what the cell showed, in order, for its outputs (transcripts)
        shown = []
        on_event = _keeping(shown, relay.on_event)  # the transcript keeps the prints either way

    def finish(outcome: tuple[RunReport, str]) -> types.CallToolResult:
        report, notice = outcome
        sessions.rates.note_calls(asker.owner, sum(1 for c in report.calls if c.error_code != "MAX_TOOL_CALLS"))
        if client.transcript is not None:
            client.transcript.add_execute(report, timeout=arguments.get("timeout"), inputs=inputs, events=shown,
                                          state_lost=bool(notice))
        return _result(sessions, client, report, notice, _listing(sessions))

    # A call the approval policy holds back, or an upstream server's question, is asked of this
    # client: by elicitation on a handshake-era connection, as `input_required` rounds in the
    # 2026 era; a client without the elicitation capability has nobody to ask.
    asking = ElicitationApprover(ctx.session, asyncio.get_running_loop(), ctx.request_id)
    if asker.modern and not in_task(ctx):  # a task asks through its own session (`_tasksession`)
        modes = elicitation_modes(ctx.session.client_capabilities)
        run = sessions.rounds.start(Run(asker.owner, client.key, modes, finish, relay),
                                    lambda run: sessions.run(client, code, plan, inputs, on_event, run.approver))
        return await _round(run, ctx)
    try:
        return finish(await sessions.run(client, code, plan, inputs, on_event, asking))
    except Exception as exc:  # noqa: BLE001 - boundary: see _failure
        return _failure(exc, client.key)


async def _resume(sessions: Sessions, asker: Asker, params: types.CallToolRequestParams,
                  ctx: ServerRequestContext[Any]) -> types.CallToolResult | types.InputRequiredResult:
    """A 2026 round that answers the question its run asked: hand it over, then wait again."""
    run = sessions.rounds.find(str(params.request_state), asker.owner)
    if run is None:
        return run_lost()
    run.answer(params.input_responses, str(params.request_state))
    return await _round(run, ctx)


async def _round(run: Run, ctx: ServerRequestContext[Any]) -> types.CallToolResult | types.InputRequiredResult:
    run.relay.ctx = ctx  # this round's request carries the run's progress
    try:
        outcome = await run.wait()
    except Exception as exc:  # noqa: BLE001 - boundary: see _failure
        return _failure(exc, run.session)
    if isinstance(outcome, types.InputRequiredResult):
        return outcome
    result: types.CallToolResult = run.finish(outcome)
    return result


def _failure(exc: Exception, session: str) -> types.CallToolResult:
    if isinstance(exc, Refused):
        return _refused(exc.code, exc.message, session)
    if isinstance(exc, CodemodeError):  # the worker could not start, or the input is not JSON data
        return _refused(exc.code, str(exc), session)
    # A bug of ours is an error result, not a dropped call.
    logger.error("codemode serve: execute failed", exc_info=exc)
    return _refused("INTERNAL", f"the server failed to run the code: {type(exc).__name__}: {exc}", session)


def _result(sessions: Sessions, client: ClientSession, report: RunReport, notice: str,
            listing: list[dict[str, Any]]) -> types.CallToolResult:
    """The tool result of a run, bounded (`_links`): what does not fit is linked."""

    def keep(name: str, text: str, mime_type: str) -> list[Link]:
        return sessions.values.keep(client.key, name, text, mime_type)

    data = structured(report, notice, client.key)
    links = bound_structured(data, linkable(report), keep)
    text = summary_text(report, notice, client.key, links)
    if sessions.config.show_tokens:
        account = note_run(sessions, client, report, report.code, text, listing)
        data["sessionTokens"] = account
        text = summary_text(report, notice, client.key, links, token_line(account))
    content: list[Any] = [types.TextContent(type="text", text=text)]
    content += [types.ResourceLink.model_validate(link.block()) for parts in links.values() for link in parts]
    content += [_block(block) for block in bound_images(rich_content(report, result_text=False), keep)]
    return types.CallToolResult(content=content, structured_content=data, is_error=not report.ok)


def _refused(code: str, message: str, session: str, retry_after: int | None = None) -> types.CallToolResult:
    text, data = refusal(code, message, session)
    if retry_after is not None:
        data["error"]["retryAfter"] = retry_after
    return types.CallToolResult(content=[types.TextContent(type="text", text=text)], structured_content=data,
                                is_error=True)


def _input_schema(sessions: Sessions, name: str) -> dict[str, Any] | None:
    """A tool's input schema for the SDK's Mcp-Param header check of a 2026 HTTP request, from
    the list made once (else the SDK runs tools/list on every call); None before it is made."""
    for entry in sessions.listing or []:
        if entry["name"] == name:
            schema: dict[str, Any] = entry["inputSchema"]
            return schema
    return None


def _listing(sessions: Sessions, failed: bool = False) -> list[dict[str, Any]]:
    """The `tools/list` entries in wire form (the same text for every client; made once)."""
    if sessions.listing is not None and not failed:
        return sessions.listing
    tools = [] if failed else sessions.root.tools()
    counts: dict[str, int] = {}
    for tool in tools:
        counts[tool.server] = counts.get(tool.server, 0) + 1
    example = f"{tools[0].server}.{tools[0].name}" if tools else "server.tool"
    listing = tool_list(counts, example)
    if not failed:
        sessions.listing = listing
    return listing


def _keeping(kept: list[Event], on_event: Callable[[Event], None]) -> Callable[[Event], None]:
    def keep(event: Event) -> None:
        if event[0] in ("stdout", "stderr", "display"):
            kept.append(event)
        on_event(event)

    return keep


def _block(block: dict[str, Any]) -> Any:
    """A rich output (display() or a figure result, sanitized on the host) as an MCP content block."""
    if block["type"] == "resource_link":
        return types.ResourceLink.model_validate(block)
    if block["type"] == "image":
        return types.ImageContent(type="image", data=block["data"], mime_type=block["mimeType"])
    return types.TextContent(type="text", text=block["text"])

