"""`codemode serve --transport http`: sessions by Mcp-Session-Id, isolation, reclaim, limits, token, health."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from _serving import HttpServer, codemode_test, start_http, worker_pids, write_config

MIME = "application/vnd.codemode.run+json"
RECLAIM_WAIT = 30.0
"""Seconds to wait for an idle session's worker to be reclaimed (idle 1 s, swept every 0.25 s)."""


@pytest.fixture(scope="module")
def server(demo_config_file: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[HttpServer]:
    yield from start_http(demo_config_file, "--record", str(tmp_path_factory.mktemp("transcripts")))


@pytest.fixture(scope="module")
def limited(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HttpServer]:
    config = write_config(tmp_path_factory.mktemp("limits") / "mcp.json", {
        "maxCodeChars": 300, "maxExecutes": 3, "maxSessionToolCalls": 3, "maxSessions": 2, "poolSize": 1,
        "cellTimeout": 5})
    yield from start_http(config)


def _text(result: Any) -> str:
    return "\n".join(block.text for block in result.content if block.type == "text")


def test_over_http_state_persists_within_a_session(server: HttpServer) -> None:
    async def scenario(client: Any) -> list[Any]:
        return [await client.call_tool("execute", {"code": code}) for code in
                ("n = len(demo.list_customers())", "n * 2")]

    first, second = server.run(scenario)
    assert not first.is_error and not second.is_error, _text(second)
    assert len(first.structured_content["calls"]) == 1 and second.structured_content["calls"] == []
    assert isinstance(second.structured_content["result"], int) and second.structured_content["result"] > 0


def test_two_sessions_never_see_each_others_variables_files_or_calls(server: HttpServer) -> None:
    async def scenario(a: Any, b: Any) -> dict[str, Any]:
        import anyio

        seen: dict[str, Any] = {}

        async def session_a() -> None:
            seen["a1"] = await a.call_tool("execute", {"code": (
                "secret = 'only-a'\nopen('a.txt', 'w').write('from a')\ndemo.get_customer(customer_id=1)['id']")})
            seen["a2"] = await a.call_tool("execute", {"code": "import os\nsecret, sorted(os.listdir('.'))"})

        async def session_b() -> None:
            seen["b1"] = await b.call_tool("execute", {"code": (
                "import os\n'secret' in globals(), os.path.exists('a.txt'), sorted(os.listdir('.'))")})
            seen["b2"] = await b.call_tool("execute", {"code": "demo.list_products(category='tea')\n'secret' in dir()"})

        async with anyio.create_task_group() as tg:
            tg.start_soon(session_a)
            tg.start_soon(session_b)
        return seen

    seen = server.run(scenario, clients=2)
    assert seen["a2"].structured_content["result"] == ["only-a", ["a.txt"]]
    assert seen["b1"].structured_content["result"] == [False, False, []]
    assert seen["b2"].structured_content["result"] is False
    assert [c["tool"] for c in seen["a1"].structured_content["calls"]] == ["get_customer"]
    assert [c["tool"] for c in seen["b2"].structured_content["calls"]] == ["list_products"]
    # Each session's transcript cassette holds its own calls, none of the other's.
    record = Path(server.process.args[server.process.args.index("--record") + 1])  # type: ignore[index,union-attr]
    tools = {}
    for notebook in record.glob("*.ipynb"):
        text = notebook.read_text(encoding="utf-8")
        owner = "a" if "only-a" in text else "b" if "'secret' in dir()" in text else None
        if owner:
            cassette = notebook.with_name(notebook.stem + ".cassette.jsonl").read_text(encoding="utf-8")
            tools[owner] = [json.loads(line)["tool"] for line in cassette.splitlines() if '"kind": "call"' in line]
    assert tools == {"a": ["get_customer"], "b": ["list_products"]}


def test_each_session_is_recorded_as_a_notebook_that_nbformat_validates(server: HttpServer, tmp_path: Path) -> None:
    import nbformat

    async def scenario(client: Any) -> None:
        await client.call_tool("search", {"query": "customers"})
        await client.call_tool("execute", {"code": "rows = demo.list_customers(country='DE')\nprint(len(rows))"})
        await client.call_tool("execute", {"code": "rows[0]['nope']"})
        await client.call_tool("execute", {"code": "input['x'] + 1", "input": {"x": 41}})

    server.run(scenario)
    record = Path(server.process.args[server.process.args.index("--record") + 1])  # type: ignore[index,union-attr]
    notebooks = sorted(record.glob("*.ipynb"), key=lambda p: p.stat().st_mtime)
    assert notebooks
    notebook = nbformat.read(notebooks[-1], as_version=4)
    nbformat.validate(notebook)
    sources = [cell.source for cell in notebook.cells]
    assert sources[1].startswith("%load_ext codemode\n%config CodeModeMagics.config_file")
    assert sources[2].startswith("**search** `customers`") and "`demo.list_customers`" in sources[2]
    assert sources[3] == "%%codemode\nrows = demo.list_customers(country='DE')\nprint(len(rows))"
    assert sources[5] == "input = {'x': 41}" and sources[6] == "%%codemode --in input\ninput['x'] + 1"
    outputs = notebook.cells[3].outputs
    assert outputs[0].output_type == "stream" and outputs[0].name == "stdout"
    assert "application/vnd.codemode.run+json" in outputs[1].data
    assert notebook.cells[4].outputs[-1].output_type == "error"
    assert notebook.cells[4].outputs[-1].ename == "KeyError"


def test_a_transcript_re_runs_in_a_kernel_with_the_same_outputs(server: HttpServer) -> None:
    import nbformat
    from nbclient import NotebookClient

    async def scenario(client: Any) -> None:
        await client.call_tool("execute", {"code": "names = [c['name'] for c in demo.list_customers(country='DE')]"})
        await client.call_tool("execute", {"code": "print(len(names))\nsorted(names)[:2]"})

    server.run(scenario)
    record = Path(server.process.args[server.process.args.index("--record") + 1])  # type: ignore[index,union-attr]
    path = max(record.glob("*.ipynb"), key=lambda p: p.stat().st_mtime)
    saved = nbformat.read(path, as_version=4)
    again = nbformat.read(path, as_version=4)
    NotebookClient(again, timeout=120, kernel_name="python3").execute()
    for before, after in zip(saved.cells[2:], again.cells[2:]):
        assert [o.get("text") for o in before.outputs if o.output_type == "stream"] == \
            [o.get("text") for o in after.outputs if o.output_type == "stream"]
        shown = [o.data[MIME] for o in before.outputs if o.output_type == "display_data"]
        assert shown == [o.data[MIME] for o in after.outputs if o.output_type == "display_data"]


def test_health_reports_the_servers_the_pool_and_the_sessions(server: HttpServer) -> None:
    server.run(lambda client: client.call_tool("execute", {"code": "1"}))  # an execute waits for every server
    health = _get(server.url.replace("/mcp", "/health"))
    assert health["status"] == "ok"
    assert health["servers"]["demo"]["status"] == "connected" and health["servers"]["demo"]["tools"] > 5
    assert health["pool"]["size"] == 2
    assert "command" not in json.dumps(health) and "env" not in health["servers"]["demo"]


def test_a_request_with_a_foreign_host_header_is_refused(server: HttpServer) -> None:
    request = urllib.request.Request(server.url, data=b"{}", method="POST",
                                     headers={"Host": "evil.example:80", "Content-Type": "application/json",
                                              "Accept": "application/json, text/event-stream"})
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=30)
    refused.value.close()
    assert refused.value.code == 421


