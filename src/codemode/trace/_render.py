"""Presentations of a RunReport: the MIME bundle, static HTML and plain text.

The HTML has no scripts and no external resources, so it reads the same in JupyterLab,
classic Notebook, VS Code, nbconvert and on GitHub. nbval compares every MIME key of a
saved output, so the bundle's JSON payload and its text hold only what a reader sees and a
re-run repeats (see `RunReport.payload`). The HTML shows more (durations, sizes, tool
results, progress, logs, tokens), each such part between the markers `VOLATILE_OPEN` and
`VOLATILE_CLOSE`, which the sanitizer `codemode test` brings (`codemode.testing`) removes
whole. The terminal's text (`repr`, the CLI) has the details too.
"""

from __future__ import annotations

import base64
import json
from html import escape
from typing import TYPE_CHECKING, Any

from codemode.schema._types import python_literal
from codemode.shared.b64 import decoded_size
from codemode.shared.words import a_or_an
from codemode.trace._preview import preview
from codemode.shared.escape import escaped

if TYPE_CHECKING:
    from codemode.tokens.metrics import TokenAccount
    from codemode.trace._records import RunReport, ToolCall

MIME_TYPE = "application/vnd.codemode.run+json"
_ARG_CHARS = 80
# Around what may differ on a re-run in the HTML; HTML comments, so they show nowhere.
VOLATILE_OPEN = "<!--codemode:volatile-->"
VOLATILE_CLOSE = "<!--/codemode:volatile-->"


def _volatile(html: str) -> str:
    return f"{VOLATILE_OPEN}{html}{VOLATILE_CLOSE}" if html else ""


def mimebundle(report: RunReport) -> tuple[dict[str, Any], dict[str, Any]]:
    """The display bundle: our JSON payload, then static HTML, then plain text."""
    data = {
        MIME_TYPE: report.payload(),
        "text/html": render_html(report),
        "text/plain": render_text(report, details=False),
    }
    return data, {MIME_TYPE: report.volatile()}


def format_duration(seconds: float | None) -> str:
    if seconds is None:
        return "…"
    if seconds < 1.0:
        return f"{seconds * 1000:.1f} ms"
    return f"{seconds:.2f} s"


def format_size(size: int) -> str:
    if size < 1024:
        return f"{size} B"
    if size < 1024 * 1024:
        return f"{size / 1024:.1f} KB"
    return f"{size / 1024 / 1024:.1f} MB"


def call_signature(call: ToolCall, limit: int = _ARG_CHARS) -> str:
    """`server.tool(a=1, b="x")`, cut to `limit` characters of arguments."""
    args = ", ".join(f"{key}={python_literal(value)}" for key, value in call.shown_arguments.items())
    if len(args) > limit:
        args = args[: limit - 1] + "…"
    return f"{call.server}.{call.tool}({args})"


def approval_text(call: ToolCall, details: bool = True) -> str:
    """`approved by a person (terminal) after 2.10 s`: the call's approval decision, or "";
    the wait only with `details` (it differs run to run)."""
    if call.approval is None:
        return ""
    waited = call.approval.get("waited") or 0.0
    by = str(call.approval.get("by"))
    decision = call.approval.get("decision")
    asked = decision != "preapproved" and not by.startswith("nobody")
    after = f" after {format_duration(waited)}" if asked and details else ""
    if call.approval.get("recorded") and details:
        after = " (recorded in the cassette)"
    return f"refused: {by}{after}" if decision == "refused" else f"{decision} by {by}{after}"


def _headline(report: RunReport) -> str:
    """`codemode: ok · 2 tool calls (1 failed)`: what a re-run repeats (no duration)."""
    count = report.total_calls
    calls = f"{count:,} tool call{'s' if count != 1 else ''}"
    failed = sum(1 for c in report.calls if c.ok is False)
    if failed:
        calls += f" ({failed} failed)"
    if report.running:  # the live panel's snapshot: nothing has ended yet
        state = "running"
    else:
        state = "ok" if report.ok else "timed out" if report.timed_out else "interrupted" if report.interrupted else "error"
    return f"codemode: {state} · {calls}"


def _result_text(result: dict[str, Any]) -> str:
    shown = preview(result)
    kind = shown.get("kind")
    if kind == "json":
        if "preview" in shown:
            return f"{shown['preview']}… ({shown['chars']} characters)"
        if isinstance(shown.get("value"), str) and "\n" in shown["value"]:
            return shown["value"]  # a text (a note, a report) reads as text, not as one escaped line
        return json.dumps(shown.get("value"), indent=2, ensure_ascii=False)
    if kind == "repr":
        return shown.get("text", "") + ("…" if shown.get("truncated") else "")
    if kind == "mime":
        return str((shown.get("data") or {}).get("text/plain", ""))
    if kind in ("image", "audio"):
        size = decoded_size(result.get("data", ""))
        return f"<{kind} {shown.get('mimeType', '')}, {format_size(size)}>"
    if kind == "content":
        return json.dumps(shown.get("blocks"), indent=2, ensure_ascii=False)
    return json.dumps(shown, ensure_ascii=False)


