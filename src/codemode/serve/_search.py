"""The `search` tool of `codemode serve`: the upstream tools that match a query, and which
session's token line and transcript the search counts toward.

A search counts toward the session its `session` argument names, when that session is open
here and the caller's token opened it; else, on a handshake-era connection, toward the
connection's own session; else toward none. A handle that names no session of the caller's
(it ended, another process holds it, another token opened it, or nobody minted it) is not an
error: a search only reads, and failing it would cost the model a turn for a count. It just
counts toward none, and the result says which session it counted toward (`session` in
`structuredContent`) only when it counted toward one, so it reveals nothing about a session
the caller does not hold.
"""

from __future__ import annotations

from typing import Any

import mcp_types as types
from mcp.server.context import ServerRequestContext

from codemode.schema import render_hits
from codemode.serve._account import note_search
from codemode.serve._context import Asker, connection_session
from codemode.serve._handles import digest
from codemode.serve._sessions import ClientSession, Sessions
from codemode.serve._tools import error_result


def search(sessions: Sessions, ctx: ServerRequestContext[Any], arguments: dict[str, Any],
           asker: Asker) -> types.CallToolResult:
    """The result of `search(query, detail, limit, session)`; a bad argument is an `isError` result."""
    query, detail, limit = arguments.get("query"), arguments.get("detail", "signatures"), arguments.get("limit", 10)
    handle = arguments.get("session")
    if not isinstance(query, str) or not query.strip():
        return error_result("INVALID_ARGUMENTS", "search needs `query`, words for what the tool does")
    if detail not in ("names", "signatures", "full"):
        return error_result("INVALID_ARGUMENTS", f"detail must be names, signatures or full, not {detail!r}")
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= 100:
        return error_result("INVALID_ARGUMENTS", f"limit must be a whole number from 1 to 100, not {limit!r}")
    if handle is not None and not isinstance(handle, str):
        return error_result("INVALID_ARGUMENTS", "session must be the string an execute result gave, "
                                                 f"not {type(handle).__name__}; or omit it")
    client = counted_toward(ctx, sessions, asker, handle)
    hits = sessions.root.search_hits(query, limit)  # resources and prompts too, as the calls that reach them
    text = render_hits(hits, detail) or f"no tool matches {query!r}; try other words"
    names = [hit.call for hit in hits if hit.kind == "tool"]
    others = {kind: [hit.call for hit in hits if hit.kind in kinds]
              for kind, kinds in (("resources", ("resource", "template")), ("prompts", ("prompt",)))}
    sessions.root.audit("search", query=query, outcome="ok", hits=len(hits), client=asker.client,
                        handle=digest(client.key) if client is not None else None)
    note_search(sessions, client, text)
    if client is not None and client.transcript is not None:
        client.transcript.add_search(query, detail, names)
    data: dict[str, Any] = {"query": query, "tools": names, **others}
    if client is not None:
        data["session"] = client.key
    return types.CallToolResult(content=[types.TextContent(type="text", text=text)], structured_content=data)


def counted_toward(ctx: ServerRequestContext[Any], sessions: Sessions, asker: Asker,
                   handle: str | None) -> ClientSession | None:
    """The session a search counts toward (see the module docstring)."""
    if handle is not None:
        found = sessions.find(handle, asker.owner)
        if found is not None:
            return found
    return connection_session(ctx, sessions, asker)