def test_a_session_idle_past_session_idle_loses_its_worker_and_is_told_so(tmp_path: Path) -> None:
    config = write_config(tmp_path / "mcp.json", {"sessionIdle": 1, "poolSize": 0})
    for server in start_http(config, "--record", str(tmp_path / "record")):
        _wait_until_ok(server)  # the root session's own worker has started: it is not this session's
        before = worker_pids(server.process.pid)

        async def scenario(client: Any) -> dict[str, Any]:
            import anyio

            first = await client.call_tool("execute", {"code": "x = 1"})
            mine = worker_pids(server.process.pid) - before
            with anyio.fail_after(RECLAIM_WAIT):
                while mine & worker_pids(server.process.pid):
                    await anyio.sleep(0.1)
            after = await client.call_tool("execute", {"code": "'x' in globals()"})
            return {"first": first, "mine": mine, "after": after}

        seen = server.run(scenario)
        assert len(seen["mine"]) == 1  # the session's own worker, gone from /proc once reclaimed
        after = seen["after"]
        assert not after.is_error
        assert after.structured_content["result"] is False
        assert after.structured_content["stateLost"] is True
        assert "idle" in after.structured_content["notice"] and "idle" in _text(after)
    (transcript,) = (tmp_path / "record").glob("*.ipynb")
    sources = [cell["source"] for cell in json.loads(transcript.read_text(encoding="utf-8"))["cells"]]
    assert sources[-3:] == ["%%codemode\nx = 1", "%codemode reset", "%%codemode\n'x' in globals()"]
    rerun = codemode_test(transcript)  # from its cassette: the variable is lost where the agent lost it
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr


