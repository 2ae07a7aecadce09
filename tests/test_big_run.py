"""A run of many calls stays a small report: the first calls and every failure whole, the rest
summed up per tool, and every call in a JSON Lines file when the run is told to write one.

Real parts: a session on the embedded demo server and a real worker.
"""

from __future__ import annotations

import json
from pathlib import Path

from codemode.cli import report_json
from codemode.engine import Session
from codemode.trace._calllog import FULL_CALLS
from codemode.trace._render import MIME_TYPE, mimebundle

LOOP = """
for i in range({calls}):
    if i == {fail}:
        try:
            demo.get_customer(customer_id=999)
        except ToolError:
            pass
    else:
        demo.get_customer(customer_id=1 + i % 3)
"""


def saved_size(data: dict, metadata: dict) -> int:
    return len(json.dumps(data, ensure_ascii=False)) + len(json.dumps(metadata, ensure_ascii=False))


def test_calls_past_the_first_are_summed_up_per_tool_and_every_failure_kept(demo_session: Session,
                                                                           tmp_path: Path) -> None:
    trace = tmp_path / "calls.jsonl"
    report = demo_session.run(LOOP.format(calls=FULL_CALLS + 60, fail=FULL_CALLS + 30), trace=trace)
    assert report.ok, report.error
    assert report.total_calls == FULL_CALLS + 60
    assert [c.ok for c in report.calls[:FULL_CALLS]] == [True] * FULL_CALLS
    [failure] = report.calls[FULL_CALLS:]
    assert failure.error_code == "UPSTREAM_ERROR" and failure.arguments == {"customer_id": 999}
    [summary] = report.summaries
    assert (summary.server, summary.tool, summary.count, summary.errors) == ("demo", "get_customer", 59, 0)
    assert summary.bytes > 0 and 0 < summary.percentile(0.5) <= summary.percentile(0.95) <= summary.total

    lines = [json.loads(line) for line in trace.read_text().splitlines()]
    assert len(lines) == FULL_CALLS + 60  # every call, the summarised ones too
    assert sum(1 for line in lines if line["status"] == "error") == 1
    assert all(line["tool"] == "get_customer" and "duration" in line for line in lines)

    data, metadata = mimebundle(report)
    payload = data[MIME_TYPE]
    assert payload["callCount"] == FULL_CALLS + 60 and len(payload["calls"]) == FULL_CALLS + 1
    assert payload["summary"] == {"fullCalls": FULL_CALLS, "tools": [
        {"server": "demo", "tool": "get_customer", "count": 59, "errors": 0}]}
    assert metadata[MIME_TYPE]["trace"] == str(trace)
    assert "59 more calls" in data["text/plain"] and "59 more calls" in data["text/html"]
    assert str(trace) not in data["text/plain"]  # the compared text holds no machine's path
    assert report_json(report)["summary"]["tools"][0]["count"] == 59


def test_the_saved_report_does_not_grow_with_the_calls_past_the_first(demo_session: Session) -> None:
    sizes = []
    for calls in (FULL_CALLS + 20, FULL_CALLS + 400):
        report = demo_session.run(LOOP.format(calls=calls, fail=-1))
        assert report.ok and report.total_calls == calls
        sizes.append(saved_size(*mimebundle(report)))
    assert abs(sizes[1] - sizes[0]) < 200, sizes
    assert sizes[1] < 200 * 1024


def test_a_run_without_a_trace_says_how_to_keep_each_call(demo_session: Session) -> None:
    report = demo_session.run(LOOP.format(calls=FULL_CALLS + 5, fail=-1))
    assert report.trace_path is None
    assert "trace" in repr(report) and "5 more calls" in repr(report)


def test_a_small_run_keeps_every_call_and_no_summary(demo_session: Session) -> None:
    report = demo_session.run(LOOP.format(calls=3, fail=1))
    assert len(report.calls) == 3 and report.summaries == () and report.total_calls == 3
    assert "summary" not in report.payload() and "callCount" not in report.payload()
