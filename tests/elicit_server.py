"""A minimal MCP server whose `execute` tool runs code in a codemode session and asks its
client for approval through form elicitation (`ElicitationApprover`), as `codemode serve`
does. Started over stdio by `test_approval_faces.py`; not a test module itself."""

from __future__ import annotations

import asyncio
import json

import anyio
from mcp.server.mcpserver import Context, MCPServer

from codemode.config import demo_config
from codemode.engine import Session
from codemode.trust.approvers import ElicitationApprover

server = MCPServer("elicit-test")
session = Session(demo_config(), face="serve")


@server.tool()
async def execute(code: str, ctx: Context) -> str:
    """Run code; a destructive call asks this client."""
    approver = ElicitationApprover(ctx.request_context.session, asyncio.get_running_loop(), ctx.request_id)
    report = await anyio.to_thread.run_sync(lambda: session.run(code, approver=approver))
    return json.dumps({"runId": report.run_id, "ok": report.ok, "stdout": report.stdout,
                       "calls": [call.payload() for call in report.calls],
                       "error": (report.error or {}).get("code")})


if __name__ == "__main__":
    server.run("stdio")
