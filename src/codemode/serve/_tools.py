"""The two tools `codemode serve` offers, and how a run becomes an MCP tool result.

The tool list a model reads is the whole cost of code mode's surface, so it is fixed text:
it names the servers (bounded: at most `MAX_LISTED_SERVERS`, never their tools) and says how
to call tools from code and how to find them; `search` discloses the rest on demand. A test
holds the list, descriptions and schemas together, under `SURFACE_BUDGET` o200k tokens with
hundreds of upstream tools.

An `execute` result has one text block for the model (printed output, the result, one line
per failed call, a one-line summary) and `structuredContent` for programs (`ok`, `duration`,
`stdout`, `stderr`, `result`, `error`, `calls`, `tokens`), which the run-report app draws
(`_runapp`); `isError` is true when the code failed.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import mcp_types as types

from codemode.serve._links import TEXT_CHARS, Link
from codemode.serve._runapp import execute_meta

if TYPE_CHECKING:
    from codemode.trace import RunReport

#: The o200k tokens the tool list may cost a model, whatever the servers behind it.
SURFACE_BUDGET = 1500
#: Servers named in `execute`'s description; past it, a count (search finds their tools).
MAX_LISTED_SERVERS = 12
#: Characters of a result (JSON) in the text block (all of it: `_links.TEXT_CHARS`).
RESULT_TEXT_CHARS = 8_000
#: Characters of stdout, and of stderr, in the text block.
STREAM_TEXT_CHARS = 8_000
STDERR_TEXT_CHARS = 3_000
#: Failed calls listed one per line in the text block.
FAILED_LISTED = 20

SEARCH_DESCRIPTION = """\
Find the tools you can call from `execute` code, by what they do (BM25 over names, \
descriptions and parameters), and resources and prompts (shown as calls). detail="names" \
lists `server.tool` names, "signatures" \
(default) Python signatures with a summary, "full" the complete stubs with every \
parameter and return type. Search first, then write code. Pass the `session` an \
execute result gave so the search counts toward that session's token line."""

EXECUTE_DESCRIPTION = """\
Run Python code in a sandboxed worker that keeps its variables and files across calls \
that pass the `session` a result gave. Each MCP server is a global object; call its tools with keyword \
arguments: `rows = {example}(...)` returns the result as Python data. For concurrency \
use `await srv.tool.acall(...)` with `asyncio.gather` (top-level await works). A failed \
call raises `ToolError` (`.code`, `.message`); catch it to retry or go on. `print()` what \
you want to read, or end with an expression: only output and the last value come back, so \
filter and aggregate in code instead of returning raw data. `input` (JSON) becomes the \
variable `input`. `codemode.search(query)` works inside code too. No network or files \
outside the work directory. Servers: {servers}."""


def tool_list(servers: dict[str, int], example: str) -> list[dict[str, Any]]:
    """The `tools/list` entries in wire form.

    Args:
        servers: each server's Python name and its number of tools, in config order.
        example: a `server.tool` to show in the description.
    """
    names = [f"{name} ({count} tools)" for name, count in list(servers.items())[:MAX_LISTED_SERVERS]]
    if len(servers) > MAX_LISTED_SERVERS:
        names.append(f"and {len(servers) - MAX_LISTED_SERVERS} more (search finds them)")
    return [
        {
            "name": "search",
            "description": SEARCH_DESCRIPTION,
            "inputSchema": {
                "type": "object",
                "properties": {
                    "query": {"type": "string", "description": "Words for what the tool does."},
                    "detail": {"type": "string", "enum": ["names", "signatures", "full"], "default": "signatures"},
                    "limit": {"type": "integer", "minimum": 1, "maximum": 100, "default": 10},
                    "session": {"type": "string", "x-mcp-header": "Session",
                                "description": "The `session` an earlier result gave, to count this search toward "
                                               "its token line; one that is not yours or has ended counts toward "
                                               "none (not an error)."},
                },
                "required": ["query"],
            },
            "annotations": {"readOnlyHint": True},
        },
        {
            "name": "execute",
            "description": EXECUTE_DESCRIPTION.format(example=example, servers=", ".join(names) or "none"),
            "inputSchema": {
                "type": "object",
                "properties": {
                    "code": {"type": "string", "description": "Python source; the last expression is the result."},
                    "timeout": {"type": "number", "description": "Seconds the code may run (capped by the server)."},
                    "input": {"description": "JSON data bound to the variable `input`.",
                              "type": ["object", "array", "string", "number", "integer", "boolean", "null"]},
                    # A 2026-07-28 client mirrors it into the Mcp-Param-Session header, which a
                    # load balancer routes on (see _handles and deploy/haproxy.cfg).
                    "session": {"type": "string", "x-mcp-header": "Session",
                                "description": "The `session` an earlier result gave, to continue with its variables; "
                                               "omit it to start a new session."},
                },
                "required": ["code"],
            },
            "_meta": execute_meta(),  # hosts with MCP Apps draw the result (see `_runapp`)
        },
    ]


