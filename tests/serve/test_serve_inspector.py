"""`codemode serve` through a client we did not write: the MCP Inspector's command-line mode.

Each `mcp-inspector --cli` run is one connection, so what persists across `execute` calls is
tested with the SDK's client (test_serve_stdio.py, test_serve_http.py); here every call stands
alone. Over stdio the Inspector starts the server itself and takes `--config` for its own use,
so the server's settings go in through `-e CODEMODE_CONFIG=...`; it passes the server only the
variables given with `-e`.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from _serving import HttpServer, start_http, write_config

INSPECTOR = Path(__file__).resolve().parents[1] / "peers" / "node_modules" / ".bin" / "mcp-inspector"
if not INSPECTOR.exists():
    pytest.skip("the MCP Inspector is not installed: run `make peers` (npm ci in tests/peers)", allow_module_level=True)

# The Inspector gives a server 15 s to connect by default; a loaded CI machine can take longer
# to start the demo server and the warm workers.
CONNECT_MS = 120_000
RUN_TIMEOUT = 180.0


def inspector(*args: str) -> dict[str, Any]:
    """The Inspector's JSON answer; it exits 0, or non-zero for a result with isError (saying so on stderr)."""
    done = subprocess.run([str(INSPECTOR), "--cli", "--connect-timeout", str(CONNECT_MS), *args],
                          capture_output=True, text=True, timeout=RUN_TIMEOUT)
    answer = json.loads(done.stdout)
    assert (done.returncode == 0) == (answer.get("isError") is not True), done.stderr + done.stdout
    return answer


def call(url: str, tool: str, **arguments: str) -> dict[str, Any]:
    pairs = [f"{key}={value}" for key, value in arguments.items()]
    return inspector(url, "--method", "tools/call", "--tool-name", tool, "--tool-arg", *pairs)


@pytest.fixture(scope="module")
def server(demo_config_file: Path) -> Iterator[HttpServer]:
    yield from start_http(demo_config_file)


def test_the_inspector_lists_the_two_tools_over_stdio_and_is_refused_a_long_code(tmp_path: Path) -> None:
    config = write_config(tmp_path / "mcp.json", {"maxCodeChars": 50, "poolSize": 0})
    src = str(Path(__import__("codemode").__file__).resolve().parents[1])
    stdio = ["-e", f"CODEMODE_CONFIG={config}", "-e", f"PYTHONPATH={src}", sys.executable, "-m", "codemode", "serve"]
    listed = inspector(*stdio, "--method", "tools/list")
    assert [tool["name"] for tool in listed["tools"]] == ["search", "execute"]
    refused = inspector(*stdio, "--method", "tools/call", "--tool-name", "execute", "--tool-arg", "code=" + "1+" * 40 + "1")
    assert refused["isError"] is True
    assert refused["structuredContent"]["error"]["code"] == "MAX_CODE_CHARS"


def test_the_inspector_searches_and_executes_over_http(server: HttpServer) -> None:
    found = call(server.url, "search", query="customer", detail="names")
    assert "demo.get_customer" in found["structuredContent"]["tools"]
    ran = call(server.url, "execute", code="c = demo.get_customer(customer_id=1)\nprint(c['id'])\nc['id'] * 2")
    assert ran["isError"] is False
    assert ran["structuredContent"]["stdout"] == "1\n" and ran["structuredContent"]["result"] == 2
    assert ran["structuredContent"]["calls"][0]["tool"] == "get_customer"


def test_the_inspector_sees_a_failing_call_a_timeout_and_a_held_sandbox(server: HttpServer) -> None:
    failing = call(server.url, "execute", code="demo.get_order(order_id=1)")
    assert failing["isError"] is True
    assert failing["structuredContent"]["calls"][0]["errorCode"] == "UPSTREAM_ERROR"
    timed_out = call(server.url, "execute", code="while True: pass", timeout="1")
    assert timed_out["isError"] is True and timed_out["structuredContent"]["error"]["code"] == "TIMEOUT"
    escape = call(server.url, "execute", code="import subprocess\nsubprocess.run(['id'])")
    assert escape["isError"] is True  # no exec in the worker, as in a cell
    assert escape["structuredContent"]["error"]["type"] in ("PermissionError", "OSError")


def test_two_inspector_runs_share_variables_through_the_session_handle(server: HttpServer) -> None:
    # Each --cli run is a connection of its own: the handle carries the session from one to the next.
    first = call(server.url, "execute", code="kept = 6 * 7")
    handle = first["structuredContent"]["session"]
    second = call(server.url, "execute", code="kept", session=handle)
    assert second["isError"] is False and second["structuredContent"]["result"] == 42
    assert second["structuredContent"]["session"] == handle
