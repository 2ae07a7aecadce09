"""The hub: the MCP client side of a session, on one background event loop."""

from __future__ import annotations

from codemode.hub._hub import CallResult, Hub, LogRecord, ServerState
from codemode.hub._portal import get_portal

__all__ = ["CallResult", "Hub", "LogRecord", "ServerState", "get_portal"]
