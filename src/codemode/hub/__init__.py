"""The hub: the MCP client side of a session, on one background event loop."""

from __future__ import annotations

from codemode.hub._hub import Hub
from codemode.hub._portal import get_portal
from codemode.hub._state import READ_RESOURCE, SERVER_METHODS, CallResult, LiveCheck, LogRecord, ServerState

__all__ = ["READ_RESOURCE", "SERVER_METHODS", "CallResult", "Hub", "LiveCheck", "LogRecord", "ServerState", "get_portal"]
