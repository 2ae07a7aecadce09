"""serve's `search` finds an upstream server's resources and prompts beside its tools: the
text shows each as the call that reads or gets it, and `structuredContent` keeps `tools` for
tools only (each a `server.tool` a client may call) with the rest under `resources` and
`prompts`, as calls code can make."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from _serving import run_stdio, write_config

EVERYTHING = Path(__file__).resolve().parents[1] / "peers" / "node_modules" / ".bin" / "mcp-server-everything"


def test_search_shows_prompts_and_resources_as_calls_and_keeps_them_out_of_tools(tmp_path: Path) -> None:
    if not EVERYTHING.exists():
        pytest.skip("the everything server is not installed; run `make peers`")
    config = write_config(tmp_path / "mcp.json", servers={"everything": {"command": str(EVERYTHING), "args": ["stdio"]}})

    async def scenario(client: Any) -> dict[str, Any]:
        found = {query: await client.call_tool("search", {"query": query, "limit": 5})
                 for query in ("prompt with arguments", "architecture.md", "echo")}
        ran = await client.call_tool("execute", {"code": 'everything.prompts.get("args-prompt", city="Paris")'})
        return {"found": found, "ran": ran}

    seen = run_stdio(config, scenario)
    prompt = seen["found"]["prompt with arguments"]
    assert prompt.content[0].text.startswith('everything.prompts.get("args-prompt", city=..., state=...)  # prompt')
    assert prompt.structured_content["prompts"][0] == 'everything.prompts.get("args-prompt", city=..., state=...)'
    assert all(not name.startswith("everything.prompts") for name in prompt.structured_content["tools"])
    resource = seen["found"]["architecture.md"].structured_content
    assert resource["resources"][0] == 'everything.resources.read("demo://resource/static/document/architecture.md")'
    assert seen["found"]["echo"].structured_content["tools"][0] == "everything.echo"
    assert not seen["ran"].is_error and "Paris" in str(seen["ran"].structured_content["result"])
