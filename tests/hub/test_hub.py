"""The hub against real MCP servers: the demo over stdio and streamable HTTP, mcp-server-time.

Every hub here serves on the process-wide portal, as a session's does. Servers that must be
found again (to kill one, or to see that it is gone) are started through a tiny Python
launcher that writes its pid to a file and then execs the demo, so the pid is the server's.
"""

from __future__ import annotations

import functools
import os
import signal
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from anyio.from_thread import BlockingPortal

from codemode.config import Config, StdioServer, parse_config
from codemode.errors import (
    ServerCrashedError,
    ToolTimeoutError,
    UnknownToolError,
    UpstreamError,
)
from codemode.hub import CallResult, Hub, LogRecord

DEMO_TOOLS = 13
EXIT_WAIT = 30.0
"""Seconds a server process may take to go away after the hub let it go."""
STDERR_LINE = "boom: the database is unreachable"


def demo_server(env: dict[str, str], **options: Any) -> dict[str, Any]:
    return {"command": sys.executable, "args": ["-m", "codemode.demo"], "env": env, **options}


def time_server() -> dict[str, Any]:
    return {"command": sys.executable, "args": ["-m", "mcp_server_time", "--local-timezone", "UTC"]}


def pid_file_server(env: dict[str, str], pid_file: Path) -> StdioServer:
    """The demo, started by a launcher that records its pid and execs the server in place."""
    launcher = (
        "import os, sys; "
        f"open({str(pid_file)!r}, 'w').write(str(os.getpid())); "
        "os.execv(sys.executable, [sys.executable, '-m', 'codemode.demo'])"
    )
    return StdioServer(command=sys.executable, args=["-c", launcher], env=env)


def config(servers: dict[str, Any]) -> Config:
    return parse_config({"mcpServers": servers}, source=None, environ={})


def serve(portal: BlockingPortal, cfg: Config) -> tuple[Hub, Any]:
    hub = Hub(cfg)
    task, _ = portal.start_task(hub.serve, name="test-hub")
    return hub, task


def close(portal: BlockingPortal, hub: Hub, task: Any) -> None:
    portal.call(hub.aclose)
    task.result(timeout=EXIT_WAIT)


def call(
    portal: BlockingPortal, hub: Hub, server: str, tool: str, arguments: dict[str, Any], **options: Any
) -> CallResult:
    return portal.call(functools.partial(hub.call, server, tool, arguments, **options))


def read_pid(pid_file: Path) -> int:
    return int(pid_file.read_text())


@pytest.fixture(scope="module")
def hub(portal: BlockingPortal, demo_env: dict[str, str]) -> Iterator[Hub]:
    """The demo and the time server, next to one server that is not installed and one that dies."""
    cfg = config({
        "demo": demo_server(demo_env),
        "clock": time_server(),
        "missing": {"command": "codemode-no-such-server", "args": ["--stdio"]},
        "broken": {
            "command": sys.executable,
            "args": ["-c", f"import sys; sys.stderr.write({STDERR_LINE!r}); sys.exit(2)"],
        },
    })
    started, task = serve(portal, cfg)
    try:
        yield started
    finally:
        close(portal, started, task)


# -- connecting ------------------------------------------------------------------------------


def test_the_demo_over_stdio_lists_its_thirteen_tools(hub: Hub) -> None:
    state = hub.servers["demo"]
    assert state.status == "connected" and state.error is None
    assert state.transport == "stdio"
    assert len(state.tools) == DEMO_TOOLS == len(state.wire_tools)
    search = state.tool("searchProducts")
    assert search is not None
    assert search.server == "demo"
    assert search.input_schema["required"] == ["query"]
    assert search.annotations == {"readOnlyHint": True}
    cancel = state.tool("cancel_order")
    assert cancel is not None and cancel.annotations == {"destructiveHint": True}
    assert state.server_version is not None and state.server_version.startswith("demo")
    assert state.instructions


def test_a_server_whose_command_does_not_exist_fails_while_the_others_connect(
    portal: BlockingPortal, hub: Hub
) -> None:
    missing = hub.servers["missing"]
    assert missing.status == "failed" and missing.tools == []
    assert missing.error is not None and "codemode-no-such-server" in missing.error
    assert hub.servers["demo"].status == "connected"
    assert hub.servers["clock"].status == "connected"
    result = call(portal, hub, "missing", "anything", {})
    assert not result.ok and isinstance(result.error, ServerCrashedError)
    assert result.error.server == "missing"


def test_a_server_that_exits_during_startup_reports_its_stderr(hub: Hub) -> None:
    broken = hub.servers["broken"]
    assert broken.status == "failed"
    assert broken.error is not None and STDERR_LINE in broken.error


def test_mode_auto_also_connects_to_the_demo(portal: BlockingPortal, demo_env: dict[str, str]) -> None:
    hub, task = serve(portal, config({"demo": demo_server(demo_env, mode="auto")}))
    try:
        state = hub.servers["demo"]
        assert state.status == "connected", state.error
        assert len(state.tools) == DEMO_TOOLS
        result = call(portal, hub, "demo", "get_order", {"order_id": 1001})
        assert result.ok and result.payload is not None
        assert result.payload["value"]["id"] == 1001
    finally:
        close(portal, hub, task)


# -- calling ---------------------------------------------------------------------------------


def test_a_list_result_comes_back_unwrapped_from_its_structured_envelope(portal: BlockingPortal, hub: Hub) -> None:
    result = call(portal, hub, "demo", "list_orders", {"status": "open"})
    assert result.ok and result.error is None and result.payload is not None
    assert result.payload["kind"] == "json"
    orders = result.payload["value"]
    assert isinstance(orders, list) and orders
    assert {order["status"] for order in orders} == {"open"}
    assert result.result_bytes > 0


