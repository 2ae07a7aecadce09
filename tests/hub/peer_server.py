"""A small MCP server of our own for the hub's tests, over stdio: it says who its client is,
grows a tool on request (and announces `tools/list_changed`, in each protocol era's way), and
asks its client a question (form elicitation). Not a test module; started by
tests/hub/test_reach.py. `python peer_server.py streamable-http PORT` serves it over HTTP at
http://127.0.0.1:PORT/mcp instead (it prints Uvicorn's "running on" line when it listens).
"""

from __future__ import annotations

import json
import sys

from mcp.server.mcpserver import Context, MCPServer
from mcp_types.version import MODERN_PROTOCOL_VERSIONS
from pydantic import BaseModel, Field

server = MCPServer("reach-peer")


@server.tool()
async def whoami(ctx: Context) -> str:
    """The client's name, version and declared capabilities, as JSON."""
    params = ctx.request_context.session.client_params
    info = params.client_info.model_dump(mode="json", exclude_none=True) if params else None
    capabilities = params.capabilities.model_dump(mode="json", exclude_none=True) if params else None
    return json.dumps({"clientInfo": info, "capabilities": capabilities})


@server.tool()
async def traceparent(ctx: Context) -> str:
    """The W3C `traceparent` the request's `_meta` carried ("" without one)."""
    meta = ctx.request_context.meta or {}
    return str(meta.get("traceparent", ""))


@server.tool()
async def grow(name: str, ctx: Context) -> str:
    """Add a tool named `name` (it echoes its text) and tell the client the list changed."""

    def echo(text: str) -> str:
        return text

    server.add_tool(echo, name=name, description=f"Echo, added at run time as {name}.")
    # Each era's way: a 2026-07-28 client hears it on the `subscriptions/listen` stream it
    # opened (the server's subscription bus); a handshake-era client as a notification.
    await ctx.notify_tools_changed()
    if ctx.request_context.session.protocol_version not in MODERN_PROTOCOL_VERSIONS:
        await ctx.request_context.session.send_tool_list_changed()
    return f"added {name}"


class Shipping(BaseModel):
    address: str = Field(description="Where to ship")
    express: bool = Field(default=False, description="Next-day delivery")


@server.tool()
async def ask(ctx: Context) -> str:
    """Ask the client for a shipping address; say what it answered."""
    result = await ctx.elicit("Where should the order go?", Shipping)
    if result.action == "accept":
        return f"accept {result.data.address} express={result.data.express}"
    return result.action


class Preferences(BaseModel):
    copies: int = Field(default=2, description="How many copies")
    gift: bool = Field(default=True, description="Wrap as a gift")


@server.tool()
async def prefer(ctx: Context) -> str:
    """Ask for preferences that all have defaults; say what came back."""
    result = await ctx.elicit("Any preferences?", Preferences)
    if result.action == "accept":
        return f"accept copies={result.data.copies} gift={result.data.gift}"
    return result.action


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "streamable-http":  # peer_server.py streamable-http PORT
        server.run("streamable-http", host="127.0.0.1", port=int(sys.argv[2]))
    else:
        server.run(sys.argv[1] if len(sys.argv) > 1 else "stdio")
