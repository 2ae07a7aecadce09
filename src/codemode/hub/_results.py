"""From the SDK's tool results and errors to our plain data and our errors.

A tool result becomes the payload the worker decodes: structured content first (unwrapped
from the SDK's `{"result": ...}` envelope when the output schema is that envelope), then
text (one block: a string; several: a list of strings), and anything else as content blocks
in their wire form (images, audio, resources), which the worker turns into small objects.

A structured result nested deeper than RESULT_LEVELS is cut there (`shared.depth.cut_to`):
below the cut its parts arrive as their JSON text, and the payload carries a `note` the
worker prints. A frame to or from the worker nests at most 100 levels, and the cell must be
able to return what it got, inside a structure of its own: an honest deep result degrades,
it never makes a frame the host would take for a hostile one.
"""

from __future__ import annotations

from typing import Any

import anyio
from mcp.shared.exceptions import MCPError
from mcp_types import CallToolResult
from mcp_types.jsonrpc import CONNECTION_CLOSED, REQUEST_TIMEOUT
from pydantic import ValidationError

from codemode.errors import (
    ServerCrashedError,
    ToolCallError,
    ToolTimeoutError,
    UpstreamError,
)
from codemode.schema import ToolDef, unwrap_structured
from codemode.shared.depth import cut_to, nests_deeper

# Levels of a structured result the worker gets whole: a frame carries 100, and this leaves
# the cell room to return the value inside lists and objects of its own.
RESULT_LEVELS = 64


def wire(model: Any) -> dict[str, Any]:
    """The wire (camelCase JSON) form of an SDK model."""
    return model.model_dump(by_alias=True, mode="json", exclude_none=True)


def result_payload(result: CallToolResult, tool: ToolDef | None, text: str | None = None) -> dict[str, Any]:
    """The worker-side value of a successful result; `text`, its wire JSON when at hand,
    spares the depth walk of a result with too few brackets to be deep."""
    if result.structured_content is not None:
        schema = tool.output_schema if tool is not None else None
        value = unwrap_structured(schema, result.structured_content)
        if (text is None or text.count("[") + text.count("{") > RESULT_LEVELS) and nests_deeper(value, RESULT_LEVELS):
            return {"kind": "json", "value": cut_to(value, RESULT_LEVELS),
                    "note": f"the result nests deeper than {RESULT_LEVELS} levels; its parts below that "
                            "arrive as their JSON text"}
        return {"kind": "json", "value": value}
    blocks = [wire(block) for block in result.content]
    if all(block.get("type") == "text" for block in blocks):
        texts = [block.get("text", "") for block in blocks]
        return {"kind": "json", "value": texts[0] if len(texts) == 1 else texts}
    return {"kind": "content", "blocks": blocks}


def error_text(result: CallToolResult, tool: str) -> str:
    """The message of a result flagged `isError`: its text blocks, joined.

    SDK servers prefix every tool error with "Error executing tool NAME: "; the trace
    already names the tool, so the prefix is dropped.
    """
    texts = [getattr(block, "text", "") for block in result.content if getattr(block, "type", "") == "text"]
    text = "\n".join(t for t in texts if t) or "the tool reported an error without a message"
    return text.removeprefix(f"Error executing tool {tool}: ")


def map_call_error(exc: BaseException, server: str, tool: str, timeout: float | None) -> ToolCallError | ServerCrashedError:
    """Our error for an SDK or transport failure of one call, most specific first."""
    if isinstance(exc, MCPError):
        if exc.code == REQUEST_TIMEOUT:
            return ToolTimeoutError(server, tool, f"no answer within {timeout:g} s" if timeout else "timed out")
        if exc.code == CONNECTION_CLOSED:
            return ServerCrashedError(server, f"the connection closed during a call to {tool!r}")
        return UpstreamError(server, tool, f"{exc.message} (MCP error {exc.code})")
    if isinstance(exc, TimeoutError):
        return ToolTimeoutError(server, tool, f"no answer within {timeout:g} s" if timeout else "timed out")
    if isinstance(exc, (anyio.ClosedResourceError, anyio.BrokenResourceError, anyio.EndOfStream, ConnectionError)):
        return ServerCrashedError(server, f"the connection was lost during a call to {tool!r}")
    if isinstance(exc, ValidationError):
        return UpstreamError(server, tool, f"the server sent a malformed result: {exc.error_count()} validation errors")
    if isinstance(exc, RuntimeError):  # the SDK's check of structured content against outputSchema
        return UpstreamError(server, tool, str(exc))
    return UpstreamError(server, tool, f"{type(exc).__name__}: {exc}")