def test_limits_are_refused_as_error_results_with_their_codes(limited: HttpServer) -> None:
    async def scenario(client: Any) -> dict[str, Any]:
        seen = {}
        seen["long"] = await client.call_tool("execute", {"code": "x = 1\n" * 100})
        seen["bad_timeout"] = await client.call_tool("execute", {"code": "1", "timeout": -1})
        seen["capped"] = await client.call_tool("execute", {"code": "demo.list_customers()\nlen(demo.list_products())"})
        seen["cut"] = await client.call_tool("execute", {"code": "for _ in range(3): demo.list_customers()"})
        # The session's 3 tool calls are used up: its code still runs, only a tool call is refused.
        seen["session_calls"] = await client.call_tool("execute", {"code": (
            "try:\n    demo.list_customers()\nexcept ToolError as e:\n    print(e.code)\n1")})
        return seen

    seen = limited.run(scenario)
    assert _code(seen["long"]) == "MAX_CODE_CHARS" and seen["long"].is_error
    assert _code(seen["bad_timeout"]) == "INVALID_ARGUMENTS"
    assert not seen["capped"].is_error
    cut = seen["cut"].structured_content
    assert [c["errorCode"] for c in cut["calls"]] == [None, "MAX_TOOL_CALLS"]  # 3 calls per session: 1 was left
    ran = seen["session_calls"].structured_content
    assert ran["ok"] and ran["result"] == 1 and ran["stdout"] == "MAX_TOOL_CALLS\n"


def test_a_session_past_max_executes_is_refused(limited: HttpServer) -> None:
    async def scenario(client: Any) -> list[Any]:
        return [await client.call_tool("execute", {"code": "1"}) for _ in range(4)]

    results = limited.run(scenario)
    assert [r.is_error for r in results] == [False, False, False, True]
    assert _code(results[-1]) == "MAX_EXECUTES"


def test_concurrent_executes_of_one_session_cannot_pass_its_limits(limited: HttpServer) -> None:
    # Six at once, each making three calls: the limits are reserved under the session's lock,
    # so no more than maxExecutes (3) run and no more than maxSessionToolCalls (3) calls go out.
    async def scenario(client: Any) -> list[Any]:
        import anyio

        results: list[Any] = []

        async def one() -> None:
            results.append(await client.call_tool("execute", {"code": "for _ in range(3): demo.list_customers()"}))

        async with anyio.create_task_group() as tg:
            for _ in range(6):
                tg.start_soon(one)
        return results

    results = limited.run(scenario)
    ran = [r for r in results if _code(r) not in ("MAX_EXECUTES", "MAX_SESSION_TOOL_CALLS")]
    made = [c for r in ran for c in r.structured_content["calls"] if c["errorCode"] is None]
    assert len(results) == 6 and 1 <= len(ran) <= 3, [_text(r) for r in results]
    assert len(made) == 3, [_text(r) for r in results]  # the first run's three, no more