def structured(report: RunReport, notice: str = "", session: str | None = None) -> dict[str, Any]:
    """The `structuredContent` of an `execute` result; `session`: the handle that continues it."""
    error = None
    if report.error is not None:
        error = {key: report.error.get(key) for key in ("type", "message", "code", "traceback")}
    data: dict[str, Any] = {
        "runId": report.run_id,
        "ok": report.ok,
        "duration": round(report.duration, 6),
        "stdout": report.stdout,
        "stderr": report.stderr,
        "result": _result_value(report.result),
        "error": error,
        "calls": [
            {"server": c.server, "tool": c.tool, "status": c.status, "started": round(c.started, 6),
             "duration": None if c.duration is None else round(c.duration, 6), "errorCode": c.error_code,
             **({"approval": {"decision": c.approval["decision"], "by": c.approval["by"]}} if c.approval else {})}
            for c in report.calls
        ],
        "tokens": report.tokens.to_json() if report.tokens is not None else None,
    }
    if session is not None:
        data["session"] = session
    if report.state_lost or notice:
        data["stateLost"] = True
    if notice:
        data["notice"] = notice
    return data


def summary_text(report: RunReport, notice: str = "", session: str | None = None,
                 links: dict[str, list[Link]] | None = None, tokens: str | None = None) -> str:
    """The text block a model reads, at most `TEXT_CHARS` characters: output, result, failed
    calls, one summary line, and the session line (`session: HANDLE`, to pass back). A part
    cut short names the link (`links`) where the whole of it can be read."""
    links = links or {}
    parts: list[str] = []
    if notice:
        parts.append(f"[{notice}]")
    if report.stdout:
        parts.append(_cut(report.stdout, STREAM_TEXT_CHARS, links.get("stdout")).rstrip("\n"))
    if report.stderr:
        parts.append("[stderr]\n" + _cut(report.stderr, STDERR_TEXT_CHARS, links.get("stderr")).rstrip("\n"))
    if report.result is not None:
        parts.append("result: " + _cut(_result_text(report.result), RESULT_TEXT_CHARS, links.get("result")))
    failed = [call for call in report.calls if call.ok is False]
    raised = str(report.error.get("message") or "") if report.error is not None else ""
    # A call's error the code did not catch is the traceback's last line below: said once.
    parts += [f"failed call {call.server}.{call.tool} [{call.error_code}]: raised below"
              if call.error and call.error in raised else
              f"failed call {call.server}.{call.tool}: {call.error} [{call.error_code}]"
              for call in failed[:FAILED_LISTED]]
    if len(failed) > FAILED_LISTED:
        parts.append(f"and {len(failed) - FAILED_LISTED:,} more failed calls (structuredContent.calls)")
    if report.error is not None:
        traceback = (report.error.get("traceback") or "").rstrip()
        code = report.error.get("code")
        head = f"{report.error.get('type', 'Error')}: {report.error.get('message', '')}" + (f" [{code}]" if code else "")
        parts.append(_last_lines(traceback, 12) if traceback and head.split(":")[0] in traceback else
                     (_last_lines(traceback, 12) + "\n" + head).strip())
    tail = "\n".join([summary_line(report, tokens), *([session_line(session)] if session is not None else [])])
    body = "\n".join(parts)
    room = TEXT_CHARS - len(tail) - 1
    if len(body) > room:
        body = _cut(body, room - 200)  # 200: room for the cut's own note
    return f"{body}\n{tail}" if body else tail


