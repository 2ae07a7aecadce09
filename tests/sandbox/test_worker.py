"""The sandbox worker, driven through its host-side `Sandbox` on the hub's loop.

A real worker subprocess runs every cell. Tool calls reach a small async `on_call` handler,
the seam where the session plugs in the policy and the hub; here it answers from a fake
server, `fake`, whose tools echo their arguments.
"""

from __future__ import annotations

import functools
import signal
import struct
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from pathlib import Path
from typing import Any

import anyio
import pytest
from anyio.from_thread import BlockingPortal

from codemode.sandbox import CallRequest, CellOutcome, Sandbox, _proctable
from codemode.sandbox._frames import MAX_WORKER_FRAME

WAIT = 30.0
"""Seconds any single cell or event may take before a test gives up: generous, never reached."""
SETUP: dict[str, Any] = {
    "servers": {
        "fake": {
            "name": "fake-server",
            "tools": [
                {
                    "name": "echo",
                    "mcp": "echo",
                    "schema": {"type": "object", "properties": {"x": {"type": "integer"}}, "required": ["x"]},
                    "signature": "echo(x: int)",
                },
                {
                    "name": "store",
                    "mcp": "store",
                    "schema": {"type": "object", "properties": {"data": {"type": "string"}}, "required": ["data"]},
                    "signature": "store(data: str)",
                },
            ],
        }
    },
    "sys_path": [],
}
SPAWN = "import subprocess, sys\nsubprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)']).pid"
"""A cell that starts a long-lived child process and gives its pid."""


def host_pid(sandbox: Sandbox, inner: int) -> int:
    """The host's pid of a process the cell names by its pid in the worker's PID namespace."""
    if not any(row["layer"] == "pid namespace" and row["active"] for row in sandbox.isolation):
        return inner
    assert sandbox.pid is not None
    found = _proctable.host_pid(sandbox.pid, inner)
    assert found is not None, f"no process {inner} in the worker's group"
    return found


FRAME_API = "import sys\nwfd = sys.modules['codemode.sandbox._api']._channel._wfd\n"


async def echo(request: CallRequest) -> dict[str, Any]:
    """The fake server: `echo` returns its `x`, `store` the length of its `data`; no other tools."""
    if request.tool == "echo":
        return {"ok": True, "value": {"kind": "json", "value": request.arguments["x"]}}
    if request.tool == "store":
        return {"ok": True, "value": {"kind": "json", "value": len(request.arguments["data"])}}
    return {"ok": False, "error": {"code": "UNKNOWN_TOOL", "message": f"no tool {request.tool!r}"}}


class Streams:
    """An `on_stream` that keeps what a cell writes, in arrival order."""

    def __init__(self) -> None:
        self.chunks: list[tuple[str, str]] = []

    def __call__(self, name: str, text: str) -> None:
        self.chunks.append((name, text))

    def text(self, name: str = "stdout") -> str:
        return "".join(text for stream, text in self.chunks if stream == name)


class StreamsUntil(Streams):
    """Streams that set `arrived` once `marker` is in the output (the loop calls, a test waits)."""

    def __init__(self, marker: str) -> None:
        super().__init__()
        self.marker = marker
        self.arrived = threading.Event()

    def __call__(self, name: str, text: str) -> None:
        super().__call__(name, text)
        if self.marker in self.text(name):
            self.arrived.set()


class Recorder:
    """An `on_call` that answers as `echo` does and keeps every request it was given."""

    def __init__(self) -> None:
        self.calls: list[CallRequest] = []

    async def __call__(self, request: CallRequest) -> dict[str, Any]:
        self.calls.append(request)
        return await echo(request)


@pytest.fixture
def sandbox(portal: BlockingPortal) -> Iterator[Sandbox]:
    box = Sandbox(SETUP)
    portal.call(box.start)
    try:
        yield box
    finally:
        portal.call(box.aclose)


def run(
    portal: BlockingPortal,
    sandbox: Sandbox,
    code: str,
    *,
    on_call: Any = echo,
    on_stream: Any = None,
    timeout: float = WAIT,
) -> CellOutcome:
    return portal.call(functools.partial(
        sandbox.run, code, on_call=on_call, on_stream=on_stream or Streams(), timeout=timeout
    ))


