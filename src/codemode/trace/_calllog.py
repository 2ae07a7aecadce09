"""The calls of a big run, kept small: the first calls and every failure in full, the rest
as a summary per tool; the whole trace to a JSON Lines file when the run is told to write one.

A cell that makes 10,000 calls must not keep 10,000 results on the host, nor save them into
the notebook. Invariants:
- The first `FULL_CALLS` calls of a run and every call that failed are kept whole (`calls`).
- Every other call adds to its tool's `ToolSummary`: count, errors, total and p50/p95 time,
  result bytes. What it costs the host is one float per call (its duration, for the
  percentiles), so memory stays well under half a kilobyte per call.
- A call still in flight when its run ends (interrupted, timed out, the worker gone) is
  closed then as failed (`cut_off`): no report keeps a call `running` for good.
- Nothing is dropped silently: the report says how many calls it summarised, and with a
  trace file (`Session.run(trace=PATH)`, `codemode exec --trace PATH`) every call is written
  whole (arguments as the host kept them, result preview, timing, error), one JSON object a
  line, as it ends.
"""

from __future__ import annotations

import json
import math
from array import array
from pathlib import Path
from typing import IO, Any

from codemode.trace._records import ToolCall

# The calls a run keeps whole, from its start: what a reader looks at first. Past it a call
# is kept whole only if it failed; the rest go into per-tool summaries.
FULL_CALLS = 100


class ToolSummary:
    """The summarised calls of one tool: count, errors, time and bytes."""

    __slots__ = ("server", "tool", "count", "errors", "total", "bytes", "_durations")

    def __init__(self, server: str, tool: str) -> None:
        self.server, self.tool = server, tool
        self.count = self.errors = self.bytes = 0
        self.total = 0.0
        self._durations = array("d")  # 8 bytes a call

    def add(self, call: ToolCall) -> None:
        self.count += 1
        self.errors += 0 if call.ok else 1
        self.bytes += call.result_bytes
        duration = call.duration or 0.0
        self.total += duration
        self._durations.append(duration)

    def percentile(self, fraction: float) -> float:
        """The nearest-rank percentile of the durations (0 with none)."""
        if not self._durations:
            return 0.0
        ordered = sorted(self._durations)
        return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]

    def to_json(self) -> dict[str, Any]:
        """The summary as the report's payload carries it (stable fields only: no timings)."""
        return {"server": self.server, "tool": self.tool, "count": self.count, "errors": self.errors}

    def facts(self) -> dict[str, Any]:
        """Its timings and bytes: volatile, for output metadata."""
        return {"server": self.server, "tool": self.tool, "total": round(self.total, 6),
                "p50": round(self.percentile(0.5), 6), "p95": round(self.percentile(0.95), 6),
                "bytes": self.bytes}


class CallLog:
    """Where a run's calls go as they end (see the module docstring)."""

    def __init__(self, trace: str | Path | None = None, full: int = FULL_CALLS) -> None:
        self.full = full
        self.calls: list[ToolCall] = []  # the first `full` calls (in flight too) and every failure
        self.summaries: dict[tuple[str, str], ToolSummary] = {}
        self.started = 0  # calls begun
        self._flying: dict[int, ToolCall] = {}  # begun, not yet ended
        self.trace_path = Path(trace) if trace is not None else None
        self._trace: IO[str] | None = None
        if self.trace_path is not None:
            self._trace = self.trace_path.open("w", encoding="utf-8")

    def begin(self, call: ToolCall) -> None:
        """A call began: the first `full` are kept from their start (the live panel shows them)."""
        self.started += 1
        self._flying[call.id] = call
        if len(self.calls) < self.full:
            self.calls.append(call)
            call.kept = True

    def end(self, call: ToolCall) -> None:
        """A call ended: kept whole, or summarised; written to the trace file either way."""
        self._flying.pop(call.id, None)
        if self._trace is not None:
            self._trace.write(json.dumps(trace_line(call), ensure_ascii=False, default=str) + "\n")
        if call.kept:
            return
        if not call.ok:
            self.calls.append(call)  # every failure, whole
            call.kept = True
            return
        key = (call.server, call.tool)
        summary = self.summaries.get(key)
        if summary is None:
            summary = self.summaries[key] = ToolSummary(call.server, call.tool)
        summary.add(call)

    def cut_off(self, at: float, code: str, message: str) -> list[ToolCall]:
        """Close the calls that have no answer yet, as failed with `code`, at `at` seconds into
        the run; each is then kept whole as a failure and written to the trace file."""
        cut = [call for call in self._flying.values() if call.ok is None]  # answered ones end on their own
        for call in cut:
            call.duration = max(0.0, at - call.started)
            call.ok, call.waiting = False, False
            call.error_code, call.error = code, message
            self.end(call)
        return cut

    @property
    def summarized(self) -> int:
        return sum(summary.count for summary in self.summaries.values())

    def close(self) -> None:
        if self._trace is not None:
            self._trace.close()
            self._trace = None


def trace_line(call: ToolCall) -> dict[str, Any]:
    """One call as a line of the trace file: everything the report would show of it (the
    compared fields and the facts that live in the output's metadata)."""
    return {**call.payload(), **call.facts()}
