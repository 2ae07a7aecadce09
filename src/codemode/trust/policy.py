"""What a run may do, decided on the host and never trusted to the sandbox.

A `Policy` is checked for every tool call before it reaches a server: is the server
allowed, is the tool allowed, is the run still under its call cap. A refusal is returned as
a `Refusal` (a code and a message) that the session sends back into the cell as a
`ToolError` with that code.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field

from codemode.schema import ToolDef
from codemode.trust.approval import ApprovalRule


@dataclass(frozen=True)
class Refusal:
    """Why a call was refused: a stable `code` (as cell code sees it) and a message."""

    code: str
    message: str


@dataclass(frozen=True)
class Policy:
    """The limits of one run.

    Args:
        servers: names of the servers the run may call; None allows every server.
        tools: allow-list patterns (`server.tool`, shell wildcards, MCP names); None allows all.
        max_tool_calls: the most tool calls one run may make; None for no cap.
        call_timeout: seconds a single call may take; None uses the server's setting.
        max_output: characters of stdout (and of stderr) a run keeps; None for the default.
        approval: which calls need a person's yes before they leave the host (the session
            asks its approver; see `codemode.trust.approval`).
        elicit: what a server's question during a call gets: "ask", "decline" or "defaults"
            (`codemode.trust.elicitation`); None: the config's `elicit`.
    """

    servers: frozenset[str] | None = None
    tools: tuple[str, ...] | None = None
    max_tool_calls: int | None = None
    call_timeout: float | None = None
    max_output: int | None = None
    approval: ApprovalRule = field(default_factory=ApprovalRule)
    elicit: str | None = None

    def check(self, tool: ToolDef, calls_so_far: int) -> Refusal | None:
        """The refusal for this call, or None if it may go ahead."""
        if self.servers is not None and tool.server not in self.servers:
            allowed = ", ".join(sorted(self.servers)) or "none"
            return Refusal("SERVER_NOT_ALLOWED", f"server {tool.server!r} is not allowed in this run (allowed: {allowed})")
        if self.tools is not None:
            qualified = f"{tool.server}.{tool.name}"
            if not any(fnmatch.fnmatchcase(qualified, pattern) for pattern in self.tools):
                return Refusal("TOOL_NOT_ALLOWED", f"tool {qualified!r} is not in this run's allow-list")
        if self.max_tool_calls is not None and calls_so_far >= self.max_tool_calls:
            most = f"at most {self.max_tool_calls}" if self.max_tool_calls else "no"
            return Refusal("MAX_TOOL_CALLS", f"this run may make {most} tool calls")
        return None
