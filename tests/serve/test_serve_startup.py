"""`codemode serve` answers before its upstream servers have connected.

The upstream server here is the demo behind a gate: its process waits for a file before it
speaks MCP, so the test (not a clock) decides when it connects. While the gate is shut the
server must already answer `initialize` and `/health` (the upstream server `connecting`);
once its tool list is in the on-disk cache, a second server process answers `tools/list`
and `search` too from the cache, and the first `execute` waits for the connection instead of
failing. `/health` shows each state as it is.
"""

from __future__ import annotations

import json
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import anyio
import pytest
from _serving import HttpServer, start_http, write_config

GATE_WAIT = 120.0  # seconds to wait for a state to show: a bound on a hang, never a measure
GATED = """\
import os, runpy, sys, time
while not os.path.exists(sys.argv[1]):
    time.sleep(0.02)
sys.argv[1:] = []
runpy.run_module("codemode.demo", run_name="__main__", alter_sys=True)
"""


@pytest.fixture(scope="module")
def gated(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("startup")
    script = folder / "gated.py"
    script.write_text(GATED, encoding="utf-8")
    gate = folder / "open"
    env = {"PYTHONPATH": str(Path(__import__("codemode").__file__).resolve().parents[1])}
    config = write_config(folder / "mcp.json", {"cellTimeout": 60, "poolSize": 1},
                          servers={"gated": {"command": sys.executable, "args": [str(script), str(gate)], "env": env}})
    return {"config": config, "gate": gate, "cache": folder / "cache"}


def _health(server: HttpServer) -> dict[str, Any]:
    with urllib.request.urlopen(server.url.replace("/mcp", "/health"), timeout=30) as response:
        return json.loads(response.read())  # type: ignore[no-any-return]


def _wait_for_health(server: HttpServer, status: str) -> dict[str, Any]:
    deadline = time.monotonic() + GATE_WAIT
    while True:
        health = _health(server)
        if health["status"] == status or time.monotonic() > deadline:
            return health
        time.sleep(0.05)


def test_first_start_answers_initialize_and_health_while_the_server_connects(gated: dict[str, Path]) -> None:
    env = {"CODEMODE_CACHE_DIR": str(gated["cache"]), "CODEMODE_TOOL_CACHE": "1"}
    for server in start_http(gated["config"], env=env):
        health = _health(server)
        assert health["status"] == "starting" and health["servers"]["gated"]["status"] == "connecting"

        async def scenario() -> dict[str, Any]:
            async with server.client() as client:  # initialize: answered with the gate shut
                seen = {"health": _health(server), "version": client.server_info.name}
                gated["gate"].touch()
                tools = await client.list_tools()
                seen["tools"] = [tool.name for tool in tools.tools]
                seen["run"] = await client.call_tool("execute", {"code": "demo_rows = gated.list_customers()\n"
                                                                         "len(demo_rows) > 0"})
                return seen

        seen = anyio.run(scenario)
        assert seen["version"] == "codemode"
        assert seen["health"]["servers"]["gated"]["status"] == "connecting"
        assert seen["tools"] == ["search", "execute"]
        assert seen["run"].is_error is False and seen["run"].structured_content["result"] is True
        health = _wait_for_health(server, "ok")
        assert health["servers"]["gated"]["status"] == "connected" and health["servers"]["gated"]["tools"] > 5
    gated["gate"].unlink()


def test_with_the_tool_cache_list_and_search_answer_and_execute_waits_for_the_connection(
        gated: dict[str, Path]) -> None:
    assert any(gated["cache"].rglob("*.json")), "the first start wrote the tool cache"
    env = {"CODEMODE_CACHE_DIR": str(gated["cache"]), "CODEMODE_TOOL_CACHE": "1"}
    for server in start_http(gated["config"], env=env):

        async def scenario() -> dict[str, Any]:
            async with server.client() as client:
                seen: dict[str, Any] = {}
                tools = await client.list_tools()  # from the cache: the gate is still shut
                seen["description"] = next(t.description for t in tools.tools if t.name == "execute")
                seen["search"] = await client.call_tool("search", {"query": "customers", "detail": "names"})
                seen["health"] = _health(server)
                async with anyio.create_task_group() as tg:
                    async def execute() -> None:
                        seen["run"] = await client.call_tool("execute", {"code": "len(gated.list_customers())"})

                    tg.start_soon(execute)
                    await anyio.sleep(0.2)  # let the execute reach the server first (not needed to pass)
                    gated["gate"].touch()
                return seen

        seen = anyio.run(scenario)
        assert "gated (" in seen["description"]
        assert "gated.list_customers" in seen["search"].structured_content["tools"]
        assert seen["health"]["status"] == "starting"
        assert seen["health"]["servers"]["gated"]["status"] in ("idle", "connecting")
        assert seen["run"].is_error is False, seen["run"].content[0].text
        assert seen["run"].structured_content["result"] > 0
        assert _wait_for_health(server, "ok")["servers"]["gated"]["status"] == "connected"
