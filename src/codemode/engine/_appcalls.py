"""Tool calls an MCP App makes from its frame: calls of the session, like the cell's own.

An app drawn by the JupyterLab renderer sends `tools/call` for a tool of its own server; the
renderer relays it through the kernel (`codemode.notebook._appcomm`) to `Session.app_call`,
which serves it as a call from code is served (`_calls.CallDesk._serve_call`): the session's
policy (its servers and tool patterns), the approval rule (a destructive tool still needs a
person's yes, asked of the approver given here, which asks in the notebook), the hub, and the
audit. On top, the spec's rule for apps: a tool whose `_meta.ui.visibility` leaves out `app`
is refused to it, and an app reaches only its own server's tools; and ours: the asking page
must be one this session read itself (by its digest), so a page that came in a saved notebook
can draw but cannot call.
"""

from __future__ import annotations

import asyncio
import functools
import json
import queue
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import Future
from typing import TYPE_CHECKING, Any

from codemode.engine._apps import visibility
from codemode.engine._runstate import _Ask, _Run
from codemode.hub import get_portal
from codemode.sandbox import CallRequest
from codemode.shared.ids import new_id
from codemode.trace import ToolCall
from codemode.trust.policy import Policy

if TYPE_CHECKING:
    from codemode.config import Config
    from codemode.engine._apitool import ApiTool
    from codemode.hub import Hub
    from codemode.trust.approval import ApprovalRule, Approver
    from codemode.trust.audit import AuditLog

#: The error code of a call an app may not make (its visibility, another server).
NOT_FOR_APPS = "NOT_FOR_APPS"


class AppCalls:
    """Serves the tool calls of apps (a part of `Session`)."""

    config: Config
    approval_rule: ApprovalRule
    _api: dict[tuple[str, str], ApiTool]
    _hub: Hub
    _serve_call: Callable[[_Run, CallRequest], Awaitable[dict[str, Any]]]
    _ask: Callable[..., None]
    _audit: AuditLog | None
    _app_pages: dict[tuple[str, str], Any]

    def app_call(self, server: str, tool: str, arguments: dict[str, Any], *, digest: str, via: int | None = None,
                 approver: Approver | None = None) -> tuple[ToolCall, dict[str, Any] | None]:
        """Make the tool call an app asked for; blocks until it is answered.

        Args:
            server: the server whose app asked (its config name, as the app's page names it).
            digest: the sha256 of the asking app's page: it must be a page this session read
                from that server (a page from a saved notebook of someone else's is not).
            tool: the tool's MCP name, as the app wrote it.
            arguments: the app's arguments.
            via: the id of the call whose app asked, for the record.
            approver: who is asked when the call needs a yes (called on this thread).

        Returns:
            The call's record, and the MCP result (wire form) for the app, or None when the
            call was refused or failed without one (the record says why).
        """
        self.start()  # type: ignore[attr-defined]  # Session.start: the servers, once
        call = ToolCall(0, server, tool, arguments, via_app=via)
        api = next((a for a in self._api.values() if (a.tool.server, a.tool.name) == (server, tool)), None)
        state = self._hub.servers.get(server)
        wire = next((t for t in state.wire_tools if t.get("name") == tool), None) if state else None
        problem = None
        if not any(key[0] == server and _digest(page) == digest for key, page in self._app_pages.items()):
            problem = f"the asking app is not one this session read from server {server!r}"
        elif api is None:
            problem = f"server {server!r} has no tool {tool!r} in this session"
        elif "app" not in visibility(wire):
            problem = f"{server}.{tool} is not for apps (its visibility is {visibility(wire)})"
        if problem is not None:
            call.ok, call.error_code, call.error, call.duration = False, NOT_FOR_APPS, problem, 0.0
            if self._audit is not None:
                self._audit.event("call", server=server, tool=tool, arguments=arguments, outcome="error",
                                  code=NOT_FOR_APPS, via_app=via)
            return call, None
        assert api is not None
        return self._app_call(api, arguments, via, approver)

    def app_read(self, server: str, uri: str, *, digest: str, via: int | None = None) -> tuple[dict[str, Any] | None, str]:
        """Read a resource of its own server for an app (`resources/read` from its frame).

        Returns:
            The wire result, or None and why (an unknown page, a failed read).
        """
        self.start()  # type: ignore[attr-defined]
        if not any(key[0] == server and _digest(page) == digest for key, page in self._app_pages.items()):
            result, problem = None, f"the asking app is not one this session read from server {server!r}"
        else:
            read = get_portal().call(functools.partial(self._hub.read_resource, server, uri,
                                                       timeout=self.config.call_timeout))
            result = read.payload["value"] if read.ok and read.payload else None
            problem = "" if result is not None else f"reading {uri} failed: {read.error}"
        if self._audit is not None:
            self._audit.event("resource", server=server, uri=uri, outcome="ok" if result is not None else "error",
                              problem=problem or None, via_app=via)
        return result, problem

    def _app_call(self, api: ApiTool, arguments: dict[str, Any], via: int | None,
                  approver: Approver | None) -> tuple[ToolCall, dict[str, Any] | None]:
        events: queue.SimpleQueue[Any] = queue.SimpleQueue()
        policy = Policy(tools=self.config.tools, approval=self.approval_rule)
        run = _Run(time.perf_counter(), policy, events.put, id=new_id(), approval_timeout=self.config.approval_timeout,
                   full_results={}, via_app=via)
        request = CallRequest(1, api.server, api.name, arguments)
        done: Future[dict[str, Any]] = get_portal().start_task_soon(self._serve_call, run, request)
        done.add_done_callback(lambda _: events.put(None))
        while True:
            item = events.get()
            if item is None:
                break
            if isinstance(item, _Ask):
                self._ask(item, approver, None)
        done.result()
        get_portal().call(_next_turn)  # the call's record is written on the loop's next turn (`_record`)
        call = run.log.calls[0]
        call.via_app = via
        result = run.full_results.get(call.id) if run.full_results is not None else None
        return call, json.loads(result) if result else None


def _digest(page: asyncio.Future[Any]) -> str | None:
    found = page.result() if page.done() and not page.cancelled() and page.exception() is None else None
    return getattr(found, "digest", None)


async def _next_turn() -> None:
    await asyncio.sleep(0)
