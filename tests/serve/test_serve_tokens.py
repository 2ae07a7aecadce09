"""The token line of `codemode serve`: what this session's model read (the tool list once, its
searches, its code, each result) against classic tool calling, adding up over the session, in
o200k tokens (exact: bpe-openai is a dependency); none at all with `showTokens: false`."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from _serving import run_stdio, write_config

from codemode.tokens.metrics import BpeTokenizer

LINE = re.compile(r"· ([\d,]+) tokens read this session vs ([\d,]+) classic\]")


async def _scenario(client: Any) -> dict[str, Any]:
    listed = await client.list_tools()
    found = await client.call_tool("search", {"query": "orders", "detail": "names"})
    first = await client.call_tool("execute", {"code": "len(demo.list_orders(status='open'))"})
    second = await client.call_tool("execute", {"code": "1 + 1"})
    wire = [tool.model_dump(by_alias=True, mode="json", exclude_none=True) for tool in listed.tools]
    return {"wire": wire, "found": found, "first": first, "second": second}


def test_the_line_counts_what_the_session_read_and_adds_up(demo_config_file: Path) -> None:
    seen = run_stdio(demo_config_file, _scenario)
    count = BpeTokenizer().count
    first, second = seen["first"], seen["second"]
    read1, classic1 = (int(n.replace(",", "")) for n in LINE.search(first.content[0].text).groups())  # type: ignore[union-attr]
    read2, classic2 = (int(n.replace(",", "")) for n in LINE.search(second.content[0].text).groups())  # type: ignore[union-attr]
    listing = count(json.dumps(seen["wire"], separators=(",", ":")))
    search = count(seen["found"].content[0].text)
    # The first result's line: the tool list, the search, the code and the result's text (less its own line).
    assert read1 >= listing + search + count("len(demo.list_orders(status='open'))")
    assert read1 < listing + search + 200, (read1, listing, search)  # not every upstream stub: the surface it got
    assert read2 > read1 and read2 - read1 < 120  # a tiny run adds a little
    assert classic1 > read1 and classic2 == classic1  # classic: every tool's definition; 1 + 1 calls nothing
    assert first.structured_content["sessionTokens"] == {"read": read1, "classic": classic1,
                                                          "tokenizer": "o200k_base (bpe-openai)", "exact": True}


def test_show_tokens_false_drops_the_line(tmp_path: Path) -> None:
    config = write_config(tmp_path / "mcp.json", {"showTokens": False, "poolSize": 0})

    async def scenario(client: Any) -> Any:
        return await client.call_tool("execute", {"code": "1"})

    result = run_stdio(config, scenario)
    assert "tokens" not in result.content[0].text and "sessionTokens" not in result.structured_content
    assert result.content[0].text.splitlines()[-2].startswith("[ok · 0 tool calls")
