"""The demo MCP server shipped with codemode: a small coffee shop with deterministic data.

Every face works against it on a fresh machine with no configuration. Run it with
`python -m codemode.demo` (stdio) or `python -m codemode.demo --transport streamable-http
--port 8000` (served at http://127.0.0.1:8000/mcp); in process, `Client(build_server())`.

Importing this package is cheap: the MCP SDK loads only when a server is built, so code that
just needs the module's location can import it freely.
"""

from __future__ import annotations

import argparse
import logging
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mcp.server.mcpserver import MCPServer

    from codemode.demo._server import LogLevel

__all__ = ["build_server", "main"]

TRANSPORTS = ("stdio", "streamable-http")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
DEFAULT_HOST = "127.0.0.1"
"""Loopback only: the demo has a destructive tool and no auth, so it is never exposed by default."""
DEFAULT_PORT = 8000


def build_server(*, log_level: LogLevel = "WARNING") -> MCPServer:
    """Build a demo server with fresh in-memory state (its own copy of the shop).

    Args:
        log_level: Threshold of the server's own logging; quiet by default.

    Returns:
        An `MCPServer` for `mcp.Client(server)` in process, or `server.run(...)`.
    """
    from codemode.demo._server import build_server as build

    return build(log_level=log_level)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m codemode.demo",
        description="Run the codemode demo MCP server: a small coffee shop with deterministic data.",
    )
    parser.add_argument(
        "--transport", choices=TRANSPORTS, default="stdio", help="how to talk to the client (default: %(default)s)"
    )
    parser.add_argument("--host", default=DEFAULT_HOST, help="address to bind for streamable-http (default: %(default)s)")
    parser.add_argument(
        "--port",
        type=int,
        default=DEFAULT_PORT,
        help="port for streamable-http; the endpoint is /mcp (default: %(default)s)",
    )
    parser.add_argument(
        "--log-level",
        choices=LOG_LEVELS,
        default="WARNING",
        type=str.upper,
        help="server log threshold; logs go to stderr (default: %(default)s)",
    )
    return parser


def main(argv: list[str] | None = None) -> None:
    """Parse the command line and serve until the client disconnects or the process is stopped.

    Args:
        argv: The arguments, without the program name; `None` reads `sys.argv`.
    """
    args = _parser().parse_args(argv)
    # stdout carries the protocol in stdio mode, so the server's own logs go to stderr.
    logging.basicConfig(stream=sys.stderr, level=args.log_level, format="%(levelname)s %(name)s: %(message)s")
    server = build_server(log_level=args.log_level)
    if args.transport == "stdio":
        server.run("stdio")
    else:
        server.run("streamable-http", host=args.host, port=args.port)
