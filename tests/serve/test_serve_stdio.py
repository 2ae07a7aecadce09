"""`codemode serve` over stdio, through the SDK's own client: one process, one client session."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from _serving import run_stdio


def test_a_client_lists_two_tools_searches_and_keeps_variables_across_executes(demo_config_file: Path) -> None:
    async def scenario(client: Any) -> dict[str, Any]:
        tools = await client.list_tools()
        found = await client.call_tool("search", {"query": "list orders", "detail": "names", "limit": 3})
        first = await client.call_tool("execute", {"code": "orders = demo.list_orders(status='open')\nlen(orders)"})
        second = await client.call_tool("execute", {"code": "sorted(o['id'] for o in orders)[:2]"})
        return {"tools": [t.name for t in tools.tools], "found": found, "first": first, "second": second}

    seen = run_stdio(demo_config_file, scenario)
    assert seen["tools"] == ["search", "execute"]
    assert "demo.list_orders" in seen["found"].structured_content["tools"]
    assert "demo.list_orders" in seen["found"].content[0].text
    first, second = seen["first"], seen["second"]
    assert not first.is_error and first.structured_content["ok"], first.content[0].text
    assert first.structured_content["calls"][0]["server"] == "demo"
    assert first.structured_content["calls"][0]["tool"] == "list_orders"
    assert first.structured_content["calls"][0]["status"] == "ok"
    count = first.structured_content["result"]
    assert isinstance(count, int) and count > 0
    assert "1 tool call" in first.content[0].text
    assert not second.is_error, second.content[0].text
    assert second.structured_content["calls"] == []  # the variable lived on: no new call
    assert len(second.structured_content["result"]) == min(2, count)


def test_a_failing_call_a_timeout_and_an_escape_attempt_come_back_as_errors(demo_config_file: Path) -> None:
    async def scenario(client: Any) -> dict[str, Any]:
        results = {}
        results["failing"] = await client.call_tool("execute", {"code": "demo.get_order(order_id=1)"})
        results["caught"] = await client.call_tool("execute", {"code": (
            "try:\n    demo.get_order(order_id=1)\nexcept ToolError as e:\n    print('caught', e.code)")})
        results["timeout"] = await client.call_tool("execute", {"code": "kept = 7\nwhile True: pass", "timeout": 1})
        results["after"] = await client.call_tool("execute", {"code": "kept"})
        results["socket"] = await client.call_tool("execute", {"code": (
            "import socket\nsocket.create_connection(('127.0.0.1', 9))")})
        results["secret"] = await client.call_tool("execute", {"code": (
            "import os\n'CODEMODE_TEST_SECRET' in os.environ, sorted(os.environ)")})
        results["config"] = await client.call_tool("execute", {"code": f"open({str(demo_config_file)!r}).read()"})
        return results

    import os

    os.environ["CODEMODE_TEST_SECRET"] = "hunter2"  # the server process inherits it; its workers must not
    try:
        seen = run_stdio(demo_config_file, scenario)
    finally:
        del os.environ["CODEMODE_TEST_SECRET"]
    failing = seen["failing"]
    assert failing.is_error
    assert failing.structured_content["error"]["type"] == "ToolError"
    assert failing.structured_content["calls"][0]["errorCode"] == "UPSTREAM_ERROR"
    assert "failed call demo.get_order" in failing.content[0].text
    assert not seen["caught"].is_error and seen["caught"].structured_content["stdout"] == "caught UPSTREAM_ERROR\n"
    timeout = seen["timeout"]
    assert timeout.is_error and timeout.structured_content["error"]["code"] == "TIMEOUT"
    assert "timed out" in timeout.content[0].text
    assert seen["after"].structured_content["result"] == 7  # interrupted, not killed: the variables stay
    assert seen["socket"].is_error
    assert seen["socket"].structured_content["error"]["type"] in ("PermissionError", "OSError")
    flag, names = seen["secret"].structured_content["result"]
    assert flag is False and "PATH" not in names
    assert seen["config"].is_error  # outside the work dir: Landlock hides it, as in a cell


def test_prints_arrive_as_log_messages_and_calls_as_progress_and_input_becomes_a_variable(
        demo_config_file: Path) -> None:
    logs: list[Any] = []
    progress: list[str] = []

    async def scenario(client: Any) -> Any:
        return await client.call_tool("execute", {
            "code": "print('looking up', input['id'])\ndemo.get_order(order_id=input['id'])['id']",
            "input": {"id": 1001}}, progress_callback=_messages(progress))

    result = run_stdio(demo_config_file, scenario, logging_callback=_collect(logs))
    assert not result.is_error, result.content[0].text
    assert result.structured_content["result"] == 1001
    assert progress == ["demo.get_order started", progress[1]] and progress[1].startswith("demo.get_order ok")
    assert {entry.logger for entry in logs} == {"stdout"}
    assert "".join(entry.data for entry in logs) == "looking up 1001\n"  # as the worker flushed it, in pieces


def test_a_2026_request_gets_progress_and_prints_as_progress_when_it_sends_a_token_and_no_log_messages(
        demo_config_file: Path) -> None:
    logs: list[Any] = []
    progress: list[str] = []

    async def scenario(client: Any) -> Any:
        code = "print('hi')\ndemo.get_order(order_id=1001)['id']"
        quiet = await client.call_tool("execute", {"code": code})
        told = await client.call_tool("execute", {"code": code}, progress_callback=_messages(progress))
        return quiet, told

    quiet, told = run_stdio(demo_config_file, scenario, mode="2026-07-28", logging_callback=_collect(logs))
    assert not quiet.is_error and not told.is_error, told.content[0].text
    assert quiet.structured_content["result"] == told.structured_content["result"] == 1001
    # The second call's only: its print as a progress message (the era's logging is deprecated; the
    # print is batched, so it may come after the call's start), and the call's start and end.
    assert len(progress) == 3 and "stdout: hi" in progress, progress
    calls = [message for message in progress if message != "stdout: hi"]
    assert calls[0] == "demo.get_order started" and calls[1].startswith("demo.get_order ok"), progress
    assert logs == []  # no log level in the requests' _meta: the era sends no log messages


def _collect(into: list[Any]) -> Any:
    async def callback(params: Any) -> None:
        into.append(params)

    return callback


def _messages(into: list[str]) -> Any:
    """A progress callback that keeps each notification's message."""
    async def callback(value: float, total: float | None, message: str | None) -> None:
        into.append(message or "")

    return callback