def start_run(portal: BlockingPortal, sandbox: Sandbox, code: str, *, on_stream: Any) -> Future[CellOutcome]:
    cell = functools.partial(sandbox.run, code, on_call=echo, on_stream=on_stream, timeout=WAIT)
    return portal.start_task_soon(cell)


def frame(body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + body


# -- cells, values and output ----------------------------------------------------------------


def test_variables_live_on_from_one_cell_to_the_next(portal: BlockingPortal, sandbox: Sandbox) -> None:
    assert run(portal, sandbox, "x = 20\ndef double(n):\n    return 2 * n").ok
    outcome = run(portal, sandbox, "double(x) + 2")
    assert outcome.ok
    assert outcome.result == {"kind": "json", "value": 42}


def test_the_last_expression_is_the_result_and_a_statement_has_none(portal: BlockingPortal, sandbox: Sandbox) -> None:
    assert run(portal, sandbox, "y = [1, 'two', {'three': 3.0}]\ny").result == {
        "kind": "json",
        "value": [1, "two", {"three": 3.0}],
    }
    assert run(portal, sandbox, "z = 1").result is None


def test_a_value_that_is_not_json_comes_back_as_its_repr(portal: BlockingPortal, sandbox: Sandbox) -> None:
    outcome = run(portal, sandbox, "class Point:\n    def __repr__(self):\n        return 'Point(1, 2)'\nPoint()")
    assert outcome.ok
    assert outcome.result == {"kind": "repr", "text": "Point(1, 2)", "type": "Point"}


def test_printed_lines_arrive_in_order_before_the_cell_is_done(portal: BlockingPortal, sandbox: Sandbox) -> None:
    streams = Streams()
    code = "import sys\nfor i in range(500):\n    print(i)\nprint('oops', file=sys.stderr)\n'end'"
    outcome = run(portal, sandbox, code, on_stream=streams)
    assert outcome.ok and outcome.result == {"kind": "json", "value": "end"}
    # Everything had arrived by the time `run` returned, that is when `done` came.
    assert streams.text("stdout") == "".join(f"{i}\n" for i in range(500))
    assert streams.text("stderr") == "oops\n"


def test_output_written_to_fd_1_below_python_arrives_too(portal: BlockingPortal, sandbox: Sandbox) -> None:
    streams = Streams()
    outcome = run(portal, sandbox, "import os\nos.write(1, b'raw out\\n')\nos.write(2, b'raw err\\n')\nNone",
                  on_stream=streams)
    assert outcome.ok
    assert streams.text("stdout") == "raw out\n"
    assert streams.text("stderr") == "raw err\n"


def test_top_level_await_runs_in_the_cell(portal: BlockingPortal, sandbox: Sandbox) -> None:
    code = "import asyncio\nawait asyncio.sleep(0)\nvalue = await asyncio.gather(*(asyncio.sleep(0, i) for i in range(3)))\nvalue"
    outcome = run(portal, sandbox, code)
    assert outcome.ok
    assert outcome.result == {"kind": "json", "value": [0, 1, 2]}
    assert run(portal, sandbox, "value").result == {"kind": "json", "value": [0, 1, 2]}


@pytest.mark.escape("channel")
def test_a_result_too_large_for_a_frame_comes_back_as_a_cut_repr_and_the_worker_lives(
    portal: BlockingPortal, sandbox: Sandbox
) -> None:
    outcome = run(portal, sandbox, f"big = 'x' * {MAX_WORKER_FRAME + 1}\nbig")
    assert outcome.ok and not outcome.state_lost, outcome.error
    assert outcome.result is not None and outcome.result["kind"] == "repr" and outcome.result["type"] == "str"
    assert outcome.result["text"].startswith("'xxx") and len(outcome.result["text"]) < MAX_WORKER_FRAME // 100
    assert run(portal, sandbox, "len(big)").result == {"kind": "json", "value": MAX_WORKER_FRAME + 1}
    assert sandbox.starts == 1


def test_printing_more_than_a_frame_holds_arrives_whole(portal: BlockingPortal, sandbox: Sandbox) -> None:
    streams = Streams()
    outcome = run(portal, sandbox, f"print('y' * {MAX_WORKER_FRAME + 1}, end='')", on_stream=streams)
    assert outcome.ok and not outcome.state_lost, outcome.error
    text = streams.text("stdout")
    assert len(text) == MAX_WORKER_FRAME + 1 and set(text) == {"y"}
    assert sandbox.starts == 1


# -- errors --------------------------------------------------------------------------------


def test_an_exception_shows_the_cell_and_line_and_hides_the_worker(portal: BlockingPortal, sandbox: Sandbox) -> None:
    run(portal, sandbox, "pass")  # cell numbers count per sandbox: this is cell 1
    outcome = run(portal, sandbox, "def f():\n    return 1 / 0\n\nf()")
    assert not outcome.ok and outcome.error is not None
    assert outcome.error["type"] == "ZeroDivisionError"
    traceback = outcome.error["traceback"]
    assert 'File "<cell 2>", line 4' in traceback
    assert 'File "<cell 2>", line 2, in f' in traceback
    assert "worker.py" not in traceback and "_api.py" not in traceback
    assert not outcome.state_lost


def test_a_cell_run_again_names_itself_in_its_traceback(portal: BlockingPortal, sandbox: Sandbox) -> None:
    # The worker reuses a re-run cell's compiled code (no functions in it): under its own name.
    code = "x = 1\nx / 0"
    first, again = run(portal, sandbox, code), run(portal, sandbox, code)
    assert first.error is not None and again.error is not None
    assert 'File "<cell 1>", line 2' in first.error["traceback"]
    assert 'File "<cell 2>", line 2' in again.error["traceback"]
    # With a function in it, each run compiles afresh: the function's frame names its cell.
    code = "def f():\n    return 1 / 0\nf()"
    run(portal, sandbox, code)
    assert 'File "<cell 4>", line 2, in f' in run(portal, sandbox, code).error["traceback"]


def test_a_syntax_error_is_reported_and_runs_nothing(portal: BlockingPortal, sandbox: Sandbox) -> None:
    outcome = run(portal, sandbox, "ran = True\ndef broken(:\n    pass")
    assert not outcome.ok and outcome.error is not None
    assert outcome.error["type"] == "SyntaxError"
    assert "<cell" in outcome.error["traceback"] and "line 2" in outcome.error["traceback"]
    assert "worker.py" not in outcome.error["traceback"]
    assert run(portal, sandbox, "'ran' in globals()").result == {"kind": "json", "value": False}


# -- isolation -----------------------------------------------------------------------------


def test_the_worker_imports_neither_mcp_nor_pydantic(portal: BlockingPortal, sandbox: Sandbox) -> None:
    code = "import sys\nsorted(m for m in sys.modules if m.split('.')[0] in ('mcp', 'pydantic', 'anyio', 'httpx'))"
    outcome = run(portal, sandbox, code)
    assert outcome.result == {"kind": "json", "value": []}


@pytest.mark.escape("secrets")
def test_the_worker_does_not_inherit_the_hosts_secrets(portal: BlockingPortal, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CODEMODE_TEST_API_TOKEN", "hunter2-secret")
    box = Sandbox(SETUP)
    try:
        outcome = run(portal, box, "import os\n[k for k, v in os.environ.items() if 'TOKEN' in k or 'hunter2' in v]")
        assert outcome.ok
        assert outcome.result == {"kind": "json", "value": []}
    finally:
        portal.call(box.aclose)
    assert not box.workdir.exists()  # its private work directory went with it


# -- time limits and interrupts ---------------------------------------------------------------


@pytest.mark.escape("resources")
def test_a_python_loop_past_its_timeout_is_interrupted_and_keeps_its_variables(
    portal: BlockingPortal, sandbox: Sandbox
) -> None:
    run(portal, sandbox, "kept = 'still here'")
    pid = sandbox.pid
    outcome = run(portal, sandbox, "n = 0\nwhile True:\n    n += 1", timeout=0.2)
    assert outcome.timed_out and not outcome.state_lost and not outcome.ok
    assert outcome.error is not None and outcome.error["code"] == "TIMEOUT"
    assert "<cell" in outcome.error["traceback"]
    after = run(portal, sandbox, "kept, n > 0")
    assert after.result == {"kind": "json", "value": ["still here", True]}
    assert sandbox.pid == pid and sandbox.starts == 1


@pytest.mark.escape("resources")
def test_a_c_level_loop_that_ignores_the_interrupt_is_killed_and_the_next_cell_starts_fresh(
    portal: BlockingPortal, sandbox: Sandbox
) -> None:
    run(portal, sandbox, "kept = 1")
    pid = sandbox.pid
    outcome = run(portal, sandbox, "sum(range(10**13))", timeout=0.2)
    assert outcome.timed_out and outcome.state_lost and not outcome.ok
    assert outcome.error is not None and outcome.error["code"] == "TIMEOUT"
    after = run(portal, sandbox, "'kept' in globals()")
    assert after.result == {"kind": "json", "value": False}
    assert sandbox.pid != pid and sandbox.starts == 2


def test_a_worker_that_exits_is_reported_as_crashed_and_replaced(portal: BlockingPortal, sandbox: Sandbox) -> None:
    run(portal, sandbox, "kept = 1")
    outcome = run(portal, sandbox, "import os\nos._exit(3)")
    assert not outcome.ok and outcome.state_lost and not outcome.timed_out
    assert outcome.error is not None and outcome.error["code"] == "SANDBOX_CRASHED"
    assert "exited with status 3" in outcome.error["message"]
    after = run(portal, sandbox, "'kept' in globals(), 1 + 1")
    assert after.ok and after.result == {"kind": "json", "value": [False, 2]}
    assert sandbox.starts == 2


@pytest.mark.escape("processes")
def test_processes_a_cell_started_do_not_outlive_a_crashed_worker(
    portal: BlockingPortal, process_exited: Callable[[int, float], bool]
) -> None:
    sandbox = Sandbox(SETUP, allow_subprocess=True)
    try:
        child = host_pid(sandbox, run(portal, sandbox, SPAWN).result["value"])  # type: ignore[index]
        outcome = run(portal, sandbox, "import os\nos._exit(3)")
        assert outcome.error is not None and outcome.error["code"] == "SANDBOX_CRASHED"
        assert "exited with status 3" in outcome.error["message"]
        assert run(portal, sandbox, "1").ok
    finally:
        portal.call(sandbox.aclose)
    assert process_exited(child, WAIT)


@pytest.mark.escape("processes")
def test_processes_a_cell_started_end_with_the_sandbox(
    portal: BlockingPortal, process_exited: Callable[[int, float], bool]
) -> None:
    box = Sandbox(SETUP, allow_subprocess=True)
    try:
        child = host_pid(box, run(portal, box, SPAWN).result["value"])  # type: ignore[index]
    finally:
        portal.call(box.aclose)
    assert process_exited(child, WAIT)


@pytest.mark.escape("resources")
def test_interrupt_during_a_sleep_raises_keyboard_interrupt_and_keeps_state(
    portal: BlockingPortal, sandbox: Sandbox
) -> None:
    run(portal, sandbox, "kept = 'yes'")
    streams = StreamsUntil("sleeping")
    code = "import time\nprint('sleeping', flush=True)\ntime.sleep(600)"
    future = start_run(portal, sandbox, code, on_stream=streams)
    assert streams.arrived.wait(WAIT), "the cell never started sleeping"
    portal.call(sandbox.interrupt)
    outcome = future.result(timeout=WAIT)
    assert not outcome.ok and not outcome.timed_out and not outcome.state_lost
    assert outcome.error is not None and outcome.error["type"] == "KeyboardInterrupt"
    assert "<cell" in outcome.error["traceback"]
    assert run(portal, sandbox, "kept").result == {"kind": "json", "value": "yes"}
    assert sandbox.starts == 1


def test_a_cell_stuck_in_a_tool_call_is_interrupted_at_its_timeout_and_the_call_cancelled(
    portal: BlockingPortal, sandbox: Sandbox
) -> None:
    cancelled: list[int] = []

    async def never(request: CallRequest) -> dict[str, Any]:
        if request.arguments.get("x") != 0:
            return await echo(request)
        try:
            await anyio.Event().wait()  # a server that never answers
        except anyio.get_cancelled_exc_class():
            cancelled.append(request.id)
            raise
        raise AssertionError("unreachable")

    run(portal, sandbox, "kept = 'yes'")
    outcome = run(portal, sandbox, "fake.echo(x=0)", on_call=never, timeout=0.2)
    assert outcome.timed_out and not outcome.state_lost
    assert outcome.error is not None and outcome.error["code"] == "TIMEOUT"
    after = run(portal, sandbox, "kept, fake.echo(x=5)", on_call=never)
    assert after.result == {"kind": "json", "value": ["yes", 5]}
    assert len(cancelled) == 1
    assert sandbox.starts == 1


def test_interrupt_during_an_await_leaves_the_cells_event_loop_usable(
    portal: BlockingPortal, sandbox: Sandbox
) -> None:
    streams = StreamsUntil("waiting")
    code = "import asyncio\nkept = 'yes'\nprint('waiting', flush=True)\nawait asyncio.sleep(600)"
    future = start_run(portal, sandbox, code, on_stream=streams)
    assert streams.arrived.wait(WAIT), "the cell never started waiting"
    portal.call(sandbox.interrupt)
    outcome = future.result(timeout=WAIT)
    assert outcome.error is not None and outcome.error["type"] == "KeyboardInterrupt"
    after = run(portal, sandbox, "import asyncio\nawait asyncio.sleep(0)\nkept, await fake.echo.acall(x=3)")
    assert after.ok, after.error
    assert after.result == {"kind": "json", "value": ["yes", 3]}


def test_an_interrupt_while_the_worker_is_idle_has_nothing_to_stop(portal: BlockingPortal, sandbox: Sandbox) -> None:
    run(portal, sandbox, "kept = 'yes'")
    portal.call(sandbox.interrupt)
    outcome = run(portal, sandbox, "kept")
    assert outcome.ok, outcome.error
    assert outcome.result == {"kind": "json", "value": "yes"}
    assert sandbox.starts == 1


# -- the frame channel -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "forged",
    [
        pytest.param(frame(b"this is not json"), id="garbage"),
        pytest.param(struct.pack(">I", 2**31) + b"{}", id="oversized-length"),
        pytest.param(frame(b"\x80\x04\x95\x10\x00\x00\x00\x00\x00\x00\x00\x8c\x02os\x94\x8c\x06system\x94\x93\x94."),
                     id="pickle"),
        pytest.param(frame(b'{"op": "exec", "code": "1"}'), id="unknown-op"),
        pytest.param(frame(b'[1, 2, 3]'), id="not-an-object"),
        pytest.param(frame(b'{"op": "call", "id": "one", "server": "fake", "tool": "echo", "arguments": {}}'),
                     id="malformed-call"),
    ],
)
@pytest.mark.escape("channel")
def test_a_forged_frame_stops_the_worker_and_the_next_cell_gets_a_fresh_one(
    portal: BlockingPortal, sandbox: Sandbox, forged: bytes
) -> None:
    recorder = Recorder()
    run(portal, sandbox, "kept = 1")
    pid = sandbox.pid
    code = FRAME_API + f"import os\nos.write(wfd, {forged!r})\nimport time\ntime.sleep(600)"
    outcome = run(portal, sandbox, code, on_call=recorder)
    assert not outcome.ok and outcome.state_lost
    assert outcome.error is not None and outcome.error["code"] == "SANDBOX_CRASHED"
    assert "bad frame" in outcome.error["message"]
    assert recorder.calls == []
    assert not sandbox.alive
    after = run(portal, sandbox, "'kept' in globals()")
    assert after.ok and after.result == {"kind": "json", "value": False}
    assert sandbox.pid != pid and sandbox.starts == 2


@pytest.mark.escape("channel")
def test_a_call_frame_for_an_unknown_tool_goes_to_the_handler(portal: BlockingPortal, sandbox: Sandbox) -> None:
    recorder = Recorder()
    code = (
        "import sys, codemode\n"
        "channel = sys.modules['codemode.sandbox._api']._channel\n"
        "try:\n"
        "    channel.call('fake', 'rm_rf', {'path': '/'})\n"
        "except codemode.ToolError as exc:\n"
        "    caught = (exc.code, exc.server, exc.tool)\n"
        "caught"
    )
    outcome = run(portal, sandbox, code, on_call=recorder)
    assert outcome.ok
    assert outcome.result == {"kind": "json", "value": ["UNKNOWN_TOOL", "fake", "rm_rf"]}
    assert [(c.server, c.tool, c.arguments) for c in recorder.calls] == [("fake", "rm_rf", {"path": "/"})]
    assert sandbox.starts == 1


# -- tool calls ----------------------------------------------------------------------------


def test_a_blocking_tool_call_sends_its_arguments_and_returns_the_result(
    portal: BlockingPortal, sandbox: Sandbox
) -> None:
    recorder = Recorder()
    outcome = run(portal, sandbox, "fake.echo(x=7) + fake.echo(x=35)", on_call=recorder)
    assert outcome.result == {"kind": "json", "value": 42}
    assert [(c.server, c.tool, c.arguments) for c in recorder.calls] == [
        ("fake", "echo", {"x": 7}),
        ("fake", "echo", {"x": 35}),
    ]
    assert recorder.calls[0].id != recorder.calls[1].id


@pytest.mark.escape("channel")
def test_arguments_too_large_for_a_frame_are_refused_in_the_worker(portal: BlockingPortal, sandbox: Sandbox) -> None:
    recorder = Recorder()
    code = (
        "import codemode\n"
        "try:\n"
        f"    fake.store(data='z' * {MAX_WORKER_FRAME + 1})\n"
        "except codemode.ToolError as exc:\n"
        "    caught = [exc.code, exc.tool]\n"
        "caught, fake.store(data='small')"
    )
    outcome = run(portal, sandbox, code, on_call=recorder)
    assert outcome.ok and not outcome.state_lost, outcome.error
    assert outcome.result == {"kind": "json", "value": [["INVALID_ARGUMENTS", "store"], 5]}
    assert [c.arguments for c in recorder.calls] == [{"data": "small"}]
    assert sandbox.starts == 1


def test_gathered_async_calls_are_all_in_flight_at_once(portal: BlockingPortal, sandbox: Sandbox) -> None:
    waiting: list[int] = []
    gate: list[anyio.Event] = []  # made on the loop, by the first call

    async def held(request: CallRequest) -> dict[str, Any]:
        # No call is answered until all twenty have reached the host.
        if not gate:
            gate.append(anyio.Event())
        waiting.append(request.arguments["x"])
        if len(waiting) == 20:
            gate[0].set()
        await gate[0].wait()
        return await echo(request)

    code = "import asyncio\nawait asyncio.gather(*(fake.echo.acall(x=i) for i in range(20)))"
    outcome = run(portal, sandbox, code, on_call=held)
    assert outcome.ok, outcome.error
    assert outcome.result == {"kind": "json", "value": list(range(20))}
    assert sorted(waiting) == list(range(20))



def test_a_call_handler_that_raises_fails_the_call_not_the_cell(portal: BlockingPortal, sandbox: Sandbox) -> None:
    async def broken(request: CallRequest) -> dict[str, Any]:
        raise RuntimeError("bug in the host")

    code = "from codemode import ToolError\ntry:\n    fake.echo(x=1)\nexcept ToolError as e:\n    r = e.code\nr"
    outcome = run(portal, sandbox, code, on_call=broken)
    assert outcome.ok and outcome.result == {"kind": "json", "value": "INTERNAL"}
    assert run(portal, sandbox, "fake.echo(x=2)").result == {"kind": "json", "value": 2}


def test_only_the_main_thread_of_the_worker_takes_an_interrupt(portal: BlockingPortal, sandbox: Sandbox) -> None:
    # A process's SIGINT goes to any thread that does not block it. Delivered to the stream
    # flusher, it left the main thread asleep in a cell's `await asyncio.sleep(600)` until the
    # cell's time limit (a TIMEOUT where the test above wants KeyboardInterrupt, now and then).
    run(portal, sandbox, "print('the flusher runs', flush=True)")
    pid = sandbox.worker_pid
    assert pid is not None
    blocks = {}  # thread id -> whether it blocks SIGINT
    for task in Path(f"/proc/{pid}/task").iterdir():
        status = dict(line.split(":\t", 1) for line in (task / "status").read_text().splitlines() if ":\t" in line)
        blocks[int(task.name)] = bool(int(status["SigBlk"], 16) & (1 << (signal.SIGINT - 1)))
    assert blocks.pop(pid) is False  # the main thread takes it
    assert blocks and all(blocks.values()), blocks  # the flusher (and any thread of ours) does not
