"""The record of a run: every tool call, the streams, the result and the error.

`ToolCall` is filled in while its call is in flight (progress and logs arrive during it);
`RunReport` is built once the cell has ended and is frozen. What a reader sees and a re-run
repeats (printed output, the result, the calls: server, tool, arguments, status, error code)
is `RunReport.payload()`; what may differ (tool results, durations, sizes, ids, progress,
logs, tokens) is `RunReport.volatile()`, for output metadata. So a saved notebook compares
equal across re-runs, even against a server whose answers change.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from codemode.trace._preview import preview

if TYPE_CHECKING:
    from codemode.tokens.metrics import TokenAccount

@dataclass
class ToolCall:
    """One tool call a cell made, as the host saw it."""

    id: int
    server: str
    tool: str
    arguments: dict[str, Any]
    started: float = 0.0  # seconds since the run started
    duration: float | None = None
    ok: bool | None = None  # None while in flight
    error_code: str | None = None
    error: str | None = None
    result: dict[str, Any] | None = None  # the payload sent to the worker
    result_bytes: int = 0
    progress: list[dict[str, Any]] = field(default_factory=list)
    logs: list[dict[str, Any]] = field(default_factory=list)
    # The approval decision, for a call the policy wanted a yes for:
    # {"decision": "approved"|"denied"|"refused"|"preapproved", "by": who or what, "waited": s}
    approval: dict[str, Any] | None = None
    waiting: bool = False  # held until a person answers
    # Wire key -> the Python keyword the code wrote (`messageType` -> `message_type`), for the
    # keys that differ: `arguments` stay as sent, what a reader sees uses the code's names.
    python_names: dict[str, str] = field(default_factory=dict)

    @property
    def shown_arguments(self) -> dict[str, Any]:
        """The arguments by the Python names the code used."""
        if not self.python_names:
            return self.arguments
        return {self.python_names.get(key, key): value for key, value in self.arguments.items()}
    kept: bool = field(default=False, repr=False, compare=False)  # whole in the report (trace._calllog)
    # The tool's MCP App (engine._apps), when it has one: {"uri", "digest", "tool", "result"}; and
    # its page (`AppPage`), which the report's metadata keeps once per digest.
    app: dict[str, Any] | None = field(default=None, repr=False, compare=False)
    app_page: Any = field(default=None, repr=False, compare=False)
    # For a call an app made (not the cell's code): the id of the call whose app made it.
    via_app: int | None = None

    @property
    def status(self) -> str:
        if self.ok is None:
            return "waiting" if self.waiting else "running"
        return "ok" if self.ok else "error"

    def payload(self) -> dict[str, Any]:
        """What a reader of the notebook sees of the call and what a re-run of the same work
        repeats: server, tool, arguments, status and error code. The compared payload."""
        data: dict[str, Any] = {
            "server": self.server,
            "tool": self.tool,
            "arguments": self.shown_arguments,
            "status": self.status,
        }
        if self.error_code is not None:
            data["error"] = {"code": self.error_code}
        if self.approval is not None:  # who decided is part of the work: a re-run repeats it
            data["approval"] = {"decision": self.approval["decision"], "by": self.approval["by"]}
        if self.via_app is not None:
            data["viaApp"] = self.via_app
        return data

    def facts(self) -> dict[str, Any]:
        """What may differ on a re-run (a server's answer, timings, sizes, progress, logs):
        output metadata, which the renderer and the HTML show and nbval does not compare."""
        data: dict[str, Any] = {
            "id": self.id,
            "started": round(self.started, 6),
            "duration": None if self.duration is None else round(self.duration, 6),
            "resultBytes": self.result_bytes,
        }
        if self.result is not None:
            data["result"] = preview(self.result)
        if self.error is not None:
            data["error"] = {"code": self.error_code, "message": self.error}
        if self.progress:
            data["progress"] = self.progress
        if self.logs:
            data["logs"] = self.logs
        if self.approval is not None:
            data["approvalWait"] = round(self.approval.get("waited", 0.0), 6)
            if self.approval.get("recorded"):
                data["approvalRecorded"] = True
        if self.app is not None:
            data["app"] = self.app
        return data


@dataclass(frozen=True)
class RunReport:
    """Everything one run of code did. Displays itself in Jupyter (see `codemode.trace.render`)."""

    code: str
    ok: bool
    result: dict[str, Any] | None = None  # {"kind": "json"|"repr"|"image"|"audio", ...}
    stdout: str = ""
    stderr: str = ""
    error: dict[str, Any] | None = None  # {"type", "message", "traceback", "code"?}
    calls: tuple[ToolCall, ...] = ()
    duration: float = 0.0
    timed_out: bool = False
    interrupted: bool = False  # stopped by an interrupt (Ctrl-C, the kernel's interrupt)
    state_lost: bool = False
    worker_restarted: bool = False
    streams_shown: bool = False  # printed live already: the displays leave them out
    tokens: TokenAccount | None = None  # classic tool calling against code mode, for this run
    show_tokens: bool = True  # the token bars unfolded (`codemode.showTokens`); folded otherwise
    output_dropped: dict[str, int] = field(default_factory=dict)  # characters dropped per stream
    restart_reason: str = ""  # why the run had a fresh worker, when `worker_restarted`
    refused_dropped: int = 0  # refused calls past the number a run keeps: counted, not kept
    notices: tuple[str, ...] = ()  # what the host did about the cell's leftovers (threads stopped, paused)
    isolation: tuple[dict[str, Any], ...] = ()  # the worker's layers: {"layer", "active", "detail"}
    running: bool = False  # a snapshot taken while the run goes on (live display)
    # display() outputs, sanitized, in order, updates applied: {"data", "metadata", "display_id"?}.
    # Shown live by the faces that stream (`streams_shown`), so the displays leave them out then.
    displays: tuple[dict[str, Any], ...] = ()
    outputs_refused: dict[str, int] = field(default_factory=dict)  # MIME type → outputs refused (script, widgets)
    displays_truncated: int = 0  # representations or outputs cut for size (OUTPUT_TRUNCATED)
    run_id: str = ""  # sortable and unique across processes (`codemode.shared.ids`); in the metadata
    # A big run (see trace._calllog): `calls` holds the first `full_calls` calls and every
    # failure; the others are summarised per tool (`ToolSummary`), `call_count` counts all.
    summaries: tuple[Any, ...] = ()
    call_count: int | None = None
    full_calls: int = 0
    trace_path: str | None = None  # the JSON Lines file every call was written to, if asked

    @property
    def total_calls(self) -> int:
        """Every call the run made, summarised ones included."""
        return self.call_count if self.call_count is not None else len(self.calls)

    @property
    def value(self) -> Any:
        """The cell's result as Python data (a repr string for values that were not JSON)."""
        if self.result is None:
            return None
        if self.result.get("kind") == "json":
            return self.result.get("value")
        if self.result.get("kind") == "repr":
            return self.result.get("text")
        if self.result.get("kind") == "mime":
            return (self.result.get("data") or {}).get("text/plain")
        return self.result

    @property
    def value_is_json(self) -> bool:
        return self.result is not None and self.result.get("kind") == "json"

    def payload(self) -> dict[str, Any]:
        """The stable facts of the run: the `application/vnd.codemode.run+json` body."""
        data: dict[str, Any] = {
            "version": 1,
            "ok": self.ok,
            "calls": [call.payload() for call in self.calls],
        }
        if self.result is not None:
            data["result"] = preview(self.result)
        if self.error is not None:
            data["error"] = self.error
        inline = not self.streams_shown  # streams and displays the face did not show live
        summary = self.summaries and {"fullCalls": self.full_calls, "tools": [s.to_json() for s in self.summaries]}
        facts: dict[str, Any] = {  # each only when it says something, in this order
            "stdout": inline and self.stdout,
            "stderr": inline and self.stderr,
            "outputTruncated": dict(self.output_dropped),
            "displays": inline and [{"data": d["data"], "metadata": d["metadata"]} for d in self.displays],
            "outputsRefused": dict(self.outputs_refused),
            "displaysTruncated": self.displays_truncated,
            "refusedCallsDropped": self.refused_dropped,
            "notices": list(self.notices),
            "callCount": bool(summary) and self.total_calls,
            "summary": summary,
            "timedOut": self.timed_out,
            "interrupted": self.interrupted,
            "stateLost": self.state_lost,
            "workerRestarted": self.worker_restarted,
            "restartReason": self.worker_restarted and self.restart_reason,
            "running": self.running,
        }
        data.update((key, value) for key, value in facts.items() if value)
        return data

    def volatile(self) -> dict[str, Any]:
        """Timings, ids, token counts (they depend on the tokenizer) and each call's result,
        progress and logs: output metadata, which nbval does not compare."""
        return {
            "runId": self.run_id,
            "duration": round(self.duration, 6),
            # Volatile too: the layers vary by machine (`RunReport.isolation` has their details).
            "isolation": {row.get("layer"): bool(row.get("active")) for row in self.isolation},
            "tokens": self.tokens.to_json() if self.tokens is not None else None,
            **({} if self.show_tokens else {"showTokens": False}),
            "calls": [self._call_facts(call) for call in self.calls],
            **({"summary": [s.facts() for s in self.summaries]} if self.summaries else {}),
            **({"trace": self.trace_path} if self.trace_path else {}),
            **({"apps": apps} if (apps := self.apps()) and not self.running else {}),
        }

    def _call_facts(self, call: ToolCall) -> dict[str, Any]:
        facts = call.facts()
        if self.running:  # the live panel updates often and an app's page is ~200 KB: apps come with the report
            facts.pop("app", None)
        return facts

    def apps(self) -> dict[str, dict[str, Any]]:
        """The pages of the calls' MCP Apps, once each, by digest (see `engine._apps`)."""
        return {call.app_page.digest: call.app_page.to_json() for call in self.calls if call.app_page is not None}

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> tuple[dict[str, Any], dict[str, Any]]:
        from codemode.trace._render import mimebundle

        return mimebundle(self)

    def __repr__(self) -> str:
        from codemode.trace._render import render_text

        return render_text(self)