def test_an_execute_returns_figures_as_image_blocks_and_tables_as_text(demo_config_file: Path) -> None:
    async def scenario(client: Any) -> Any:
        return await client.call_tool("execute", {"code": (
            "import matplotlib.pyplot as plt\n"
            "months = demo.sales_summary(group_by='month')['rows']\n"
            "plt.bar([m['key'] for m in months], [m['revenue'] for m in months])\nplt.show()\n"
            "class Table:\n    def _repr_html_(self): return '<table><tr><td>1</td></tr></table>'\n"
            "    def __repr__(self): return 'a | 1'\n"
            "display(Table())\nTable()")})

    result = run_stdio(demo_config_file, scenario)
    assert not result.is_error, result.content[0].text
    text, image, table = result.content
    assert "result: a | 1" in text.text
    assert image.type == "image" and image.mime_type == "image/png" and image.data.startswith("iVBORw0KGgo")
    assert table.type == "text" and table.text == "a | 1"  # the display's text form; no HTML for a model
    assert result.structured_content["result"] == "a | 1"


def test_a_cancelled_execute_interrupts_its_code_and_the_next_one_runs_at_once(demo_config_file: Path) -> None:
    # The SDK's client sends `notifications/cancelled` when the caller gives up on a request;
    # it gives up once the code is seen running (its first printed line), never after a set time.
    running = None

    async def on_log(params: Any) -> None:
        if "running" in str(params.data) and running is not None:
            running.set()

    async def scenario(client: Any) -> dict[str, Any]:
        import anyio

        nonlocal running
        running = anyio.Event()
        async with anyio.create_task_group() as tg:
            async def call() -> None:
                await client.call_tool("execute", {"code": (
                    "import time\nstep = 0\nprint('running', flush=True)\n"
                    "for step in range(600):\n    time.sleep(0.1)")})

            tg.start_soon(call)
            await running.wait()
            tg.cancel_scope.cancel()
        after = await client.call_tool("execute", {"code": "step"})
        return {"after": after}

    seen = run_stdio(demo_config_file, scenario, logging_callback=on_log)
    after = seen["after"]
    assert not after.is_error, after.content[0].text
    assert after.structured_content["result"] < 599  # interrupted, its variables kept, not run to the end


def test_ctrl_c_ends_the_server_at_once_though_its_client_keeps_stdin_open(demo_config_file: Path) -> None:
    # The SDK reads stdin on a thread nothing cancels: before, a Ctrl-C waited for the client
    # to close stdin. Now it is one line and status 130, and the workers end with the server.
    import signal
    import subprocess
    import sys
    import time

    from _helpers import read_until, reap, wait_until
    from _serving import worker_pids
    from proctable import start_time

    server = subprocess.Popen([sys.executable, "-m", "codemode", "serve", "--config", str(demo_config_file)],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert server.stdin is not None and server.stderr is not None
        server.stdin.write(b'{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18",'
                           b'"capabilities":{},"clientInfo":{"name":"t","version":"0"}}}\n')
        server.stdin.flush()
        assert server.stdout is not None and b'"id":1' in server.stdout.readline()
        wait_until(lambda: worker_pids(server.pid), "the warm pool's worker")
        workers = worker_pids(server.pid)
        started = time.monotonic()
        server.send_signal(signal.SIGINT)
        assert server.wait(timeout=10) == 130
        assert time.monotonic() - started < 5
        said = read_until(server.stderr, b"interrupted", 5)
        assert b"codemode: interrupted" in said
        assert b"Warning" not in said, said  # nothing in a client's log but what matters
        wait_until(lambda: all(start_time(pid) is None for pid in workers), "the workers' end", timeout=10)
    finally:
        reap(server)


def test_logging_set_level_is_honoured_stdout_at_info_and_stderr_at_warning(demo_config_file: Path) -> None:
    logs: list[Any] = []

    async def scenario(client: Any) -> Any:
        await client.session.set_logging_level("warning")
        return await client.call_tool("execute", {"code": (
            "import sys\nprint('to stdout', flush=True)\nprint('to stderr', file=sys.stderr, flush=True)\n1")})

    import warnings

    from mcp.shared.exceptions import MCPDeprecationWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MCPDeprecationWarning)  # logging is deprecated in the 2026 era
        result = run_stdio(demo_config_file, scenario, logging_callback=_collect(logs))
    assert not result.is_error and result.structured_content["stdout"] == "to stdout\n"
    assert [(entry.logger, entry.level) for entry in logs] == [("stderr", "warning")]
