"""The MCP face: `codemode serve`, code mode for any MCP client.

Two tools, `search` and `execute`, over the servers of one config: one hub shared by every
client session, a sandboxed worker per session (taken from a warm pool), limits per request,
per session and per process, stdio or streamable HTTP (with a token, DNS-rebinding
protection and `/health`), and transcripts as notebooks. See docs/serve.md.
"""

from __future__ import annotations

from codemode.serve._app import ServeOptions, serve

__all__ = ["ServeOptions", "serve"]