def render_text(report: RunReport, details: bool = True) -> str:
    """The report as text; without `details` (the notebook's compared text/plain), only what
    a re-run repeats: no durations, sizes, call error messages, logs or token counts."""
    lines = [_headline(report) + (f" · {format_duration(report.duration)}" if details else "")]
    for call in report.calls:
        status = call.status if call.ok is not False else f"error {call.error_code}"
        line = f"  {call_signature(call)}  {status}"
        approval = [f"      approval: {approval_text(call, details)}"] if call.approval is not None else []
        if not details:
            lines += [line, *approval]
            continue
        lines += [f"{line}  {format_duration(call.duration)}  {format_size(call.result_bytes)}", *approval]
        if call.error:
            lines.append(f"      {call.error.splitlines()[0] if call.error else ''}")
        for log in call.logs:
            lines.append(f"      log [{log.get('level')}] {log.get('data')}")
    if not report.streams_shown:
        if report.stdout:
            lines += ["stdout:", report.stdout.rstrip("\n")]
        if report.stderr:
            lines += ["stderr:", report.stderr.rstrip("\n")]
        for output in report.displays:
            lines += ["display:", str(output["data"].get("text/plain", ""))]
    lines += _summary_lines(report, details)
    for name, count in report.output_dropped.items():
        lines.append(f"warning: {count:,} characters of {name} dropped [OUTPUT_TRUNCATED]")
    lines += _output_warnings(report)
    if report.refused_dropped:
        lines.append(f"warning: {report.refused_dropped:,} more refused calls were counted, not kept")
    lines += [f"note: {notice}" for notice in report.notices]
    if report.result is not None:
        lines += ["result:", _result_text(report.result)]
    if report.error is not None:
        lines.append(_error_line(report.error))
        if report.error.get("traceback"):
            lines.append(report.error["traceback"].rstrip("\n"))
    if report.tokens is not None and details:
        lines.append(token_line(report.tokens))
    return escaped("\n".join(lines))  # names, streams, errors: all chosen by the cell


def _summary_note(report: RunReport) -> str:
    summarized = sum(s.count for s in report.summaries)
    where = f"every call is in {report.trace_path}" if report.trace_path else \
        "to keep each, run with a trace file (Session.run(trace=PATH), codemode exec --trace PATH)"
    return (f"{summarized:,} more calls, summarised per tool (the first {report.full_calls} calls and every "
            f"failure are shown whole; {where}):")


def _summary_lines(report: RunReport, details: bool) -> list[str]:
    if not report.summaries:
        return []
    lines = [_summary_note(report) if details else _summary_note(report).split(" (")[0] + ":"]
    for s in report.summaries:
        line = f"  {s.server}.{s.tool}  ×{s.count:,}" + (f"  {s.errors:,} errors" if s.errors else "")
        if details:
            line += (f"  total {format_duration(s.total)}  p50 {format_duration(s.percentile(0.5))}"
                     f"  p95 {format_duration(s.percentile(0.95))}  {format_size(s.bytes)}")
        lines.append(line)
    return lines


def _summary_html(report: RunReport) -> str:
    rows = "".join(
        f'<tr><td style="{_CELL}"><code>{escape(f"{s.server}.{s.tool}")}</code></td>'
        f'<td style="{_CELL}">{s.count:,}</td><td style="{_CELL}">{s.errors:,}</td>'
        + "".join(f'<td style="{_CELL}">{_volatile(text)}</td>' for text in (
            format_duration(s.total), format_duration(s.percentile(0.5)), format_duration(s.percentile(0.95)),
            format_size(s.bytes)))
        + "</tr>" for s in report.summaries)
    heads = "".join(f'<th style="{_CELL}">{h}</th>' for h in ("tool", "calls", "errors", "total", "p50", "p95", "bytes"))
    return (f'<div class="codemode-summary"><div>{escape(_summary_note(report).split(" (")[0])} '
            f'{_volatile(escape("(" + _summary_note(report).split(" (", 1)[1]))}</div>'
            f'<table style="border-collapse:collapse;margin:4px 0"><thead><tr>{heads}</tr></thead>'
            f"<tbody>{rows}</tbody></table></div>")


