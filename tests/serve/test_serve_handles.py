"""Session handles `codemode serve` never minted cost it nothing, and a handle answers only
the token whose session it names.

A real `codemode serve --transport http` with two bearer tokens (the server's and a
`rateLimit` tier's), the SDK's own 2026-07-28 client for each, and the process's own count
of session records, read from `GET /health` (`sessions.open`).
"""

from __future__ import annotations

import json
import secrets
import urllib.request
from pathlib import Path
from typing import Any

import anyio
import pytest

from _serving import HttpServer, start_http, write_config

MODERN = "2026-07-28"
TOKEN_A = "token-a-0123456789abcdef"
TOKEN_B = "token-b-fedcba9876543210"
BOGUS = 40
ILL_FORMED = ["nope", "local.short", "local." + "A" * 25, "../../etc/passwd", "local.AAAAAAAAAAAA/AAAAAAAAAAA",
              "x" * 5000, " local.AAAAAAAAAAAAAAAAAAAAAAAA", 7, ["local.AAAAAAAAAAAAAAAAAAAAAAAA"]]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Any:
    config = write_config(tmp_path_factory.mktemp("handles") / "mcp.json", {"poolSize": 0, "rateLimit": {
        "tiers": [{"token": "${CODEMODE_TEST_TIER}", "executesPerMinute": 1000}]}})
    yield from start_http(config, env={"CODEMODE_SERVE_TOKEN": TOKEN_A, "CODEMODE_TEST_TIER": TOKEN_B})


