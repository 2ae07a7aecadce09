"""What a run prints: the code's output and value on stdout, the report on stderr, or JSON.

Text from the worker reaches a terminal with its control characters escaped; into a pipe it
goes as is, so `$(codemode exec -c 'expr')` captures the value whole.
"""

from __future__ import annotations

import dataclasses
import json
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from codemode.trace import RunReport


def report_json(report: RunReport) -> dict[str, Any]:
    """`exec --json`: the run report as docs/run-report.schema.json describes it."""
    volatile = report.volatile()
    timing = ("id", "started", "duration")
    # A script wants each call whole: what a notebook compares and what it keeps in metadata.
    calls = [{**call.payload(), **{k: v for k, v in call.facts().items() if k not in timing}} for call in report.calls]
    payload = report.payload()
    if "summary" in payload:  # the summarised calls' timings and bytes beside their counts
        tools = [{**row, **facts} for row, facts in zip(payload["summary"]["tools"], volatile["summary"])]
        payload["summary"] = {**payload["summary"], "tools": tools,
                              **({"trace": report.trace_path} if report.trace_path else {})}
    return {**payload, "calls": calls, "runId": report.run_id, "stdout": report.stdout, "stderr": report.stderr,
            "isolation": volatile["isolation"], "tokens": volatile["tokens"],
            "timing": {"duration": volatile["duration"],
                       "calls": [{k: facts[k] for k in timing} for facts in volatile["calls"]]}}


def _print_report(report: RunReport) -> None:
    """The value of the last expression on stdout (what a script captures), the report on stderr."""
    if report.result is not None:
        sys.stdout.write(_for(sys.stdout, result_text(report.result)) + "\n")
        sys.stdout.flush()
    if report.calls or report.error or not report.ok:
        print(repr(dataclasses.replace(report, streams_shown=True, result=None)), file=sys.stderr)


def result_text(result: dict[str, Any]) -> str:
    """A run's value as a script wants it: a string as is, other JSON as JSON, else its repr."""
    kind = result.get("kind")
    if kind == "json":
        value = result.get("value")
        return value if isinstance(value, str) else json.dumps(value, indent=2, ensure_ascii=False)
    if kind == "repr":
        return str(result.get("text", ""))
    from codemode.trace._render import _result_text

    return _result_text(result)


def _echo(event: tuple[str, object]) -> None:
    kind, data = event
    if kind in ("stdout", "stderr"):
        stream = sys.stdout if kind == "stdout" else sys.stderr
        stream.write(_for(stream, str(data)))
        stream.flush()
    elif kind == "display" and isinstance(data, dict) and not data.get("update"):
        # A terminal shows a table or a figure as its text form (--json keeps the MIME bundle).
        print(data["data"].get("text/plain", ""), flush=True)


def _for(stream: Any, text: str) -> str:
    """Text from the worker as `stream` may show it: on a terminal, control characters are
    escaped (an escape sequence could rewrite the lines above); into a pipe, it goes as is."""
    from codemode.shared.escape import escaped

    isatty = getattr(stream, "isatty", None)
    return escaped(text) if isatty is not None and isatty() else text