def _output_warnings(report: RunReport) -> list[str]:
    lines = []
    if report.outputs_refused:
        kinds = ", ".join(f"{mime} ×{count}" for mime, count in sorted(report.outputs_refused.items()))
        lines.append(f"warning: output refused (front ends would run it as script, or it is of an unknown type): {kinds}")
    if report.displays_truncated:
        lines.append(f"warning: {report.displays_truncated} rich output(s) over the size cap dropped [OUTPUT_TRUNCATED]")
    return lines


def token_line(tokens: TokenAccount) -> str:
    """`tokens (o200k_base): classic 12,345 · code mode 1,234 · 10.0× fewer` in one line."""
    if tokens.code_mode_total and tokens.classic_total >= tokens.code_mode_total:
        verdict = f"{tokens.ratio:.1f}× fewer"
    else:
        verdict = f"{tokens.code_mode_total - tokens.classic_total:,} more"
    return (f"tokens ({tokens.tokenizer}): classic {tokens.classic_total:,} · "
            f"code mode {tokens.code_mode_total:,} · {verdict}")


def _tokens_html(tokens: TokenAccount) -> str:
    # Spans only, one line: the notebooks' sanitize file rewrites this element whole.
    top = max(tokens.classic_total, tokens.code_mode_total, 1)
    bars = "".join(
        f'<span style="display:inline-block;height:8px;width:{max(1, round(120 * value / top))}px;'
        f'background:{color};margin:0 6px 0 4px;vertical-align:middle"></span>'
        f"{label} {value:,}"
        for label, value, color in (("classic", tokens.classic_total, "#9e9e9e"),
                                    ("code mode", tokens.code_mode_total, "#2e7d32"))
    )
    title = escape(f"classic: {tokens.classic}; code mode: {tokens.code_mode}")
    return (f'<div class="codemode-tokens" title="{title}">tokens ({escape(tokens.tokenizer)}):{bars} · '
            f"{escape(token_line(tokens).rsplit(' · ', 1)[-1])}</div>")


def _error_line(error: dict[str, Any]) -> str:
    code = f" [{error['code']}]" if error.get("code") else ""
    return f"{error.get('type', 'Error')}: {error.get('message', '')}{code}"


_STYLE = (
    "font-family:var(--jp-ui-font-family,system-ui,sans-serif);font-size:var(--jp-ui-font-size1,13px);"
    "border-left:3px solid {color};padding:4px 8px;margin:2px 0"
)
_CELL = "padding:2px 8px;text-align:left;vertical-align:top"
_PRE = "margin:2px 0;padding:4px;white-space:pre-wrap;max-height:24em;overflow:auto;font-size:12px"


def render_html(report: RunReport) -> str:
    color = "#2e7d32" if report.ok else "#ef6c00" if report.interrupted else "#c62828"
    parts = [f'<div class="codemode-run" style="{_STYLE.format(color=color)}">',
             f"<div><strong>{escape(_headline(report))}</strong>"
             f"{_volatile(' · ' + format_duration(report.duration))}</div>"]
    if report.calls:
        parts.append('<table class="codemode-calls" style="border-collapse:collapse;margin:4px 0">')
        parts.append("<thead><tr>" + "".join(f'<th style="{_CELL}">{h}</th>' for h in
                     ("#", "call", "status", "time", "result")) + "</tr></thead><tbody>")
        for number, call in enumerate(report.calls, 1):
            parts.append(_call_row(number, call))
        parts.append("</tbody></table>")
    if report.summaries:
        parts.append(_summary_html(report))
    if not report.streams_shown:
        for name, text in (("stdout", report.stdout), ("stderr", report.stderr)):
            if text:
                parts.append(f'<div>{name}</div><pre style="{_PRE}">{escape(text)}</pre>')
        for output in report.displays:
            parts.append(f'<div class="codemode-display">{bundle_html(output["data"])}</div>')
    for name, count in report.output_dropped.items():
        parts.append(f"<div>warning: {count:,} characters of {escape(name)} dropped [OUTPUT_TRUNCATED]</div>")
    parts += [f"<div>{escape(line)}</div>" for line in _output_warnings(report)]
    parts += [f'<div class="codemode-notice">note: {escape(notice)}</div>' for notice in report.notices]
    if report.result is not None:
        parts.append(_result_html(report.result))
    if report.error is not None:
        parts.append(f'<div style="color:{color}"><strong>{escape(_error_line(report.error))}</strong></div>')
        if report.error.get("traceback"):
            parts.append(f'<pre class="codemode-traceback" style="{_PRE}">{escape(report.error["traceback"])}</pre>')
    if report.tokens is not None:
        bars = _tokens_html(report.tokens)
        if not report.show_tokens:  # `codemode.showTokens: false`: folded, a click opens them
            bars = f'<details class="codemode-tokens-folded"><summary>tokens</summary>{bars}</details>'
        parts.append(_volatile(bars))
    parts.append("</div>")
    return "".join(parts)


