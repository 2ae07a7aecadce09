"""`codemode.rateLimit`: executes and tool calls per minute per bearer token, with tiers by
token; past a limit an execute is refused with RATE_LIMITED and the seconds to wait."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from _serving import start_http, write_config

TOKEN = "the-server-token-0123"
TIER = "a-tier-token-456789abcdef"
CALLS = "from codemode import ToolError\nfor _ in range(3):\n    try:\n        demo.list_customers()\n" \
        "    except ToolError as e:\n        print(e.code)\n"


def test_a_token_past_its_limits_is_refused_with_rate_limited_and_a_retry_after(tmp_path: Path) -> None:
    import anyio

    config = write_config(tmp_path / "mcp.json", {"poolSize": 0, "rateLimit": {
        "executesPerMinute": 5, "toolCallsPerMinute": 2,
        "tiers": [{"token": "${CODEMODE_TEST_TIER}", "executesPerMinute": 2, "toolCallsPerMinute": 50}]}})
    for server in start_http(config, env={"CODEMODE_SERVE_TOKEN": TOKEN, "CODEMODE_TEST_TIER": TIER}):
        async def main() -> dict[str, Any]:
            seen: dict[str, Any] = {}
            server.token = TOKEN
            async with server.client() as client:
                seen["calls"] = await client.call_tool("execute", {"code": CALLS})
                seen["after_calls"] = await client.call_tool("execute", {"code": "1"})
            server.token = TIER  # a tier's token is accepted, and counted apart with its own limits
            async with server.client() as client:
                seen["tier"] = [await client.call_tool("execute", {"code": CALLS}) for _ in range(3)]
            return seen

        seen = anyio.run(main)
    # Default limits: 2 tool calls a minute; the run's third call is refused in the code, then
    # the next execute is refused whole.
    assert seen["calls"].structured_content["stdout"] == "MAX_TOOL_CALLS\n"
    refused = seen["after_calls"].structured_content["error"]
    assert seen["after_calls"].is_error and refused["code"] == "RATE_LIMITED"
    assert "2 tool calls a minute" in refused["message"] and 1 <= refused["retryAfter"] <= 60
    # The tier: 50 tool calls, 2 executes a minute.
    first, second, third = seen["tier"]
    assert first.structured_content["stdout"] == "" and second.structured_content["ok"]
    assert third.is_error and third.structured_content["error"]["code"] == "RATE_LIMITED"
    assert "2 execute calls a minute" in third.structured_content["error"]["message"]
