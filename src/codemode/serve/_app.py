"""Running `codemode serve`: over stdio, or as streamable HTTP at `/mcp` under uvicorn.

HTTP is on the SDK's ASGI app (`Server.streamable_http_app`), with:
- the address 127.0.0.1 by default; a non-loopback address only with a token;
- DNS-rebinding protection (the Host and Origin headers must name the bound address or a
  loopback one) on `/mcp` and on `/health`;
- `--token` / `$CODEMODE_SERVE_TOKEN`: every request needs `Authorization: Bearer TOKEN`
  (compared in constant time), except `GET /health` without details;
- `GET /health` (`_health`): 503 when no upstream server is usable, else 200; each upstream
  server's state and tool count, the warm pool and the open sessions (with the token when one
  is set; without it, only the status word).

The server answers at once; the upstream servers start behind it (one hub for all sessions,
see `_startup`: tool lists from the on-disk cache need no connection, and every server is
connected in the background before the first `execute` runs); the process's end stops every
worker and every server.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
import os
import signal
import socket
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio

from codemode.config import Config
from codemode.errors import CodemodeError
from codemode.serve._health import health_report

logger = logging.getLogger(__name__)

TOKEN_ENV_VAR = "CODEMODE_SERVE_TOKEN"
DEFAULT_PORT = 8765
# HTTP sessions the SDK keeps without a request: past codemode's own idle reclaim, so a
# client that comes back after its worker was reclaimed hears so instead of a 404.
_TRANSPORT_IDLE_FLOOR = 1800.0


@dataclass(frozen=True)
class ServeOptions:
    """How `codemode serve` listens. See `codemode serve --help`."""

    transport: str = "stdio"
    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    token: str | None = None
    record: Path | None = None
    allow_hosts: tuple[str, ...] = ()  # more Host values to accept: a proxy's public name


def serve(config: Config, options: ServeOptions) -> int:
    """Connect the servers, then serve clients until the transport ends (stdio EOF, Ctrl-C)."""
    token = options.token or os.environ.get(TOKEN_ENV_VAR) or None
    if options.transport == "http" and not _loopback(options.host) and not token:
        raise CodemodeError(f"--host {options.host} is reachable from other machines: give a --token (or set "
                            f"${TOKEN_ENV_VAR}) so only clients holding it get in, or bind 127.0.0.1")
    from codemode.engine import Session
    from codemode.serve._server import build_server
    from codemode.serve._sessions import Sessions

    # Not started here: the server answers `initialize` at once and the servers start behind
    # it (`_startup`); a request waits only for what it needs.
    sock = _listen(options) if options.transport == "http" else None  # a port in use: one line, before anything starts
    descriptors = 0
    if sock is not None:
        from codemode.serve._http import raise_descriptor_limit

        descriptors = raise_descriptor_limit()
    root = Session(config, face="serve")  # the audit trail is on by default for this face
    try:
        sessions = Sessions(root, record=options.record)
        server = build_server(sessions)
        if sock is None:
            anyio.run(_serve_stdio, server, sessions)
        elif anyio.run(_serve_http, server, sessions, options, token, sock, descriptors) == signal.SIGINT:
            print("codemode: interrupted", file=sys.stderr)
            return 130
    finally:
        root.close()
    return 0


def _listen(options: ServeOptions) -> socket.socket:
    """The listening socket, or one line saying why there is none."""
    if not 0 <= options.port <= 65535:
        raise CodemodeError(f"--port {options.port} is not a port: give 1-65535, or 0 for any free one")
    try:
        family = socket.AF_INET6 if ":" in options.host else socket.AF_INET
        # IPPROTO_TCP named, not 0: asyncio sets TCP_NODELAY only on a socket whose proto says TCP
        # (accepted ones inherit it). Without it, a response written as headers then body waited
        # for the client's delayed ACK: ~40 ms on every request of a kept-alive connection.
        sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((options.host, options.port))
            sock.listen(2048)  # listening before we say so: a client may connect at once
        except BaseException:
            sock.close()
            raise
    except OSError as exc:  # in use, not an address of this machine, a name that does not resolve
        reason = exc.strerror or str(exc)
        raise CodemodeError(f"cannot listen on {_netloc(options.host, options.port)}: {reason}; "
                            "give another --port (0 takes any free one) or --host") from None
    return sock


async def _serve_stdio(server: Any, sessions: Any) -> None:
    from mcp.server.runner import serve_dual_era_loop
    from mcp.server.stdio import stdio_server

    from codemode.serve._tasks import serve_tasks

    try:
        async with anyio.create_task_group() as tg:
            tg.start_soon(sessions.startup.run)
            tg.start_soon(sessions.sweep)
            tg.start_soon(sessions.rounds.serve)
            tg.start_soon(serve_tasks, server)
            async with stdio_server() as (read, write):
                # The era the client's first request opens: `initialize` (a session for the
                # connection) or the 2026-07-28 envelope (sessions by handle only).
                await serve_dual_era_loop(server, read, write, lifespan_state={},
                                          init_options=server.create_initialization_options())
            tg.cancel_scope.cancel()
    finally:
        await sessions.aclose()


async def _serve_http(server: Any, sessions: Any, options: ServeOptions, token: str | None,
                      sock: socket.socket, descriptors: int) -> int | None:
    """Serve until a signal stops uvicorn (gracefully: running `execute`s are cancelled,
    which interrupts their code); the first such signal, or None."""
    import uvicorn

    from codemode.serve._http import connection_cap, guarded_protocol
    from codemode.serve._tasks import serve_tasks

    port = sock.getsockname()[1]
    app = build_app(server, sessions, host=options.host, port=port, token=token, allow_hosts=options.allow_hosts)
    # Slow and idle clients (before any token check): read deadlines and a connection cap
    # below the descriptor limit, raised at start (`_http`).
    config = uvicorn.Config(app, log_level="warning", lifespan="on", timeout_graceful_shutdown=5,
                            timeout_keep_alive=5, http=guarded_protocol(connection_cap(descriptors)))
    signals: list[int] = []

    class Runner(uvicorn.Server):
        def handle_exit(self, sig: int, frame: Any) -> None:
            signals.append(sig)
            super().handle_exit(sig, frame)

    runner = Runner(config)
    print(f"codemode serve: listening on http://{_netloc(options.host, port)}/mcp "
          f"({'a bearer token is required' if token else 'no token'})", file=sys.stderr, flush=True)
    try:
        async with anyio.create_task_group() as tg:
            tg.start_soon(sessions.startup.run)
            tg.start_soon(sessions.sweep)
            tg.start_soon(sessions.rounds.serve)
            tg.start_soon(serve_tasks, server)
            await runner.serve(sockets=[sock])
            tg.cancel_scope.cancel()
    finally:
        await sessions.aclose()
    return signals[0] if signals else None


def build_app(server: Any, sessions: Any, *, host: str, port: int, token: str | None,
              allow_hosts: tuple[str, ...] = ()) -> Any:
    """The ASGI app: `/mcp` (the SDK's streamable HTTP) and `/health`, behind the token check."""
    from mcp.server.transport_security import TransportSecuritySettings

    from codemode.serve._lost import LostSessions
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    hosts, origins = _allowed(host, port, allow_hosts)
    tokens = (token, *sessions.rates.tokens) if token else ()  # codemode.rateLimit's tiers have tokens of their own
    security = TransportSecuritySettings(enable_dns_rebinding_protection=bool(hosts),
                                         allowed_hosts=hosts, allowed_origins=origins)

    async def health(request: Request) -> JSONResponse:
        if hosts and not _host_allowed(request.headers.get("host", ""), hosts):
            return JSONResponse({"error": "invalid Host header"}, status_code=421)
        code, report = health_report(sessions)
        if token and not _authorized(request.headers.get("authorization", ""), tokens):
            return JSONResponse({"status": report["status"]}, status_code=code)
        return JSONResponse(report, status_code=code)

    idle = max(_TRANSPORT_IDLE_FLOOR, 2 * sessions.config.session_idle)
    app = server.streamable_http_app(streamable_http_path="/mcp", transport_security=security, host=host,
                                     session_idle_timeout=idle,
                                     custom_starlette_routes=[Route("/health", health, methods=["GET"])])
    app = LostSessions(app, server)  # a session another (stopped) process held: answered, not 404
    return _BearerToken(app, tokens) if token else app


class _BearerToken:
    """Refuses every request without `Authorization: Bearer TOKEN` (401), except /health."""

    def __init__(self, app: Any, tokens: tuple[str, ...]) -> None:
        self.app = app
        self.tokens = tokens

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope.get("path") == "/health":
            await self.app(scope, receive, send)
            return
        headers = {key.decode("latin-1").lower(): value.decode("latin-1") for key, value in scope.get("headers", [])}
        if _authorized(headers.get("authorization", ""), self.tokens):
            await self.app(scope, receive, send)
            return
        body = b'{"error": "this codemode server needs Authorization: Bearer <token>"}'
        await send({"type": "http.response.start", "status": 401,
                    "headers": [(b"content-type", b"application/json"), (b"www-authenticate", b"Bearer"),
                                (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})


def _authorized(header: str, tokens: tuple[str, ...]) -> bool:
    scheme, _, value = header.partition(" ")
    given = value.strip().encode()
    # Every token compared, in constant time each, whichever matches.
    return scheme.lower() == "bearer" and sum(hmac.compare_digest(given, token.encode()) for token in tokens) > 0


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _netloc(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _allowed(host: str, port: int, extra: tuple[str, ...] = ()) -> tuple[list[str], list[str]]:
    """Host and Origin values a request may carry; none (no check) on a wildcard address.

    Any port of a loopback name passes: a proxy on this machine (deploy/haproxy.cfg) passes on
    the Host its clients sent, its own address, and a DNS-rebinding page can name only its own
    host, never a loopback one."""
    if host in ("0.0.0.0", "::") and not extra:
        return [], []  # any interface: the token guards it (a wildcard has no one right Host)
    loopback = ("127.0.0.1", "localhost", "[::1]")
    names = {_netloc(host, port), *loopback, *(f"{name}:*" for name in loopback), *extra}
    origins = {f"{scheme}://{name}" for name in names for scheme in ("http", "https")}
    return sorted(names), sorted(origins)


def _host_allowed(value: str, hosts: list[str]) -> bool:
    return value in hosts or any(name.endswith(":*") and value.startswith(name[:-1]) for name in hosts)
