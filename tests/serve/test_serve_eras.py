"""Both protocol eras against one `codemode serve`: 2026-07-28 (no handshake, state by handle)
and 2025-11-25 (a session per connection), over stdio and HTTP, through the SDK's own client.

Each result names its session's handle; `execute(session=HANDLE)` continues it in either era;
a 2026 request without one starts a new session; a handle this server does not hold is
`SESSION_LOST` with a fresh handle; an unknown tool is a JSON-RPC error.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from _serving import HttpServer, run_stdio, start_http

MODERN = "2026-07-28"
HANDLE = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{24}")


@pytest.fixture(scope="module")
def server(demo_config_file: Path) -> Iterator[HttpServer]:
    yield from start_http(demo_config_file)


async def _handles_scenario(client: Any) -> dict[str, Any]:
    from mcp.shared.exceptions import MCPError

    seen: dict[str, Any] = {"tools": await client.list_tools()}
    seen["first"] = await client.call_tool("execute", {"code": "x = 41\ndemo.get_customer(customer_id=1)['id']"})
    handle = seen["first"].structured_content["session"]
    seen["again"] = await client.call_tool("execute", {"code": "x + 1", "session": handle})
    seen["bare"] = await client.call_tool("execute", {"code": "'x' in globals()"})
    seen["lost"] = await client.call_tool("execute", {"code": "x", "session": "local.AAAAAAAAAAAAAAAAAAAAAAAA"})
    fresh = seen["lost"].structured_content["session"]
    seen["fresh"] = await client.call_tool("execute", {"code": "y = 2\ny", "session": fresh})
    with pytest.raises(MCPError) as unknown:
        await client.call_tool("describe", {"name": "x"})
    seen["unknown"] = unknown.value
    return seen


def _check(seen: dict[str, Any], modern: bool) -> None:
    tools = {tool.name: tool for tool in seen["tools"].tools}
    assert tools["execute"].input_schema["properties"]["session"]["x-mcp-header"] == "Session"
    first, again, bare = seen["first"], seen["again"], seen["bare"]
    handle = first.structured_content["session"]
    assert HANDLE.fullmatch(handle), handle
    assert first.content[0].text.splitlines()[-1] == f"session: {handle}"
    assert not again.is_error and again.structured_content["result"] == 42
    assert again.structured_content["session"] == handle
    # Without a handle, the 2026 era starts a session; a handshake-era connection goes on in its own.
    assert bare.structured_content["result"] is (not modern)
    assert (bare.structured_content["session"] == handle) is (not modern)
    lost = seen["lost"]
    assert lost.is_error and lost.structured_content["error"]["code"] == "SESSION_LOST"
    fresh = lost.structured_content["session"]
    assert HANDLE.fullmatch(fresh) and fresh not in (handle, "local.AAAAAAAAAAAAAAAAAAAAAAAA")
    assert f"session: {fresh}" in lost.content[0].text
    assert seen["fresh"].structured_content["result"] == 2 and seen["fresh"].structured_content["session"] == fresh
    assert seen["unknown"].error.code == -32602


@pytest.mark.parametrize("mode", [MODERN, "legacy"])
def test_over_stdio_both_eras_keep_state_by_handle(demo_config_file: Path, mode: str) -> None:
    _check(run_stdio(demo_config_file, _handles_scenario, mode=mode), modern=mode == MODERN)


@pytest.mark.parametrize("mode", [MODERN, "legacy"])
def test_over_http_both_eras_keep_state_by_handle(server: HttpServer, mode: str) -> None:
    async def scenario(client: Any) -> dict[str, Any]:
        return await _handles_scenario(client)

    async def main() -> dict[str, Any]:
        async with server.client(mode=mode) as client:
            return await scenario(client)

    import anyio

    _check(anyio.run(main), modern=mode == MODERN)


def test_a_client_in_auto_mode_speaks_2026_at_once_and_a_handle_crosses_eras(server: HttpServer) -> None:
    # `server/discover` is answered, so `auto` needs no fallback; a handle minted in one era
    # is continued from a connection of the other.
    import anyio

    async def main() -> tuple[Any, Any, str]:
        async with server.client(mode="auto") as modern:
            first = await modern.call_tool("execute", {"code": "z = 'from 2026'"})
            version = modern.protocol_version
        async with server.client(mode="legacy") as legacy:
            second = await legacy.call_tool("execute", {"code": "z", "session": first.structured_content["session"]})
        return first, second, str(version)

    first, second, version = anyio.run(main)
    assert version == MODERN
    assert not second.is_error and second.structured_content["result"] == "from 2026"
