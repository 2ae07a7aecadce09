"""`Session.run` end to end: a real worker, real MCP servers, the policy and the trace.

Most tests share one demo session (`demo_session`); those that need other servers open their
own. Expected values come from the demo's own shop, read here in the host.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import os
import signal
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from codemode.config import parse_config
from codemode.demo._shop import Shop
from codemode.engine import Session
from codemode.errors import CodemodeError
from codemode.trace import MIME_TYPE, RunReport, ToolCall

EXIT_WAIT = 30.0
"""Seconds a killed worker may take to be gone."""
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def keys_of(data: Any) -> set[str]:
    """Every key of every object nested in `data`."""
    if isinstance(data, dict):
        return set(data) | {key for value in data.values() for key in keys_of(value)}
    if isinstance(data, list):
        return {key for value in data for key in keys_of(value)}
    return set()


def overlapped(calls: tuple[ToolCall, ...]) -> bool:
    """Whether some call started before another had ended."""
    spans = sorted((c.started, c.started + (c.duration or 0.0)) for c in calls)
    return any(later_start < end for (_, end), (later_start, _) in zip(spans, spans[1:]))


# -- the example from the issue -----------------------------------------------------------------


def test_the_issue_example_reports_its_call_its_output_and_its_result(demo_session: Session) -> None:
    open_orders = Shop().find_orders("open", None, 50)
    report = demo_session.run(
        'orders = demo.list_orders(status="open")\n'
        'total = sum(o["amount"] for o in orders)\n'
        'print(f"{len(orders)} open orders")\n'
        "round(total, 2)"
    )
    assert report.ok and report.error is None
    assert report.stdout == f"{len(open_orders)} open orders\n" and report.stderr == ""
    assert report.value_is_json
    assert report.value == pytest.approx(sum(o.amount for o in open_orders))
    [call] = report.calls
    assert (call.server, call.tool, call.arguments) == ("demo", "list_orders", {"status": "open"})
    assert call.ok and call.status == "ok" and call.result_bytes > 0
    assert call.result is not None and [o["id"] for o in call.result["value"]] == [o.id for o in open_orders]
    assert call.duration is not None and call.duration >= 0
    assert not report.timed_out and not report.state_lost


def test_the_example_runs_the_same_against_the_demo_over_http(demo_http_url: str) -> None:
    config = parse_config({"mcpServers": {"shop": {"url": demo_http_url}}}, source=None, environ={})
    with Session(config) as session:
        assert session.servers["shop"].status == "connected"
        report = session.run('orders = shop.list_orders(status="open")\nlen(orders)')
    assert report.ok, report.error
    assert report.value == len(Shop().find_orders("open", None, 50))
    assert [(c.server, c.tool) for c in report.calls] == [("shop", "list_orders")]
    assert not session.started


def test_variables_of_one_run_are_there_in_the_next(demo_session: Session) -> None:
    demo_session.run("customers = demo.list_customers()")
    report = demo_session.run("len(customers)")
    assert report.value == len(Shop().find_customers())
    assert report.calls == ()


def test_the_camel_case_tool_is_called_by_its_snake_case_name(demo_session: Session) -> None:
    report = demo_session.run('demo.search_products(query="kettle")')
    assert report.ok, report.error
    assert [p["name"] for p in report.value] == [p.name for p in Shop().search_products("kettle", 5)]
    [call] = report.calls
    assert call.tool == "search_products" and call.arguments == {"query": "kettle"}


# -- errors inside the cell -------------------------------------------------------------------


def test_a_tool_error_is_caught_in_the_cell_as_tool_error_with_its_context(demo_session: Session) -> None:
    report = demo_session.run(
        "import codemode\n"
        "try:\n"
        "    demo.get_customer(customer_id=999)\n"
        "except codemode.ToolError as exc:\n"
        "    caught = [exc.code, exc.server, exc.tool, type(exc).__name__]\n"
        "caught"
    )
    assert report.ok, report.error
    assert report.value == ["UPSTREAM_ERROR", "demo", "get_customer", "ToolError"]
    [call] = report.calls
    assert call.ok is False and call.error_code == "UPSTREAM_ERROR" and call.error is not None


def test_an_uncaught_tool_error_fails_the_run_with_its_code(demo_session: Session) -> None:
    report = demo_session.run("demo.get_order(order_id=1)")
    assert not report.ok and report.error is not None
    assert report.error["type"] == "ToolError"
    assert report.error["code"] == "UPSTREAM_ERROR"
    assert (report.error["server"], report.error["tool"]) == ("demo", "get_order")
    assert 'File "<cell' in report.error["traceback"]


def test_invalid_arguments_are_refused_in_the_worker_and_never_reach_the_server(demo_session: Session) -> None:
    report = demo_session.run('demo.list_orders(status="bogus")')
    assert not report.ok and report.error is not None
    assert (report.error["code"], report.error["tool"]) == ("INVALID_ARGUMENTS", "list_orders")
    assert "status" in report.error["message"]
    # An attempt is in the timeline all the same, refused as the worker refused it; nothing was sent.
    (call,) = report.calls
    assert (call.tool, call.arguments, call.error_code) == ("list_orders", {"status": "bogus"}, "INVALID_ARGUMENTS")
    assert call.error == report.error["message"] and call.result is None and call.result_bytes == 0


def test_positional_arguments_are_refused_with_the_signature(demo_session: Session) -> None:
    report = demo_session.run("demo.get_customer(3)")
    assert not report.ok and report.error is not None
    assert report.error["code"] == "INVALID_ARGUMENTS"
    assert "customer_id" in report.error["message"]  # the signature shows how to call it
    (call,) = report.calls
    assert (call.tool, call.error_code, call.result_bytes) == ("get_customer", "INVALID_ARGUMENTS", 0)


def test_an_unknown_tool_is_an_attribute_error_that_suggests_the_right_name(demo_session: Session) -> None:
    report = demo_session.run("demo.get_custmer(customer_id=1)")
    assert not report.ok and report.error is not None
    assert report.error["type"] == "AttributeError"
    assert "'get_customer'" in report.error["message"]
    assert report.calls == ()


def test_a_run_restricted_to_an_unknown_server_raises(demo_session: Session) -> None:
    with pytest.raises(CodemodeError) as caught:
        demo_session.run("x_never_set = 1", servers=["nope"])
    assert "nope" in str(caught.value)
    assert demo_session.run("'x_never_set' in globals()").value is False


def test_a_server_left_out_of_the_run_is_refused_inside_the_cell(demo_env: dict[str, str]) -> None:
    config = parse_config({"mcpServers": {
        "demo": {"command": sys.executable, "args": ["-m", "codemode.demo"], "env": demo_env},
        "clock": {"command": sys.executable, "args": ["-m", "mcp_server_time", "--local-timezone", "UTC"]},
    }}, source=None, environ={})
    with Session(config) as session:
        refused = session.run(
            "import codemode\n"
            "try:\n"
            "    demo.list_orders()\n"
            "except codemode.ToolError as exc:\n"
            "    code = exc.code\n"
            'now = clock.get_current_time(timezone="UTC")\n'
            "code, now['timezone']",
            servers=["clock"],
        )
        allowed = session.run("len(demo.list_notes())")
    assert refused.ok, refused.error
    assert refused.value == ["SERVER_NOT_ALLOWED", "UTC"]
    assert [(c.server, c.tool, c.ok, c.error_code) for c in refused.calls] == [
        ("demo", "list_orders", False, "SERVER_NOT_ALLOWED"),
        ("clock", "get_current_time", True, None),
    ]
    assert refused.calls[0].result_bytes == 0  # it never reached the server
    assert allowed.ok and allowed.value == len(Shop().notes)


def test_the_host_checks_a_call_the_worker_did_not_check(demo_session: Session) -> None:
    # Cell code can reach the channel itself; the host validates every call again.
    report = demo_session.run(
        "import sys, codemode\n"
        "channel = sys.modules['codemode.sandbox._api']._channel\n"
        "codes = []\n"
        "for server, tool, arguments in [('demo', 'list_orders', {'status': 'bogus'}),\n"
        "                                 ('demo', 'drop_tables', {}), ('nope', 'list_orders', {})]:\n"
        "    try:\n"
        "        channel.call(server, tool, arguments)\n"
        "    except codemode.ToolError as exc:\n"
        "        codes.append(exc.code)\n"
        "codes"
    )
    assert report.ok, report.error
    assert report.value == ["INVALID_ARGUMENTS", "UNKNOWN_TOOL", "UNKNOWN_TOOL"]
    assert [(c.server, c.tool, c.error_code) for c in report.calls] == [
        ("demo", "list_orders", "INVALID_ARGUMENTS"),
        ("demo", "drop_tables", "UNKNOWN_TOOL"),
        ("nope", "list_orders", "UNKNOWN_TOOL"),
    ]
    assert all(call.result_bytes == 0 for call in report.calls)  # none reached the server


# -- results, progress and logs -----------------------------------------------------------------


def test_an_image_result_is_reported_as_an_image(demo_session: Session) -> None:
    report = demo_session.run("chart = demo.sales_chart()\nchart")
    assert report.ok, report.error
    assert report.result is not None
    assert report.result["kind"] == "image" and report.result["mimeType"] == "image/png"
    assert base64.b64decode(report.result["data"]).startswith(PNG_SIGNATURE)
    in_the_cell = demo_session.run("chart.data[:8] == b'\\x89PNG\\r\\n\\x1a\\n', chart.mime_type")
    assert in_the_cell.value == [True, "image/png"]
    # Every size shown is the decoded one, whatever the base64 padding (827 showed as 828).
    sizes = demo_session.run("repr(chart), len(chart.data)").value
    assert sizes[0] == f"<Image image/png, {sizes[1]} bytes>"


def test_progress_and_logs_are_recorded_on_the_tool_call(demo_session: Session) -> None:
    events: list[tuple[str, Any]] = []
    report = demo_session.run("report = demo.build_report(steps=3)\nstock = demo.audit_inventory()",
                              on_event=events.append)
    assert report.ok, report.error
    build, audit = report.calls
    assert [(p["progress"], p["total"], p["message"]) for p in build.progress] == [
        (1, 3, "step 1 of 3"), (2, 3, "step 2 of 3"), (3, 3, "step 3 of 3")
    ]
    assert build.logs == []
    low = Shop().low_stock()
    assert [entry["level"] for entry in audit.logs] == ["info", *(["warning"] * len(low)), "info"]
    assert audit.progress == []
    assert [kind for kind, call in events if kind == "progress" and call is build] == ["progress"] * 3
    assert ("call", audit) in events


def test_twenty_concurrent_calls_overlap_in_the_trace(demo_session: Session) -> None:
    # build_report takes at least 3 x 10 ms, so the calls overlap even on a loaded machine.
    report = demo_session.run(
        "import asyncio\n"
        "reports = await asyncio.gather(*(demo.build_report.acall(steps=3) for _ in range(20)))\n"
        "len(reports), len(set(reports))"
    )
    assert report.ok, report.error
    assert report.value == [20, 1]
    assert len(report.calls) == 20 and all(call.ok for call in report.calls)
    assert len({call.id for call in report.calls}) == 20
    assert overlapped(report.calls), [(c.id, c.started, c.duration) for c in report.calls]
    # Each call's progress reached that call and no other.
    assert all([p["progress"] for p in call.progress] == [1, 2, 3] for call in report.calls)


# -- the report ----------------------------------------------------------------------------


def test_the_payload_is_stable_and_the_volatile_part_holds_timings_and_ids(demo_session: Session) -> None:
    code = 'notes = demo.list_notes()\nprint(len(notes))\nnotes'
    first, second = demo_session.run(code), demo_session.run(code)
    payload = first.payload()
    assert payload == second.payload()
    assert not keys_of(payload) & {"duration", "started", "id"}
    json.dumps(payload)  # JSON all the way down
    assert payload["ok"] is True and payload["stdout"] == f"{len(Shop().notes)}\n"
    assert [(c["server"], c["tool"], c["status"]) for c in payload["calls"]] == [("demo", "list_notes", "ok")]
    volatile = first.volatile()
    assert volatile["duration"] > 0
    [call] = volatile["calls"]
    assert call["id"] == first.calls[0].id and call["duration"] is not None and call["started"] >= 0


def test_the_mime_bundle_has_the_run_json_html_and_text(demo_session: Session) -> None:
    report = demo_session.run("demo.get_customer(customer_id=1)['name']")
    data, metadata = report._repr_mimebundle_()
    assert set(data) == {MIME_TYPE, "text/html", "text/plain"}
    assert data[MIME_TYPE] == report.payload()
    assert metadata == {MIME_TYPE: report.volatile()}
    assert "get_customer" in data["text/html"] and "<script" not in data["text/html"]
    assert report.value in data["text/plain"]


# -- the worker's life -----------------------------------------------------------------------


def test_reset_clears_every_variable(demo_session: Session) -> None:
    demo_session.run("before_reset = 1")
    demo_session.reset()
    report = demo_session.run("before_reset")
    assert not report.ok and report.error is not None and report.error["type"] == "NameError"
    assert not report.worker_restarted  # a reset asked for is not a lost state
    assert demo_session.run("demo.list_notes() == demo.list_notes()").value is True


def test_after_a_cell_is_killed_the_next_report_says_the_worker_restarted(demo_session: Session) -> None:
    demo_session.run("before_kill = 1")
    killed = demo_session.run("sum(range(10**13))", timeout=0.2)
    assert not killed.ok and killed.timed_out and killed.state_lost
    assert killed.error is not None and killed.error["code"] == "TIMEOUT"
    after = demo_session.run("'before_kill' in globals()")
    assert after.ok and after.worker_restarted and after.value is False
    assert not demo_session.run("1").worker_restarted  # said once


def test_a_worker_killed_between_runs_is_replaced_and_the_next_report_says_so(
    demo_session: Session, process_exited: Callable[[int, float], bool]
) -> None:
    demo_session.run("before_death = 1")
    assert demo_session._sandbox is not None
    pid = demo_session._sandbox.worker_pid  # the host's pid of the process running the cells
    assert pid is not None
    os.kill(pid, signal.SIGKILL)  # as the OOM killer would
    assert process_exited(pid, EXIT_WAIT)
    report = demo_session.run("'before_death' in globals()")
    if report.state_lost:
        # The host had not yet seen the worker go: this run reports the crash, the next restarts.
        assert report.error is not None and report.error["code"] == "SANDBOX_CRASHED"
        report = demo_session.run("'before_death' in globals()")
    assert report.ok and report.worker_restarted, report.error
    assert report.value is False
    assert demo_session.run("os").error is not None  # nothing of the old worker is left


def test_a_timed_out_python_loop_keeps_the_variables(demo_session: Session) -> None:
    demo_session.run("kept_through_timeout = 'yes'")
    report = demo_session.run("while True:\n    pass", timeout=0.2)
    assert not report.ok and report.timed_out and not report.state_lost
    after = demo_session.run("kept_through_timeout")
    assert after.value == "yes" and not after.worker_restarted


def test_calls_in_flight_when_a_run_times_out_are_closed_as_cancelled(demo_session: Session, tmp_path: Path) -> None:
    # build_report(steps=100) takes about a second: a 0.4 s timeout ends the run amid three.
    code = "import asyncio\nawait asyncio.gather(*(demo.build_report.acall(steps=100) for _ in range(3)))"
    trace = tmp_path / "calls.jsonl"
    report = demo_session.run(code, timeout=0.4, trace=trace)
    assert report.timed_out and not report.ok
    assert len(report.calls) == 3
    for call in report.calls:
        assert call.status == "error" and call.error_code == "CANCELLED", call
        assert call.error is not None and "the run timed out" in call.error
        assert call.duration is not None and 0 < call.duration < 5
    lines = [json.loads(line) for line in trace.read_text().splitlines()]
    assert [line["status"] for line in lines] == ["error"] * 3  # each written once, as it was closed
    assert demo_session.run("demo.get_customer(customer_id=1)['id']").value == 1  # the session goes on


def test_a_call_cut_off_by_an_interrupt_says_so(demo_session: Session) -> None:
    cancel = threading.Event()
    threading.Timer(0.4, cancel.set).start()
    report = demo_session.run("demo.build_report(steps=100)", cancel=cancel)
    assert report.error is not None and report.error["type"] == "KeyboardInterrupt"
    [call] = report.calls
    assert call.status == "error" and call.error_code == "CANCELLED"
    assert call.error is not None and "interrupted" in call.error
    assert report.payload()["calls"][0]["status"] == "error"


def test_a_lone_surrogate_in_printed_text_or_an_input_reads_as_a_replacement_character(demo_session: Session) -> None:
    # A lone surrogate has no UTF-8: its frame carries it as a JSON escape, which the host
    # turns into U+FFFD. It lost the stream and killed the worker before.
    report = demo_session.run('import sys\nprint("a\\udcffb")\nsys.stderr.write("c\\udcff\\n")\n"d\\udcff"',
                              inputs={"given": "e\udcff"})
    assert report.ok, report.error
    assert (report.stdout, report.stderr, report.value) == ("a\ufffdb\n", "c\ufffd\n", "d\ufffd")
    assert demo_session.run("given").value == "e\ufffd"
    assert not demo_session.run("1").worker_restarted


def test_run_reports_are_frozen(demo_session: Session) -> None:
    report = demo_session.run("1 + 1")
    assert isinstance(report, RunReport)
    with pytest.raises(dataclasses.FrozenInstanceError):
        report.ok = False  # type: ignore[misc]


def test_subprocesses_run_only_when_the_config_allows_them() -> None:
    from codemode.config import demo_config

    code = "import subprocess\nsubprocess.run(['/bin/true']).returncode"
    with Session(demo_config().model_copy(update={"allow_subprocess": True})) as allowed:
        assert allowed.run(code).value == 0
        assert any(row["layer"] == "seccomp" and "fork and exec allowed" in row["detail"]
                   for row in allowed.isolation)
    with Session(demo_config()) as strict:
        report = strict.run(code)
        assert report.error is not None and report.error["type"] == "PermissionError"


def test_a_flood_of_output_keeps_head_and_tail_and_counts_the_rest(demo_session: Session) -> None:
    shown: list[str] = []
    report = demo_session.run(
        "for i in range(20000):\n    print(f'line {i:05d}')",
        max_output=2000,
        on_event=lambda event: shown.append(event[1]) if event[0] == "stdout" else None,
    )
    assert report.ok
    total = 20000 * len("line 00000\n")
    assert report.output_dropped["stdout"] == total - 2000
    assert report.stdout.startswith("line 00000\n") and report.stdout.endswith("line 19999\n")
    assert "OUTPUT_TRUNCATED" in report.stdout
    assert len("".join(shown)) < 3000  # the flood never reached the notebook
    assert report.payload()["outputTruncated"] == {"stdout": total - 2000}
    assert "[OUTPUT_TRUNCATED]" in report._repr_mimebundle_()[0]["text/plain"]


def test_run_from_the_loops_own_thread_says_so_instead_of_waiting_forever(demo_session: Session) -> None:
    # The run's task goes to the background loop and its caller waits for it: from that
    # loop's thread the wait could never end, so the call is refused at once.
    from codemode.hub import get_portal

    async def run_on_the_loop() -> str:
        with pytest.raises(RuntimeError) as refused:
            demo_session.run("1")
        return str(refused.value)

    assert get_portal().call(run_on_the_loop) == (
        "this waits for codemode's background event loop, so it cannot run on that loop's thread; "
        "call it from another thread (asyncio.to_thread, anyio.to_thread)")
    assert demo_session.run("1 + 1").value == 2  # the session is none the worse