def linkable(report: RunReport) -> dict[str, tuple[str, str]]:
    """The parts of a report a result may link to instead of carrying: their whole text, MIME type."""
    texts = {"stdout": (report.stdout, "text/plain"), "stderr": (report.stderr, "text/plain")}
    if report.result is not None:
        value = report.result.get("value") if report.result.get("kind") == "json" else None
        if report.result.get("kind") == "json" and not isinstance(value, str):
            texts["result"] = (json.dumps(value, ensure_ascii=False), "application/json")
        else:
            texts["result"] = (_result_text(report.result), "text/plain")
    return texts


def session_line(session: str) -> str:
    return f"session: {session}"


def summary_line(report: RunReport, tokens: str | None = None) -> str:
    """`[ok · 2 tool calls · 0.05 s · TOKENS]`; `tokens`: the session's token line (`_account`), if shown."""
    calls = len(report.calls)
    failed = sum(1 for c in report.calls if c.ok is False)
    state = "ok" if report.ok else ("timed out" if report.timed_out else "error")
    line = f"[{state} · {calls} tool call{'s' if calls != 1 else ''}"
    if failed:
        line += f" ({failed} failed)"
    line += f" · {report.duration:.2f} s"
    if tokens:
        line += f" · {tokens}"
    return line + "]"


def error_result(code: str, message: str) -> types.CallToolResult:
    """An `isError` tool result for a request refused before anything ran (a bad argument)."""
    return types.CallToolResult(content=[types.TextContent(type="text", text=f"{message} [{code}]")],
                                structured_content={"error": {"code": code, "message": message}}, is_error=True)


def refusal(code: str, message: str, session: str | None = None) -> tuple[str, dict[str, Any]]:
    """The text and structured content of an `execute` refused before it ran."""
    error = {"type": "RefusedError", "message": message, "code": code, "traceback": ""}
    data: dict[str, Any] = {"ok": False, "stdout": "", "stderr": "", "result": None, "error": error, "calls": [],
                            "tokens": None}
    text = f"refused: {message} [{code}]"
    if session is not None:
        data["session"] = session
        text += "\n" + session_line(session)
    return text, data


def _result_value(result: dict[str, Any] | None) -> Any:
    if result is None:
        return None
    kind = result.get("kind")
    if kind == "json":
        return result.get("value")
    if kind == "repr":
        return result.get("text")
    if kind == "mime":  # a table or a figure: its text form (the image goes as an image block)
        return str((result.get("data") or {}).get("text/plain", ""))
    return {key: value for key, value in result.items() if key != "data"} | {"data": "(omitted)"}


def _result_text(result: dict[str, Any]) -> str:
    kind = result.get("kind")
    if kind == "json":
        value = result.get("value")
        return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    if kind == "repr":
        return str(result.get("text", ""))
    if kind == "mime":
        return str((result.get("data") or {}).get("text/plain", ""))
    return f"<{kind} {result.get('mimeType', '')}>"


def _cut(text: str, limit: int, whole: list[Link] | None = None) -> str:
    if len(text) <= limit:
        return text
    half = limit // 2
    if whole:
        where = whole[0].uri if len(whole) == 1 else f"{whole[0].uri} to {whole[-1].uri}"
        note = f"{len(text) - limit:,} characters cut; the whole: resources/read {where}"
    else:
        note = f"{len(text) - limit:,} characters cut; print less"
    return f"{text[:half]}\n… [{note}] …\n{text[-half:]}"


def _last_lines(text: str, count: int) -> str:
    lines = text.splitlines()
    return "\n".join(lines[-count:])