def test_a_tool_error_comes_back_as_an_upstream_error(portal: BlockingPortal, hub: Hub) -> None:
    result = call(portal, hub, "demo", "get_customer", {"customer_id": 999})
    assert not result.ok and isinstance(result.error, UpstreamError)
    assert result.error.code == "UPSTREAM_ERROR"
    assert (result.error.server, result.error.tool) == ("demo", "get_customer")
    assert "999" in result.error.problem and not result.error.problem.startswith("Error executing tool")


def test_a_call_to_a_server_the_config_does_not_name_is_an_unknown_tool(portal: BlockingPortal, hub: Hub) -> None:
    result = call(portal, hub, "nowhere", "list_orders", {})
    assert not result.ok and isinstance(result.error, UnknownToolError)
    assert (result.error.server, result.error.tool, result.error.code) == ("nowhere", "list_orders", "UNKNOWN_TOOL")


def test_the_time_server_tells_the_time_in_utc(portal: BlockingPortal, hub: Hub) -> None:
    state = hub.servers["clock"]
    assert {tool.name for tool in state.tools} == {"get_current_time", "convert_time"}
    result = call(portal, hub, "clock", "get_current_time", {"timezone": "UTC"})
    assert result.ok and result.payload is not None, result.error
    value = result.payload["value"]
    assert value["timezone"] == "UTC"
    assert value["datetime"].endswith("+00:00")


def test_progress_notifications_reach_the_calls_callback_in_order(portal: BlockingPortal, hub: Hub) -> None:
    progress: list[tuple[float, float | None, str | None]] = []
    result = call(portal, hub, "demo", "build_report", {"steps": 3},
                  on_progress=lambda done, total, message: progress.append((done, total, message)))
    assert result.ok
    assert progress == [(1, 3, "step 1 of 3"), (2, 3, "step 2 of 3"), (3, 3, "step 3 of 3")]


def test_log_messages_reach_the_call_in_flight_and_the_servers_log(portal: BlockingPortal, hub: Hub) -> None:
    records: list[LogRecord] = []
    result = call(portal, hub, "demo", "audit_inventory", {}, on_log=records.append)
    assert result.ok
    assert [r.level for r in records] == ["info", "warning", "warning", "warning", "warning", "info"]
    assert {r.server for r in records} == {"demo"} and {r.logger for r in records} == {"demo"}
    assert records[0].data == "auditing stock of 10 products"
    assert list(hub.servers["demo"].log)[-len(records):] == records


def test_a_call_past_its_timeout_is_a_tool_timeout_and_the_server_stays_usable(
    portal: BlockingPortal, hub: Hub
) -> None:
    result = call(portal, hub, "demo", "build_report", {"steps": 50}, timeout=0.05)  # 50 steps of 10 ms
    assert not result.ok and isinstance(result.error, ToolTimeoutError)
    assert (result.error.server, result.error.tool, result.error.code) == ("demo", "build_report", "TIMEOUT")
    assert hub.servers["demo"].status == "connected"
    assert call(portal, hub, "demo", "list_notes", {}).ok


def test_the_demo_over_streamable_http_answers_calls(portal: BlockingPortal, demo_http_url: str) -> None:
    cfg = parse_config({"mcpServers": {"shop": {"url": demo_http_url}}}, source=None, environ={})
    hub, task = serve(portal, cfg)
    try:
        state = hub.servers["shop"]
        assert state.status == "connected", state.error
        assert state.transport == "http" and len(state.tools) == DEMO_TOOLS
        result = call(portal, hub, "shop", "list_orders", {"limit": 3})
        assert result.ok and result.payload is not None
        assert [order["id"] for order in result.payload["value"]] == [1001, 1002, 1003]
    finally:
        close(portal, hub, task)


# -- servers that go away ---------------------------------------------------------------------


def test_a_server_killed_mid_session_fails_one_call_then_is_reconnected(
    portal: BlockingPortal, demo_env: dict[str, str], tmp_path: Path, process_exited: Callable[[int, float], bool]
) -> None:
    pid_file = tmp_path / "demo.pid"
    hub, task = serve(portal, Config(servers={"victim": pid_file_server(demo_env, pid_file)}))
    try:
        assert call(portal, hub, "victim", "list_notes", {}).ok
        pid = read_pid(pid_file)
        os.kill(pid, signal.SIGKILL)
        assert process_exited(pid, EXIT_WAIT)
        result = call(portal, hub, "victim", "list_notes", {})
        assert not result.ok and isinstance(result.error, ServerCrashedError)
        assert result.error.server == "victim" and result.error.code == "SERVER_CRASHED"
        assert hub.servers["victim"].status == "crashed"
        again = call(portal, hub, "victim", "list_notes", {})  # a fresh server process answers
        assert again.ok, again.error
        assert hub.servers["victim"].status == "connected"
        assert read_pid(pid_file) != pid
    finally:
        close(portal, hub, task)


def test_closing_the_hub_leaves_no_server_process_behind(
    portal: BlockingPortal, demo_env: dict[str, str], tmp_path: Path, process_exited: Callable[[int, float], bool]
) -> None:
    pid_file = tmp_path / "demo.pid"
    hub, task = serve(portal, Config(servers={"demo": pid_file_server(demo_env, pid_file)}))
    assert call(portal, hub, "demo", "list_notes", {}).ok
    pid = read_pid(pid_file)
    close(portal, hub, task)
    assert hub.servers["demo"].status == "closed"
    assert process_exited(pid, EXIT_WAIT)
    after = call(portal, hub, "demo", "list_notes", {})
    assert isinstance(after.error, ServerCrashedError)
