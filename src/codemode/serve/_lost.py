"""Handshake-era requests for an HTTP session this process does not hold, answered anyway.

Behind a load balancer, a process that stops takes its sessions with it, and the balancer sends
their later requests to another process, whose SDK transport answers 404 "Session not found":
neither SDK's client starts a new session on that, so every later call of that client fails.
So a POST whose `Mcp-Session-Id` the SDK's transport refuses with 404 is served here, on its
own, as a 2026-07-28 request is (one request, one answer, no requests back to the client):
`tools/list`, `search` and `resources/read` as always, an `execute` with a handle as always,
an `execute` without one as `SESSION_LOST` with a fresh handle (see `_context`). The
answer carries the same `Mcp-Session-Id`, so a balancer that learns stickiness from answers
(deploy/haproxy.cfg) keeps that client's later requests here. A notification is acknowledged
(202); anything else (a GET, a DELETE, an `initialize`, a body that is no JSON-RPC request)
keeps the SDK's 404.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import anyio
from mcp.server.connection import Connection
from mcp.server.runner import modern_error_data, serve_one
from mcp.shared.message import ServerMessageMetadata
from mcp.shared.transport_context import TransportContext
from mcp_types.version import HANDSHAKE_PROTOCOL_VERSIONS, LATEST_HANDSHAKE_VERSION
from starlette.datastructures import Headers
from starlette.requests import Request

from codemode.serve._context import LOST_KEY

#: Bytes of a request body held while the SDK's transport decides (codemode.maxCodeChars is
#: 100,000 characters by default; the SDK's own body limit is 4 MiB): a bigger one passes as it is.
_HELD_BODY = 4 * 1024 * 1024

Message = dict[str, Any]


class LostSessions:
    """ASGI middleware before the SDK's app at `path` (see the module docstring)."""

    def __init__(self, app: Any, server: Any, path: str = "/mcp") -> None:
        self.app = app
        self.server = server
        self.path = path

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope.get("method") != "POST" or scope.get("path") != self.path:
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        session_id = headers.get("mcp-session-id")
        version = headers.get("mcp-protocol-version") or LATEST_HANDSHAKE_VERSION
        if not session_id or version not in HANDSHAKE_PROTOCOL_VERSIONS:
            await self.app(scope, receive, send)
            return
        body, rest = await _read(receive)
        held: list[Message] = []

        async def replay() -> Message:
            nonlocal body
            if body is not None:
                message, body = {"type": "http.request", "body": body, "more_body": rest is not None}, None
                return message
            return await (rest or receive)()

        async def watch(message: Message) -> None:
            if held or (message["type"] == "http.response.start" and message.get("status") == 404):
                held.append(message)
                return
            await send(message)

        kept = body
        await self.app(scope, replay, watch)
        if not held:
            return
        answer = await self._answer(scope, kept, version) if kept is not None and rest is None else None
        if answer is None:
            for message in held:
                await send(message)
            return
        status, payload = answer
        out = b"" if payload is None else json.dumps(payload, separators=(",", ":")).encode()
        response_headers = [(b"mcp-session-id", session_id.encode("latin-1"))]
        if payload is not None:
            response_headers += [(b"content-type", b"application/json"), (b"content-length", str(len(out)).encode())]
        await send({"type": "http.response.start", "status": status, "headers": response_headers})
        await send({"type": "http.response.body", "body": out})

    async def _answer(self, scope: dict[str, Any], body: bytes, version: str) -> tuple[int, Any] | None:
        try:
            message = json.loads(body)
        except ValueError:
            return None
        if not isinstance(message, dict) or message.get("jsonrpc") != "2.0":
            return None
        if "id" not in message or "method" not in message:  # a notification, or a response to us
            return 202, None
        method, params, request_id = message["method"], message.get("params"), message["id"]
        if not isinstance(method, str) or method == "initialize" or not isinstance(params, (dict, type(None))):
            return None
        connection = Connection.from_envelope(version, None, None)
        connection.state[LOST_KEY] = True
        request = Request(scope)
        dctx = _OneRequest(TransportContext(kind="streamable-http", can_send_request=False, headers=request.headers),
                           request_id, ServerMessageMetadata(request_context=request))
        try:
            result = await serve_one(self.server, dctx, method, params, connection=connection, lifespan_state={})
        except Exception as exc:  # noqa: BLE001 - boundary: mapped to the JSON-RPC error a transport would send
            error = modern_error_data(exc).model_dump(by_alias=True, mode="json", exclude_none=True)
            return 200, {"jsonrpc": "2.0", "id": request_id, "error": error}
        return 200, {"jsonrpc": "2.0", "id": request_id, "result": result}


@dataclass
class _OneRequest:
    """The dispatch context of one request answered on its own: nothing goes back but the answer."""

    transport: TransportContext
    request_id: Any
    message_metadata: Any
    cancel_requested: anyio.Event = field(default_factory=anyio.Event)
    can_send_request: bool = False

    async def send_raw_request(self, method: str, params: Mapping[str, Any] | None, opts: Any = None) -> dict[str, Any]:
        from mcp.shared.exceptions import NoBackChannelError

        raise NoBackChannelError(method)

    async def notify(self, method: str, params: Mapping[str, Any] | None, opts: Any = None) -> None:
        return None  # progress and log messages have no stream to go on

    async def progress(self, progress: float, total: float | None = None, message: str | None = None) -> None:
        return None


async def _read(receive: Any) -> tuple[bytes | None, Any]:
    """The request body, and None; or, past `_HELD_BODY`, what was read and the rest's receiver."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return b"".join(chunks), None
        chunk = message.get("body", b"")
        chunks.append(chunk)
        size += len(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks), None
        if size > _HELD_BODY:
            return b"".join(chunks), receive
