"""Reading a server's resource (`resources/read`) through the hub, as a tool call goes.

Used for an MCP App's `ui://` page (see `codemode.engine._apps`); the read waits for the
server's connection as a call does, and its failures come back in the `CallResult`.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import anyio

from codemode.errors import ServerCrashedError, UnknownToolError
from codemode.hub._state import READ_RESOURCE, CallResult

if TYPE_CHECKING:
    from codemode.hub._hub import Hub


async def read_resource(hub: Hub, server: str, uri: str, timeout: float | None) -> CallResult:
    """`resources/read` of `uri` on `server`; the payload's value is the wire result."""
    link = hub._links.get(server)
    if link is None:
        return CallResult(False, error=UnknownToolError(server, READ_RESOURCE, f"no server {server!r} in this session"))
    if link.state.status in ("idle", "connecting"):
        await hub._connect(link)
    if link.state.status == "crashed":
        await hub._reconnect(link)
    if link.client is None or link.state.status != "connected":
        return CallResult(False, error=ServerCrashedError(server, link.state.error or f"the server is {link.state.status}"))
    timeout = timeout if timeout is not None else (link.config.timeout or hub.config.call_timeout)
    from codemode.hub._results import map_call_error

    try:
        with anyio.fail_after(timeout):
            result = await link.client.read_resource(uri)
    except Exception as exc:  # noqa: BLE001 - mapped to our errors at this boundary
        return CallResult(False, error=map_call_error(exc, server, READ_RESOURCE, timeout))
    text = result.model_dump_json(by_alias=True, exclude_none=True)
    return CallResult(True, payload={"kind": "json", "value": json.loads(text)}, result_bytes=len(text.encode()),
                      result_json=text)
