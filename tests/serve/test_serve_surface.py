"""The tool list a model reads stays small whatever stands behind it: ≤ 1,500 o200k tokens."""

from __future__ import annotations

import json
import sys
import textwrap
from pathlib import Path
from typing import Any

from _serving import run_stdio, write_config

from codemode.serve._tools import SURFACE_BUDGET, tool_list
from codemode.tokens.metrics import default_tokenizer

MANY_TOOLS = 320

# A real MCP server (the SDK's MCPServer) with hundreds of tools, as a large API gateway has.
_MANY_SERVER = textwrap.dedent(f"""
    from mcp.server.mcpserver import MCPServer

    server = MCPServer("many")
    for index in range({MANY_TOOLS}):
        def tool(record_id: int, note: str = "", index: int = index) -> str:
            return f"{{index}}:{{record_id}}:{{note}}"
        server.add_tool(tool, name=f"update_record_{{index}}",
                        description=f"Update record kind {{index}} of the inventory: set its note, "
                                    "keep its history, and return the new version as text.")
    server.run()
""")


def _tokens(tools: list[dict[str, Any]]) -> int:
    tokenizer = default_tokenizer()
    assert tokenizer.exact, "the o200k tokenizer (bpe-openai, in the dev extra) is needed to count exactly"
    return tokenizer.count(json.dumps(tools, separators=(",", ":"), ensure_ascii=False))


def test_the_tool_list_of_a_server_over_320_upstream_tools_stays_under_the_budget(tmp_path: Path) -> None:
    script = tmp_path / "many.py"
    script.write_text(_MANY_SERVER, encoding="utf-8")
    demo = write_config(tmp_path / "demo.json")
    servers = json.loads(demo.read_text())["mcpServers"]
    servers["many"] = {"command": sys.executable, "args": [str(script)], "env": servers["demo"]["env"]}
    config = write_config(tmp_path / "mcp.json", {"poolSize": 0}, servers=servers)

    async def scenario(client: Any) -> Any:
        listed = await client.list_tools()
        found = await client.call_tool("search", {"query": "update record kind 217", "detail": "names", "limit": 3})
        return listed, found

    listed, found = run_stdio(config, scenario)
    tools = [tool.model_dump(by_alias=True, mode="json", exclude_none=True) for tool in listed.tools]
    assert [tool["name"] for tool in tools] == ["search", "execute"]
    assert "many (320 tools)" in tools[1]["description"]
    assert _tokens(tools) <= SURFACE_BUDGET
    assert found.structured_content["tools"][0] == "many.update_record_217"


def test_the_descriptions_say_how_to_call_tools_from_code() -> None:
    execute = tool_list({"demo": 13}, "demo.list_orders")[1]["description"]
    for phrase in ("demo.list_orders(", ".acall(", "ToolError", "input", "search"):
        assert phrase in execute


def test_a_config_with_forty_servers_names_twelve_and_counts_the_rest() -> None:
    servers = {f"server_with_a_rather_long_name_{index}": 25 for index in range(40)}
    tools = tool_list(servers, "server_with_a_rather_long_name_0.get_thing")
    assert "and 28 more (search finds them)" in tools[1]["description"]
    assert _tokens(tools) <= SURFACE_BUDGET