def _open_sessions(server: HttpServer) -> int:
    request = urllib.request.Request(server.url.replace("/mcp", "/health"),
                                     headers={"Authorization": f"Bearer {TOKEN_A}"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return int(json.loads(response.read())["sessions"]["open"])


def _as(server: HttpServer, token: str) -> Any:
    server.token = token
    return server.client(mode=MODERN)


def _code(result: Any) -> str | None:
    error = (result.structured_content or {}).get("error") or {}
    return error.get("code")


def test_handles_nobody_minted_leave_the_session_records_as_they_were(server: HttpServer) -> None:
    async def main() -> dict[str, Any]:
        seen: dict[str, Any] = {}
        async with _as(server, TOKEN_A) as client:
            await client.call_tool("execute", {"code": "1"})
            seen["before"] = _open_sessions(server)
            seen["bogus"] = [await client.call_tool("execute", {"code": "1", "session": f"local.{secrets.token_urlsafe(18)}"})
                             for _ in range(BOGUS)]
            seen["ill"] = [await client.call_tool("execute", {"code": "1", "session": handle}) for handle in ILL_FORMED]
            seen["after"] = _open_sessions(server)
            fresh = seen["bogus"][0].structured_content["session"]
            seen["use"] = await client.call_tool("execute", {"code": "kept = 5", "session": fresh})
            seen["again"] = await client.call_tool("execute", {"code": "kept + 1", "session": fresh})
            seen["used"] = _open_sessions(server)
            seen["empty"] = await client.call_tool("execute", {"code": "'kept' in globals()", "session": ""})
        async with _as(server, TOKEN_B) as other:
            # A fresh handle answers only the token it was offered to.
            seen["stolen_fresh"] = await other.call_tool("execute", {"code": "1", "session":
                                                                     seen["bogus"][1].structured_content["session"]})
        seen["end"] = _open_sessions(server)
        return seen

    seen = anyio.run(main)
    assert seen["after"] == seen["before"], (seen["before"], seen["after"])
    fresh = {result.structured_content["session"] for result in seen["bogus"]}
    assert all(_code(result) == "SESSION_LOST" and result.is_error for result in seen["bogus"])
    assert len(fresh) == BOGUS  # each offers a fresh handle of its own
    for result in seen["ill"]:
        assert result.is_error and _code(result) == "INVALID_ARGUMENTS", result.content[0].text
        assert "session must be the handle an earlier result gave" in result.content[0].text
        assert len(result.content[0].text) < 400  # a 5,000-character handle is not echoed back
    # The fresh handle opens its session on first use, under that handle, and goes on.
    use, again = seen["use"], seen["again"]
    assert not use.is_error and use.structured_content["session"] == seen["bogus"][0].structured_content["session"]
    assert again.structured_content["result"] == 6 and seen["used"] == seen["before"] + 1
    assert not seen["empty"].is_error and seen["empty"].structured_content["result"] is False  # "" is no handle
    assert _code(seen["stolen_fresh"]) == "SESSION_LOST"
    assert seen["end"] == seen["before"] + 2  # the fresh handle's session, and the one "" started


def test_a_handle_minted_for_one_token_is_refused_to_another_without_revealing_the_session(
        server: HttpServer) -> None:
    never = f"local.{secrets.token_urlsafe(18)}"

    async def main() -> dict[str, Any]:
        seen: dict[str, Any] = {}
        async with _as(server, TOKEN_A) as owner:
            first = await owner.call_tool("execute", {"code": "secret = 'only for A'"})
            handle = seen["handle"] = first.structured_content["session"]
            seen["count"] = _open_sessions(server)
            async with _as(server, TOKEN_B) as other:
                seen["taken"] = await other.call_tool("execute", {"code": "secret", "session": handle})
                seen["never"] = await other.call_tool("execute", {"code": "secret", "session": never})
                seen["search"] = await other.call_tool("search", {"query": "orders", "session": handle})
            seen["after"] = _open_sessions(server)
            seen["still"] = await owner.call_tool("execute", {"code": "secret", "session": handle})
            seen["own_search"] = await owner.call_tool("search", {"query": "orders", "session": handle})
        return seen

    seen = anyio.run(main)
    handle, taken, never_seen = seen["handle"], seen["taken"], seen["never"]
    assert taken.is_error and _code(taken) == "SESSION_LOST" and "only for A" not in taken.content[0].text
    assert taken.structured_content["session"] != handle
    # Word for word what a handle nobody minted gets: nothing tells the session exists.
    said = taken.structured_content["error"]["message"].replace(handle, "H").replace(
        taken.structured_content["session"], "F")
    said_never = never_seen.structured_content["error"]["message"].replace(never, "H").replace(
        never_seen.structured_content["session"], "F")
    assert said == said_never
    assert not seen["search"].is_error and "session" not in seen["search"].structured_content
    assert seen["after"] == seen["count"]
    assert seen["still"].structured_content["result"] == "only for A"
    assert seen["own_search"].structured_content["session"] == handle


def test_a_fresh_handle_is_recognised_for_its_token_and_route_only_and_not_past_its_hour() -> None:
    from codemode.serve._handles import FRESH_SECONDS, is_fresh, mint, mint_fresh, well_formed

    now = 1_800_000_000.0
    fresh = mint_fresh("b1", "owner-digest", now)
    assert well_formed(fresh) and fresh.startswith("b1.")
    assert is_fresh(fresh, "owner-digest", now + FRESH_SECONDS - 1)
    assert not is_fresh(fresh, "owner-digest", now + FRESH_SECONDS)  # its session may be forgotten by then
    assert not is_fresh(fresh, "another-digest", now) and not is_fresh(fresh, None, now)
    assert not is_fresh("b2." + fresh.partition(".")[2], "owner-digest", now)  # the route is part of it
    assert not is_fresh(mint("b1"), "owner-digest", now)  # a session's own handle is no fresh one
    assert not is_fresh(fresh, "owner-digest", now - 120)  # minted in the future


def test_a_2026_execute_refused_before_it_ran_leaves_no_session_and_its_handle_opens_one_later(
        tmp_path: Path) -> None:
    # Refused before any code ran (a bad timeout), a new 2026 session is no record and no
    # transcript; the handle the refusal named opens the session on its next execute, whose
    # transcript then has the cell and what it printed.
    from _serving import run_stdio

    config = write_config(tmp_path / "mcp.json", {"poolSize": 0})
    record = tmp_path / "record"

    async def scenario(client: Any) -> list[Any]:
        refused = await client.call_tool("execute", {"code": "print('hi')", "timeout": -1})
        handle = refused.structured_content["session"]
        return [refused, await client.call_tool("execute", {"code": "print('hi')\n7", "session": handle})]

    refused, ran = run_stdio(config, scenario, "--record", str(record), mode=MODERN)
    assert refused.is_error and _code(refused) == "INVALID_ARGUMENTS"
    assert not ran.is_error and ran.structured_content["session"] == refused.structured_content["session"]
    [notebook] = record.glob("*.ipynb")  # one session: the refused execute made none
    cells = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
    outputs = [output for cell in cells for output in cell.get("outputs", [])]
    assert any("hi" in "".join(output.get("text", "")) for output in outputs), outputs


def test_concurrent_first_executes_of_one_fresh_handle_share_one_session(server: HttpServer) -> None:
    async def main() -> dict[str, Any]:
        seen: dict[str, Any] = {}
        async with _as(server, TOKEN_A) as client:
            lost = await client.call_tool("execute", {"code": "1", "session": f"local.{secrets.token_urlsafe(18)}"})
            fresh = seen["fresh"] = lost.structured_content["session"]
            seen["before"] = _open_sessions(server)
            results: dict[str, Any] = {}

            async def run(name: str) -> None:
                results[name] = await client.call_tool("execute", {"code": f"{name} = 1", "session": fresh})

            async with anyio.create_task_group() as tg:
                for name in ("a", "b", "c"):
                    tg.start_soon(run, name)
            seen["results"] = results
            seen["after"] = _open_sessions(server)
            seen["all"] = await client.call_tool("execute", {"code": "a + b + c", "session": fresh})
        return seen

    seen = anyio.run(main)
    assert all(r.structured_content["session"] == seen["fresh"] for r in seen["results"].values())
    assert seen["after"] == seen["before"] + 1 and seen["all"].structured_content["result"] == 3
