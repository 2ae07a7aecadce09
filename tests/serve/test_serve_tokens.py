"""The token line of `codemode serve`: what this session's model read (the tool list once, its
searches, its code, each result) against classic tool calling, adding up over the session, in
o200k tokens (exact: bpe-openai is a dependency); none at all with `showTokens: false`."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
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


def _tokens_read(result: Any) -> int:
    return int(result.structured_content["sessionTokens"]["read"])


@pytest.mark.parametrize("mode", ["2026-07-28", "legacy"])
def test_a_search_that_names_its_session_counts_toward_that_sessions_line(demo_config_file: Path,
                                                                         mode: str) -> None:
    query = {"query": "orders", "detail": "full"}

    async def scenario(client: Any) -> dict[str, Any]:
        seen: dict[str, Any] = {"first": await client.call_tool("execute", {"code": "1"})}
        handle = seen["first"].structured_content["session"]
        seen["named"] = await client.call_tool("search", {**query, "session": handle})
        seen["bare"] = await client.call_tool("search", query)
        seen["unknown"] = await client.call_tool("search", {**query, "session": "local.AAAAAAAAAAAAAAAAAAAAAAAA"})
        seen["second"] = await client.call_tool("execute", {"code": "1", "session": handle})
        return seen

    seen = run_stdio(demo_config_file, scenario, mode=mode)
    handle = seen["first"].structured_content["session"]
    one_search = BpeTokenizer().count(seen["named"].content[0].text)
    assert one_search > 200  # full stubs: far more than the run of `1` adds
    added = _tokens_read(seen["second"]) - _tokens_read(seen["first"])
    assert not any(seen[key].is_error for key in ("named", "bare", "unknown"))
    assert seen["named"].structured_content["session"] == handle
    if mode == "legacy":
        # A handshake-era connection's searches count toward its own session, with or without
        # a handle, and a handle it does not hold falls back to it too.
        assert 3 * one_search <= added < 3 * one_search + 120
        assert seen["bare"].structured_content["session"] == seen["unknown"].structured_content["session"] == handle
    else:
        # The 2026 era has no connection: only the search that named the session counts.
        assert one_search <= added < one_search + 120
        assert "session" not in seen["bare"].structured_content
        assert "session" not in seen["unknown"].structured_content


def test_search_documents_session_as_execute_does_and_refuses_a_handle_that_is_no_string(
        demo_config_file: Path) -> None:
    async def scenario(client: Any) -> dict[str, Any]:
        listed = await client.list_tools()
        bad = await client.call_tool("search", {"query": "orders", "session": 7})
        return {"tools": {tool.name: tool for tool in listed.tools}, "bad": bad}

    seen = run_stdio(demo_config_file, scenario, mode="2026-07-28")
    search, execute = seen["tools"]["search"], seen["tools"]["execute"]
    session = search.input_schema["properties"]["session"]
    assert session["type"] == "string" and session["x-mcp-header"] == "Session"
    assert session["description"].startswith("The `session` an earlier result gave, to ")
    assert execute.input_schema["properties"]["session"]["description"].startswith(
        "The `session` an earlier result gave, to ")
    assert "not an error" in session["description"] and "token line" in search.description
    assert "session" not in search.input_schema["required"]
    assert seen["bad"].is_error and seen["bad"].structured_content["error"]["code"] == "INVALID_ARGUMENTS"
