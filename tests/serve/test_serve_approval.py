"""Approval through `codemode serve`: a destructive call asks the client by form elicitation.

Real `codemode serve` processes over stdio, the demo server upstream, and the SDK's own
client with an elicitation callback that accepts, declines, or is absent (a client without
the capability: nobody to ask). The audit file of the serve face records each decision.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from _serving import run_stdio, write_config

CODE = (
    "from codemode import ToolError\n"
    "try:\n    demo.cancel_order(order_id=1030)\nexcept ToolError as exc:\n    print('refused', exc.code)\n"
    'demo.get_order(order_id=1030)["status"]'
)


def _serve(tmp_path: Path, callback: Any, mode: str = "legacy") -> tuple[dict[str, Any], list[Any], list[dict[str, Any]]]:
    from mcp import types

    config = write_config(tmp_path / "mcp.json", {"audit": str(tmp_path / "audit.jsonl")})
    asked: list[Any] = []

    async def recording(context: Any, params: Any) -> Any:
        asked.append(params)
        return types.ElicitResult(**callback)

    async def scenario(client: Any) -> dict[str, Any]:
        result = await client.call_tool("execute", {"code": CODE})
        return dict(result.structured_content)

    options = {"elicitation_callback": recording} if callback is not None else {}
    out = run_stdio(config, scenario, mode=mode, **options)
    audit = [json.loads(line) for line in (tmp_path / "audit.jsonl").read_text().splitlines()]
    return out, asked, audit


ERAS = pytest.mark.parametrize("mode", ["legacy", "2026-07-28"])
BY = {"legacy": "a person (MCP elicitation)", "2026-07-28": "a person (MCP input_required)"}


@ERAS
def test_an_accepted_elicitation_lets_the_destructive_call_through(tmp_path: Path, mode: str) -> None:
    # The handshake era asks with an elicitation request; 2026-07-28 with an input_required
    # result that the client answers and retries (the SDK's client drives the rounds).
    out, asked, audit = _serve(tmp_path, {"action": "accept", "content": {"decision": "once"}}, mode)
    (question,) = asked
    assert "demo.cancel_order needs approval (destructiveHint: true)" in question.message
    assert "\n    order_id=1030" in question.message  # by its Python name, one indented block
    assert out["result"] == "cancelled" and out["stdout"] == "" and len(out["runId"]) == 26
    assert out["calls"][0]["approval"] == {"decision": "approved", "by": BY[mode]}
    decided = [e for e in audit if e["event"] == "approval"]
    assert [(e["face"], e["run"], e["outcome"]) for e in decided] == [("serve", out["runId"], "approved")]


@ERAS
def test_a_declined_elicitation_is_a_denial_the_code_catches(tmp_path: Path, mode: str) -> None:
    out, asked, _ = _serve(tmp_path, {"action": "decline"}, mode)
    assert len(asked) == 1
    assert out["stdout"] == "refused APPROVAL_DENIED\n" and out["result"] == "open"


@ERAS
def test_a_client_without_elicitation_gets_approval_required(tmp_path: Path, mode: str) -> None:
    out, asked, audit = _serve(tmp_path, None, mode)
    assert asked == [] and out["stdout"] == "refused APPROVAL_REQUIRED\n" and out["result"] == "open"
    assert "elicitation capability" in out["calls"][0]["approval"]["by"]
    assert [e["outcome"] for e in audit if e["event"] == "approval"] == ["refused"]


def test_approval_required_tells_a_serve_client_how_to_pre_approve_in_the_config_once(tmp_path: Path) -> None:
    config = write_config(tmp_path / "mcp.json")

    async def scenario(client: Any) -> Any:
        return await client.call_tool("execute", {"code": "demo.cancel_order(order_id=1030)"})

    result = run_stdio(config, scenario)
    text = result.content[0].text
    assert result.is_error and text.count("needs approval") == 1, text
    assert '"preapproved": ["demo.cancel_order"]' in text and "--approve" not in text


def test_over_http_a_2026_client_is_asked_by_input_required_and_the_code_goes_on(tmp_path: Path) -> None:
    import anyio
    from mcp import types

    from _serving import start_http

    config = write_config(tmp_path / "mcp.json", {"poolSize": 0})
    asked: list[str] = []

    async def answer(context: Any, params: Any) -> Any:
        asked.append(params.message)
        return types.ElicitResult(action="accept", content={"decision": "once"})

    for server in start_http(config):
        async def main() -> Any:
            async with server.client(mode="2026-07-28", elicitation_callback=answer) as client:
                first = await client.call_tool("execute", {"code": "before = 1"})
                return await client.call_tool("execute", {"code": CODE + "\nbefore",
                                                          "session": first.structured_content["session"]})

        result = anyio.run(main)
    assert len(asked) == 1 and "demo.cancel_order needs approval" in asked[0]
    assert result.structured_content["calls"][0]["approval"] == {"decision": "approved", "by": BY["2026-07-28"]}
    assert result.structured_content["result"] == 1 and result.structured_content["stdout"] == ""


@pytest.mark.parametrize("state", ["local~v1.AAAAforged", "v1.AAAAforged", "b9~"])
def test_a_2026_retry_whose_state_this_process_cannot_unseal_is_run_lost_not_a_protocol_error(
        tmp_path: Path, state: str) -> None:
    import httpx2

    from _serving import start_http

    config = write_config(tmp_path / "mcp.json", {"poolSize": 0})
    meta = {"io.modelcontextprotocol/protocolVersion": "2026-07-28", "io.modelcontextprotocol/clientCapabilities": {}}
    request = {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {
        "name": "execute", "arguments": {"code": CODE}, "requestState": state,
        "inputResponses": {"approval": {"action": "accept", "content": {"decision": "once"}}}, "_meta": meta}}
    headers = {"Accept": "application/json, text/event-stream", "MCP-Protocol-Version": "2026-07-28",
               "Mcp-Method": "tools/call", "Mcp-Name": "execute"}
    for server in start_http(config):
        answer = httpx2.post(server.url, json=request, headers=headers, timeout=60)
    assert answer.status_code == 200, answer.text
    result = answer.json()["result"]
    assert result["isError"] is True and result["structuredContent"]["error"]["code"] == "RUN_LOST", result