def test_a_third_session_with_a_worker_is_refused_past_max_sessions(limited: HttpServer) -> None:
    async def scenario(a: Any, b: Any, c: Any) -> list[Any]:
        return [await client.call_tool("execute", {"code": "1"}) for client in (a, b, c)]

    results = limited.run(scenario, clients=3)
    assert [r.is_error for r in results] == [False, False, True]
    assert _code(results[-1]) == "MAX_SESSIONS"
    # Those sessions ended (the clients closed them): a new one gets a worker again.
    assert not limited.run(lambda client: client.call_tool("execute", {"code": "1"})).is_error


def test_meta_limits_narrow_a_request_but_never_widen_it(limited: HttpServer) -> None:
    async def scenario(client: Any) -> list[Any]:
        narrowed = await client.call_tool("execute", {"code": "demo.list_customers()"},
                                          meta={"codemode/limits": {"maxToolCalls": 0}})
        unknown = await client.call_tool("execute", {"code": "1"}, meta={"codemode/limits": {"servers": ["nope"]}})
        return [narrowed, unknown]

    narrowed, unknown = limited.run(scenario)
    assert narrowed.is_error and narrowed.structured_content["calls"][0]["errorCode"] == "MAX_TOOL_CALLS"
    assert _code(unknown) == "INVALID_ARGUMENTS"


def test_with_a_token_requests_without_it_get_401_and_health_says_only_ok(tmp_path: Path) -> None:
    config = write_config(tmp_path / "mcp.json", {"poolSize": 0})
    for server in start_http(config, "--allow-host", "proxy.example", env={"CODEMODE_SERVE_TOKEN": "s3cret-token"}):
        request = urllib.request.Request(server.url, data=b"{}", method="POST",
                                         headers={"Content-Type": "application/json"})
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(request, timeout=30)
        refused.value.close()
        assert refused.value.code == 401
        health = server.url.replace("/mcp", "/health")
        _wait_until_ok(server)
        assert _get(health) == {"status": "ok"}  # the status word only: no server names without the token
        assert "servers" in _get(health, {"Authorization": "Bearer s3cret-token"})
        # --allow-host: the public name a proxy in front passes on is accepted, others are not.
        assert "servers" in _get(health, {"Authorization": "Bearer s3cret-token", "Host": "proxy.example"})
        with pytest.raises(urllib.error.HTTPError) as foreign:
            _get(health, {"Authorization": "Bearer s3cret-token", "Host": "other.example"})
        foreign.value.close()
        assert foreign.value.code == 421
        server.token = "s3cret-token"
        result = server.run(lambda client: client.call_tool("execute", {"code": "6 * 7"}))
        assert result.structured_content["result"] == 42


def test_half_open_connections_before_the_token_do_not_keep_the_token_holder_out(tmp_path: Path) -> None:
    # 1,100 clients that connect and never finish their headers, against a server started
    # with 1,024 descriptors: it raises its limit, caps connections and closes late ones.
    import socket

    config = write_config(tmp_path / "mcp.json", {"poolSize": 0})
    for server in start_http(config, env={"CODEMODE_SERVE_TOKEN": "s3cret-token"}, soft_files=1024):
        server.token = "s3cret-token"
        host, port = server.url.split("/")[2].split(":")
        idle: list[socket.socket] = []
        try:
            for _ in range(1100):
                sock = socket.create_connection((host, int(port)), timeout=30)
                sock.sendall(f"POST /mcp HTTP/1.1\r\nHost: {host}:{port}\r\n".encode())  # never the blank line
                idle.append(sock)
            result = server.run(lambda client: client.call_tool("execute", {"code": "6 * 7"}))
            assert not result.is_error and result.structured_content["result"] == 42
            # And the server closes a connection whose headers are late (the evidence: EOF).
            idle[-1].settimeout(120)
            assert idle[-1].recv(1024) == b""
        finally:
            for sock in idle:
                sock.close()


