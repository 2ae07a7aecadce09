"""A server's resources and prompts through the hub (`resources/list`, `resources/templates/list`,
`resources/read`, `prompts/list`, `prompts/get`), as a tool call goes: the request waits for
the server's connection, is bounded by the call timeout, and its failures come back in the
`CallResult`. Lists are followed to their last page.

Used by cell code (`srv.resources.read(uri)`, `srv.prompts.get(name, ...)`) and for an MCP
App's `ui://` page (see `codemode.engine._apps`). The method name stands where a tool's name
would (errors, cassettes, the report): no tool can have it, since MCP tool names have no `/`.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import anyio

from codemode.errors import InvalidArgumentsError, ServerCrashedError, UnknownToolError
from codemode.hub._state import SERVER_METHODS, CallResult

if TYPE_CHECKING:
    from mcp import Client

    from codemode.hub._hub import Hub

# Guards against a server that never ends its pagination.
MAX_PAGES = 1000
LISTS = {"resources/list": "resources", "resources/templates/list": "resource_templates", "prompts/list": "prompts"}


async def server_request(hub: Hub, server: str, method: str, arguments: dict[str, Any],
                         timeout: float | None) -> CallResult:
    """One of `SERVER_METHODS` on `server`; the payload's value is the wire result (a list's
    pages joined)."""
    link = hub._links.get(server)
    if link is None:
        return CallResult(False, error=UnknownToolError(server, method, f"no server {server!r} in this session"))
    if method not in SERVER_METHODS:
        return CallResult(False, error=UnknownToolError(server, method, f"no such request {method!r}"))
    problem = _bad_arguments(method, arguments)
    if problem:
        return CallResult(False, error=InvalidArgumentsError(server, method, problem))
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
            value = await _ask(link.client, method, arguments)
    except Exception as exc:  # noqa: BLE001 - mapped to our errors at this boundary
        return CallResult(False, error=map_call_error(exc, server, method, timeout))
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    return CallResult(True, payload={"kind": "json", "value": value}, result_bytes=len(text.encode()),
                      result_json=text)


def _bad_arguments(method: str, arguments: dict[str, Any]) -> str | None:
    if method == "resources/read" and not isinstance(arguments.get("uri"), str):
        return "resources.read needs the resource's uri, a string"
    if method == "prompts/get":
        if not isinstance(arguments.get("name"), str):
            return "prompts.get needs the prompt's name, a string"
        values = arguments.get("arguments") or {}
        if not isinstance(values, dict) or not all(isinstance(v, str) for v in values.values()):
            return "a prompt's arguments are strings"
    return None


async def _ask(client: Client, method: str, arguments: dict[str, Any]) -> Any:
    def wire(result: Any) -> Any:
        return json.loads(result.model_dump_json(by_alias=True, exclude_none=True))

    if method == "resources/read":
        return wire(await client.read_resource(arguments["uri"]))
    if method == "prompts/get":
        return wire(await client.get_prompt(arguments["name"], arguments.get("arguments") or None))
    fetch = {"resources/list": client.list_resources, "resources/templates/list": client.list_resource_templates,
             "prompts/list": client.list_prompts}[method]
    items: list[Any] = []
    cursor = None
    for _ in range(MAX_PAGES):
        page = await fetch(cursor=cursor)
        items.extend(wire(item) for item in getattr(page, LISTS[method]))
        cursor = page.next_cursor
        if cursor is None:
            break
    return items


async def read_resource(hub: Hub, server: str, uri: str, timeout: float | None) -> CallResult:
    """`resources/read` of `uri` on `server`; the payload's value is the wire result."""
    return await server_request(hub, server, "resources/read", {"uri": uri}, timeout)