def _call_row(number: int, call: ToolCall) -> str:
    status_color = {"ok": "#2e7d32", "error": "#c62828"}.get(call.status, "inherit")
    status = call.status if not call.error_code else f"error {call.error_code}"
    approval = ""
    if call.approval is not None:
        wait = approval_text(call)[len(approval_text(call, False)):]
        approval = (f'<div class="codemode-approval" style="font-size:11px">'
                    f"{escape(approval_text(call, False))}{_volatile(escape(wait))}</div>")
    details = f'<pre style="{_PRE}">{escape(json.dumps(call.shown_arguments, indent=2, ensure_ascii=False))}</pre>'
    happened = "".join(f"<div>progress {escape(_progress_text(entry))}</div>" for entry in call.progress)
    happened += "".join(f"<div>log [{escape(str(log.get('level')))}] {escape(str(log.get('data')))}</div>"
                        for log in call.logs)
    result = ""
    if call.result is not None:
        result = f'<details><summary>{format_size(call.result_bytes)}</summary>{_value_html(call.result)}</details>'
    elif call.error:
        result = f'<span style="color:{status_color}">{escape(call.error)}</span>'
    if call.app is not None:  # the app itself runs only in the JupyterLab renderer's sandboxed frame
        result = (f'<div class="codemode-app" style="font-size:11px">app {escape(str(call.app.get("uri")))}: '
                  "drawn in JupyterLab; its result here</div>" + result)
    return (
        f'<tr><td style="{_CELL}">{number}</td>'
        f'<td style="{_CELL}"><details><summary><code>{escape(call_signature(call, 40))}</code></summary>'
        f"{details}{_volatile(happened)}</details></td>"
        f'<td style="{_CELL};color:{status_color}">{escape(status)}{approval}</td>'
        f'<td style="{_CELL}">{_volatile(format_duration(call.duration))}</td>'
        f'<td style="{_CELL}">{_volatile(result)}</td></tr>'
    )


def _progress_text(entry: dict[str, Any]) -> str:
    total = entry.get("total")
    amount = _number(entry.get("progress"))
    if total is not None:
        amount += f"/{_number(total)}"
    return f"{amount} {entry.get('message') or ''}".strip()


def _number(value: Any) -> str:
    """`3` for 3.0 (MCP progress is a float), the value as it is otherwise."""
    return f"{value:g}" if isinstance(value, float) else str(value)


def bundle_html(data: dict[str, Any]) -> str:
    """A sanitized MIME bundle as static HTML: the image, the (already clean) HTML, or the text."""
    for mime in ("image/png", "image/jpeg", "image/gif", "image/webp"):
        if isinstance(data.get(mime), str):
            return _media_html(mime, data[mime])
    if isinstance(data.get("image/svg+xml"), str):
        # As an image, never inline: an SVG in an <img> runs nothing.
        encoded = base64.b64encode(data["image/svg+xml"].encode()).decode()
        return f'<img alt="svg output" src="data:image/svg+xml;base64,{encoded}" style="max-width:100%">'
    if isinstance(data.get("text/html"), str):
        return str(data["text/html"])  # cleaned by the host (codemode.outputs.clean_html)
    return f'<pre style="{_PRE}">{escape(str(data.get("text/plain", "")))}</pre>'


def _value_html(payload: dict[str, Any]) -> str:
    kind = payload.get("kind")
    if kind == "mime":
        return bundle_html(payload.get("data") or {})
    if kind in ("image", "audio") and payload.get("data"):
        return _media_html(payload.get("mimeType", ""), payload["data"])
    if kind == "content":
        shown = []
        for block in payload.get("blocks", []):
            if block.get("type") in ("image", "audio") and block.get("data"):
                shown.append(_media_html(block.get("mimeType", ""), block["data"]))
            else:
                shown.append(f'<pre style="{_PRE}">{escape(json.dumps(block, indent=2, ensure_ascii=False))}</pre>')
        return "".join(shown)
    return f'<pre style="{_PRE}">{escape(_result_text(payload))}</pre>'


def _media_html(mime: str, data: str) -> str:
    if mime.startswith("image/") and len(data) <= 512 * 1024:
        return f'<img alt="tool image" src="data:{escape(mime)};base64,{escape(data)}" style="max-width:100%">'
    return f"<code>&lt;{escape(mime)}, {format_size(decoded_size(data))}&gt;</code>"


def _result_html(result: dict[str, Any]) -> str:
    label = "result" if result.get("kind") != "repr" else f"result (repr of {escape(a_or_an(str(result.get('type', 'value'))))})"
    return f'<div class="codemode-result"><div>{label}</div>{_value_html(result)}</div>'