def test_a_non_loopback_address_without_a_token_is_refused(tmp_path: Path) -> None:
    import subprocess
    import sys

    config = write_config(tmp_path / "mcp.json")
    done = subprocess.run([sys.executable, "-m", "codemode", "serve", "--config", str(config), "--transport", "http",
                           "--host", "0.0.0.0"], capture_output=True, text=True, timeout=120,
                          env={k: v for k, v in __import__("os").environ.items() if k != "CODEMODE_SERVE_TOKEN"})
    assert done.returncode == 2
    assert "--token" in done.stderr


def _code(result: Any) -> str | None:
    error = result.structured_content.get("error") or {}
    return error.get("code")


def _wait_until_ok(server: HttpServer) -> None:
    """Until /health says every server is connected (they connect behind the first answers)."""
    import time

    deadline = time.monotonic() + RECLAIM_WAIT
    while _get(server.url.replace("/mcp", "/health"))["status"] != "ok" and time.monotonic() < deadline:
        time.sleep(0.05)


def _get(url: str, headers: dict[str, str] | None = None) -> Any:
    with urllib.request.urlopen(urllib.request.Request(url, headers=headers or {}), timeout=30) as response:
        return json.loads(response.read())


@pytest.mark.parametrize(("flags", "said"), [
    (["--port", "99999"], "codemode: --port 99999 is not a port: give 1-65535, or 0 for any free one"),
    (["--host", "256.1.1.1", "--token", "t"], "codemode: cannot listen on 256.1.1.1:8765: "),
    (["--port", "{taken}"], "codemode: cannot listen on 127.0.0.1:{taken}: Address already in use; "),
])
def test_an_address_it_cannot_listen_on_is_one_line_and_status_2(tmp_path: Path, flags: list[str], said: str) -> None:
    import socket
    import subprocess
    import sys

    config = write_config(tmp_path / "mcp.json")
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        taken = str(holder.getsockname()[1])
        done = subprocess.run([sys.executable, "-m", "codemode", "serve", "--config", str(config), "--transport", "http",
                               *[flag.format(taken=taken) for flag in flags]], capture_output=True, text=True, timeout=120)
    assert done.returncode == 2, done.stderr
    assert done.stderr.startswith(said.format(taken=taken)), done.stderr
    assert "Traceback" not in done.stderr


def test_ctrl_c_stops_the_server_soon_though_an_execute_runs_and_leaves_no_worker(tmp_path: Path) -> None:
    import signal
    import threading
    import time

    from _helpers import wait_until
    from proctable import start_time

    config = write_config(tmp_path / "mcp.json")
    for server in start_http(config):
        running = threading.Event()

        async def long_execute(client: Any) -> None:
            running.set()
            await client.call_tool("execute", {"code": "import time\ntime.sleep(60)"})

        caller = threading.Thread(target=lambda: _swallow(server.run, long_execute), daemon=True)
        caller.start()
        wait_until(running.is_set, "the client's execute")
        wait_until(lambda: worker_pids(server.process.pid), "a worker")
        time.sleep(1)  # the execute is running in it
        workers = worker_pids(server.process.pid)
        started = time.monotonic()
        server.process.send_signal(signal.SIGINT)
        assert server.process.wait(timeout=30) == 130
        assert time.monotonic() - started < 15  # uvicorn's 5 s grace, then the run is interrupted
        wait_until(lambda: all(start_time(pid) is None for pid in workers), "the workers' end", timeout=10)
        caller.join(timeout=30)


def _swallow(run: Any, scenario: Any) -> None:
    try:
        run(scenario)
    except BaseException:  # noqa: BLE001 - the server went away under the call: expected here
        pass
