"""Upstream servers' questions (MCP elicitation) reach a 2026-07-28 client of `codemode serve`
as `input_required` rounds, in the question's own mode, and its answer goes back upstream.

Real `codemode serve` processes over stdio and HTTP, the SDK's own `Client` in the 2026 era
with an elicitation callback (or none: nobody to ask), and real upstream servers that ask:
tests/hub/peer_server.py (a form) and the everything server (a URL, npm in tests/peers).
The audit file records each question's answer, as on the handshake era.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import anyio
import pytest

from _serving import run_stdio, start_http, write_config

MODERN = "2026-07-28"
BY = "a person (MCP input_required)"
PEER = str(Path(__file__).parent.parent / "hub" / "peer_server.py")
EVERYTHING = Path(__file__).parent.parent / "peers" / "node_modules" / ".bin" / "mcp-server-everything"


def _config(tmp_path: Path, servers: dict[str, Any], **settings: Any) -> Path:
    return write_config(tmp_path / "mcp.json", {"audit": str(tmp_path / "audit.jsonl"), "auditArguments": True,
                                                "poolSize": 0, **settings}, servers)


def _audit(tmp_path: Path, kind: str) -> list[dict[str, Any]]:
    path = tmp_path / "audit.jsonl"
    lines = path.read_text().splitlines() if path.exists() else []
    return [event for event in map(json.loads, lines) if event["event"] == kind]


def _ask(tmp_path: Path, answer: dict[str, Any] | None) -> tuple[dict[str, Any], list[Any]]:
    from mcp import types

    config = _config(tmp_path, {"peer": {"command": sys.executable, "args": [PEER]}}, preapproved=["*"])
    asked: list[Any] = []

    async def person(context: Any, params: Any) -> Any:
        asked.append(params)
        return types.ElicitResult(**answer or {})

    async def scenario(client: Any) -> dict[str, Any]:
        result = await client.call_tool("execute", {"code": "peer.ask()"})
        return dict(result.structured_content)

    options = {"elicitation_callback": person} if answer is not None else {}
    return run_stdio(config, scenario, mode=MODERN, **options), asked


def test_a_servers_form_question_is_an_input_required_round_and_the_answer_goes_back(tmp_path: Path) -> None:
    out, asked = _ask(tmp_path, {"action": "accept", "content": {"address": "Dock 4", "express": True}})
    assert out["result"] == "accept Dock 4 express=True", json.dumps(out)[:2000]
    [question] = asked
    assert question.mode == "form" and "peer.ask asks: Where should the order go?" in question.message
    assert question.requested_schema["required"] == ["address"]
    assert set(question.requested_schema["properties"]) == {"address", "express"}
    [event] = _audit(tmp_path, "elicitation")
    assert (event["face"], event["outcome"], event["by"], event["mode"]) == ("serve", "accept", BY, "form")
    assert event["arguments"] == {"address": "Dock 4", "express": True} and event["run"] == out["runId"]


def test_a_declined_question_is_declined_upstream(tmp_path: Path) -> None:
    out, asked = _ask(tmp_path, {"action": "decline"})
    assert len(asked) == 1 and out["result"] == "decline"
    assert [(e["outcome"], e["by"]) for e in _audit(tmp_path, "elicitation")] == [("decline", BY)]


def test_a_client_without_elicitation_has_nobody_to_ask_and_the_question_is_declined(tmp_path: Path) -> None:
    out, asked = _ask(tmp_path, None)
    assert asked == [] and out["result"] == "decline" and out["ok"]
    [event] = _audit(tmp_path, "elicitation")
    assert event["outcome"] == "decline" and "nobody to ask" in event["by"] and "form elicitation" in event["by"]


def test_nobody_answering_within_the_approval_timeout_cancels_the_question_and_the_code_goes_on(
        tmp_path: Path) -> None:
    from mcp import types

    config = _config(tmp_path, {"peer": {"command": sys.executable, "args": [PEER]}}, preapproved=["*"],
                     approvalTimeout=1)

    async def late(context: Any, params: Any) -> Any:
        # Answers only once the run has given up on it (its audit event is the evidence).
        with anyio.fail_after(60):
            while not _audit(tmp_path, "elicitation"):
                await anyio.sleep(0.05)
        return types.ElicitResult(action="accept", content={"address": "too late"})

    async def scenario(client: Any) -> Any:
        return await client.call_tool("execute", {"code": "print(peer.ask())\n'after'"})

    result = run_stdio(config, scenario, mode=MODERN, elicitation_callback=late)
    out = result.structured_content
    assert not result.is_error, result.content[0].text
    assert out["stdout"] == "cancel\n" and out["result"] == "after", json.dumps(out)[:2000]
    [event] = _audit(tmp_path, "elicitation")
    assert event["outcome"] == "cancel" and "no answer within 1 s" in event["by"]


def test_a_url_question_goes_as_a_url_round_and_no_content_comes_back(tmp_path: Path) -> None:
    if not EVERYTHING.exists():
        pytest.skip("the everything server is not installed; run `make peers`")
    from mcp import types

    config = _config(tmp_path, {"everything": {"command": str(EVERYTHING), "args": ["stdio"]}}, preapproved=["*"])
    asked: list[Any] = []

    async def person(context: Any, params: Any) -> Any:
        asked.append(params)
        # A client that tries to send content with a URL answer: none of it goes upstream.
        return types.ElicitResult(action="accept", content={"password": "hunter2"})

    async def scenario(client: Any) -> Any:
        code = "print(everything.trigger_url_elicitation(url='https://example.com/sign-in'))"
        return await client.call_tool("execute", {"code": code})

    result = run_stdio(config, scenario, mode=MODERN, elicitation_callback=person)
    out = result.structured_content
    [question] = asked
    assert question.mode == "url" and question.url == "https://example.com/sign-in"
    assert "everything.trigger_url_elicitation asks:" in question.message
    assert out["ok"] and "accept" in out["stdout"].lower(), json.dumps(out)[:2000]
    [event] = _audit(tmp_path, "elicitation")
    assert (event["outcome"], event["mode"], event["by"]) == ("accept", "url", BY)
    assert event["arguments"] == {} and "hunter2" not in (tmp_path / "audit.jsonl").read_text()


def test_over_http_one_run_asks_approvals_then_a_question_each_round_under_its_own_key(tmp_path: Path) -> None:
    from mcp import types

    from _serving import write_config as serve_config

    config = serve_config(tmp_path / "mcp.json", {"audit": str(tmp_path / "audit.jsonl"), "poolSize": 0})
    servers = json.loads(config.read_text())
    servers["mcpServers"]["peer"] = {"command": sys.executable, "args": [PEER]}
    config.write_text(json.dumps(servers))
    asked: list[tuple[str, str]] = []

    async def person(context: Any, params: Any) -> Any:
        if "needs approval" in params.message:
            asked.append(("approval", params.message))
            return types.ElicitResult(action="accept", content={"decision": "once"})
        asked.append(("question", params.message))
        return types.ElicitResult(action="accept", content={"address": "Pier 9"})

    code = "status = demo.cancel_order(order_id=1030)['status']\n[status, peer.ask()]"
    for server in start_http(config):
        async def main() -> Any:
            async with server.client(mode=MODERN, elicitation_callback=person) as client:
                return await client.call_tool("execute", {"code": code})

        result = anyio.run(main)
    out = result.structured_content
    assert out["result"] == ["cancelled", "accept Pier 9 express=False"], json.dumps(out)[:2000]
    # peer.ask has no annotations, so it is destructive by the spec's defaults: asked too.
    assert [kind for kind, _ in asked] == ["approval", "approval", "question"]
    assert "demo.cancel_order needs approval" in asked[0][1] and "peer.ask needs approval" in asked[1][1]
    assert "peer.ask asks: Where should the order go?" in asked[2][1]
    assert [e["outcome"] for e in _audit(tmp_path, "approval")] == ["approved", "approved"]
    assert [(e["outcome"], e["by"]) for e in _audit(tmp_path, "elicitation")] == [("accept", BY)]


def test_the_modes_a_client_declared_decide_which_questions_it_can_be_asked() -> None:
    from mcp_types import ClientCapabilities, ElicitationCapability, FormElicitationCapability
    from mcp_types import UrlElicitationCapability

    from codemode.trust.approvers import elicitation_modes

    assert elicitation_modes(None) == elicitation_modes(ClientCapabilities()) == frozenset()
    # An empty capability is form only, as the spec has it (a client from before URL mode).
    assert elicitation_modes(ClientCapabilities(elicitation=ElicitationCapability())) == {"form"}
    url_only = ClientCapabilities(elicitation=ElicitationCapability(url=UrlElicitationCapability()))
    assert elicitation_modes(url_only) == {"url"}
    both = ElicitationCapability(form=FormElicitationCapability(), url=UrlElicitationCapability())
    assert elicitation_modes(ClientCapabilities(elicitation=both)) == {"form", "url"}
