"""The host's side of one tool call from a cell: the policy's check, the arguments checked
again (the host trusts no worker), a person's yes where the policy wants one, the call through
the hub, and its record in the run's report, trace, live events, token account and audit."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from codemode.engine._apps import AppPage, app_uri, call_app, page_of
from codemode.engine._questions import question_handler
from codemode.engine._runstate import _Ask, _Run
from codemode.errors import CodemodeError, ToolCallError
from codemode.hub import SERVER_METHODS, Hub, LogRecord
from codemode.sandbox import CallRequest
from codemode.schema import NameMap, ToolDef, check_arguments, parameters, render_hits
from codemode.schema._search import MAX_QUERY_CHARS
from codemode.trace import ToolCall
from codemode.trace._preview import preview, preview_arguments
from codemode.trust.approval import Answer, ApprovalRequest, Verdict
from codemode.trust.policy import Refusal
from codemode.trust.redact import Redactor

if TYPE_CHECKING:
    from codemode.engine._apitool import ApiTool
    from codemode.schema import Hit
    from codemode.tokens.accounting import Accountant
    from codemode.trust.audit import AuditLog
    from codemode.trust.policy import Policy

logger = logging.getLogger(__name__)

# Seconds the host waits for an approver past `approvalTimeout` before it decides alone: an
# approver must honour the timeout itself; this only bounds one that does not.
APPROVAL_GRACE = 5.0

# Refused calls a run keeps in its report; a cell looping on refused calls gets each refusal
# but the host only counts the rest, so its memory and the saved output stay bounded.
MAX_REFUSED_CALLS = 100
# Characters of one call's arguments (and result) the token account keeps (a 16 MiB argument
# would otherwise be held for the whole run): past it, the account undercounts that call.
WIRE_CHARS = 64 * 1024
# A result the report keeps whole up to this many bytes of wire JSON; past it, a preview (as
# the trace file has): 40 results of 8 MiB kept whole grew the host by 450 MB.
KEPT_RESULT_BYTES = 4096
# Arguments past this many characters of JSON are checked against the schema off the event
# loop: linear work, but on 32 MiB it is long enough to stall every other session.
CHECK_OFF_LOOP_CHARS = 64 * 1024


class CallDesk:
    """Serves the calls and searches a session's worker sends (a part of `Session`)."""

    _api: dict[tuple[str, str], ApiTool]
    _hub: Hub
    _server_names: NameMap
    _audit: AuditLog | None
    _approved: set[tuple[str, str]]
    _param_names: dict[tuple[str, str], dict[str, str]]
    _app_pages: dict[tuple[str, str], asyncio.Future[AppPage | str]]  # (server, ui:// URI) → its page
    accountant: Accountant
    _search: Callable[[str, int, Policy | None], list[Hit]]
    _redactor: Redactor

    async def _serve_call(self, run: _Run, request: CallRequest) -> dict[str, Any]:
        if request.op == "search":
            return await self._serve_search(run, request.arguments)
        if request.tool in SERVER_METHODS:
            return await self._serve_request(run, request)
        started = time.perf_counter() - run.started
        # The compact wire JSON, once: the token account keeps it, the preview is sized by it.
        wire = json.dumps(request.arguments, separators=(",", ":"), ensure_ascii=False)
        # The host keeps a bounded preview; the full arguments only travel to the server.
        call = ToolCall(request.id, request.server, request.tool, preview_arguments(request.arguments, wire),
                        started=started)
        api = self._api.get((call.server, call.tool))
        if api is not None:
            call.python_names = self._python_names(api)
        refusal = self._refuse(run, call, api)
        if request.refusal is not None:  # refused in the worker, before it was sent
            refusal = Refusal(*request.refusal)
        elif refusal is None and api is not None:  # the host trusts no worker: checked again here
            schema = api.tool.input_schema
            problems = (await asyncio.to_thread(check_arguments, schema, request.arguments)
                        if len(wire) > CHECK_OFF_LOOP_CHARS else check_arguments(schema, request.arguments))
            refusal = Refusal("INVALID_ARGUMENTS", "; ".join(problems)) if problems else None
        if refusal is not None:
            if run.refused >= MAX_REFUSED_CALLS:  # a loop of refused calls: count, do not keep
                run.refused_dropped += 1
                return {"ok": False, "error": {"code": refusal.code, "message": refusal.message}}
            run.refused += 1
        run.log.begin(call)
        run.emit(("call", call))
        if refusal is None and api is not None:
            refusal = await self._approve(run, call, api, api.tool, request.arguments)  # the tool as the session knows it
        if refusal is not None:
            return self._finish(run, call, refusal)
        assert api is not None

        async def check_live(live: ToolDef | None) -> ToolCallError | None:
            # The list the session knows may come from the tool cache or a cassette: it may make
            # a call need a yes (asked above), never spare one. Going live, the live server's
            # annotations decide too (a tool it does not list counts as one with none).
            if call.approval is not None:
                return None  # asked, or pre-approved, already
            held = await self._approve(run, call, api, live or ToolDef(api.tool.server, api.tool.name), request.arguments)
            return _Held(api.tool.server, api.tool.name, held) if held is not None else None

        def on_progress(progress: float, total: float | None, message: str | None) -> None:
            call.progress.append({"progress": progress, "total": total, "message": message})
            run.emit(("progress", call))

        def on_log(record: LogRecord) -> None:
            call.logs.append({"level": record.level, "data": record.data, "logger": record.logger})

        wire_tool, page = self._app_of(run, api)  # an app's page is read alongside the call
        result = await self._hub.call(api.tool.server, api.tool.name, request.arguments,
                                      timeout=run.policy.call_timeout, on_progress=on_progress, on_log=on_log,
                                      check_live=check_live,
                                      on_question=question_handler(run, call, self._audit_event))
        if page is not None and result.result_json:
            found = await page
            if isinstance(found, AppPage):
                call.app = call_app(found, wire_tool, result.result_json)
                call.app_page = found
        # The account counts at most WIRE_CHARS of each; kept once the worker has its answer.
        kept = (wire[:WIRE_CHARS], result.result_json[:WIRE_CHARS])
        call.result_bytes = result.result_bytes
        if run.full_results is not None and result.result_json:  # an app's call: the app gets it whole
            run.full_results[call.id] = result.result_json
        if not result.ok:
            assert result.error is not None
            return self._finish(run, call, Refusal(result.error.code, _problem(result.error)), kept)
        # The worker gets the whole result; the report keeps a preview of a big one.
        payload = result.payload
        call.result = payload if payload is None or result.result_bytes <= KEPT_RESULT_BYTES else preview(payload)
        return self._finish(run, call, None, kept, value=payload)

    async def _serve_request(self, run: _Run, request: CallRequest) -> dict[str, Any]:
        """A server's resources or prompts (`srv.resources.read(uri)`): a call like any other
        in the report, the trace, the audit and under the run's policy; read-only, so no
        approval (MCP's resources and prompts change nothing)."""
        wire = json.dumps(request.arguments, separators=(",", ":"), ensure_ascii=False)
        call = ToolCall(request.id, request.server, request.tool, preview_arguments(request.arguments, wire),
                        started=time.perf_counter() - run.started)
        mcp_server = next((name for name in self._hub.servers if self._server_names.to_python(name) == call.server),
                          None)
        refusal = (Refusal("UNKNOWN_TOOL", f"no server {call.server!r} in this session") if mcp_server is None
                   else run.policy.check(ToolDef(call.server, call.tool), run.log.started))
        run.log.begin(call)
        run.emit(("call", call))
        if refusal is not None:
            return self._finish(run, call, refusal)
        assert mcp_server is not None
        result = await self._hub.request(mcp_server, call.tool, request.arguments, timeout=run.policy.call_timeout)
        call.result_bytes = result.result_bytes
        kept = (wire[:WIRE_CHARS], result.result_json[:WIRE_CHARS])
        if not result.ok:
            assert result.error is not None
            return self._finish(run, call, Refusal(result.error.code, _problem(result.error)), kept)
        call.result = result.payload
        return self._finish(run, call, None, kept)

    def _app_of(self, run: _Run, api: ApiTool) -> tuple[dict[str, Any] | None, asyncio.Future[AppPage | str] | None]:
        """The tool's wire definition and, when it has an app, its page (read once a session)."""
        state = self._hub.servers.get(api.tool.server)
        wire_tool = next((t for t in state.wire_tools if t.get("name") == api.tool.name), None) if state else None
        uri = app_uri(wire_tool)
        if uri is None:
            return wire_tool, None
        key = (api.tool.server, uri)
        page = self._app_pages.get(key)
        if page is None or (page.done() and not isinstance(page.result(), AppPage)):  # a failed read is tried again
            page = self._app_pages[key] = asyncio.ensure_future(self._read_page(run, api.tool.server, uri))
        return wire_tool, page

    async def _read_page(self, run: _Run, server: str, uri: str) -> AppPage | str:
        started = time.perf_counter()
        result = await self._hub.read_resource(server, uri, timeout=run.policy.call_timeout)
        found: AppPage | str = page_of(server, uri, result.payload["value"]) if result.ok and result.payload else \
            f"reading it failed: {_problem(result.error) if result.error else 'no answer'}"
        self._audit_event("resource", run, server=server, uri=uri, duration=time.perf_counter() - started,
                          outcome="ok" if isinstance(found, AppPage) else "error",
                          digest=found.digest if isinstance(found, AppPage) else None,
                          problem=None if isinstance(found, AppPage) else found)
        if not isinstance(found, AppPage):
            logger.info("no app for %s from %s: %s", uri, server, found)
        return found

    async def _serve_search(self, run: _Run, arguments: dict[str, Any]) -> dict[str, Any]:
        query, detail, limit = arguments.get("query"), arguments.get("detail", "signatures"), arguments.get("limit", 10)
        if not isinstance(query, str) or detail not in ("names", "signatures", "full") or not isinstance(limit, int):
            return {"ok": False, "error": {"code": "INVALID_ARGUMENTS",
                                           "message": "search needs a query string, a detail and an integer limit"}}
        query = query[:MAX_QUERY_CHARS]  # all the search reads of it; the audit keeps no more

        def search() -> tuple[int, str]:  # off the loop: other sessions go on meanwhile
            hits = self._search(query, max(1, min(limit, 100)), run.policy)
            return len(hits), render_hits(hits, detail)

        found, text = await asyncio.to_thread(search)
        run.searches.append(text)
        self._audit_event("search", run, query=query, outcome="ok", hits=found)
        return {"ok": True, "value": {"kind": "json", "value": text}}

    def _refuse(self, run: _Run, call: ToolCall, api: ApiTool | None) -> Refusal | None:
        if api is None:
            if not any(server == call.server for server, _ in self._api):
                return Refusal("UNKNOWN_TOOL", f"no server {call.server!r} in this session")
            return Refusal("UNKNOWN_TOOL", f"server {call.server!r} has no tool {call.tool!r}")
        return run.policy.check(ToolDef(call.server, call.tool), run.log.started)

    async def _approve(self, run: _Run, call: ToolCall, api: ApiTool, tool: ToolDef,
                       arguments: dict[str, Any]) -> Refusal | None:
        """Hold a call the policy wants a yes for, by `tool`'s annotations, until it has one;
        the refusal otherwise. A replayed cassette answers as the person did for this same
        call, when it holds that."""
        rule = run.policy.approval
        reason = rule.reason(tool, api.names)
        if reason is None:
            return None
        by = rule.preapproved_by(tool, api.names)
        if by is None and (call.server, call.tool) in self._approved:
            by = "an earlier answer 'for the session'"
        if by is not None:
            self._decide(run, call, "preapproved", by, 0.0)
            return None
        recorded = getattr(self._hub, "recorded_decision", None)
        decision = recorded(api.tool.server, api.tool.name, arguments) if recorded is not None else None
        if decision is not None and decision.get("decision") in ("approved", "denied"):
            verdict: Verdict = "deny" if decision["decision"] == "denied" else \
                "session" if decision.get("scope") == "session" else "once"
            return self._answered(run, call, Answer(verdict, str(decision.get("by"))), 0.0, reason, recorded=True)
        request = ApprovalRequest(call.server, call.tool, api.tool.server, api.tool.name, dict(tool.annotations),
                                  call.shown_arguments, reason)
        loop = asyncio.get_running_loop()
        ask = _Ask(request, call, loop.create_future(), loop)
        call.waiting = True
        run.emit(("call", call))
        run.emit(ask)
        waited = time.perf_counter()
        try:
            answer = await asyncio.wait_for(asyncio.shield(ask.future), run.approval_timeout + APPROVAL_GRACE)
        except TimeoutError:
            answer = Answer("nobody", f"no answer within {run.approval_timeout:g} s")
        finally:
            call.waiting = False
        waited = time.perf_counter() - waited
        keep = getattr(self._hub, "keep_decision", None)
        if keep is not None and answer.verdict != "nobody":  # a person's answer is part of the recording
            keep(api.tool.server, api.tool.name, arguments, {
                "decision": "denied" if answer.verdict == "deny" else "approved",
                "scope": "session" if answer.verdict == "session" else "once", "by": answer.by})
        return self._answered(run, call, answer, waited, reason)

    def _answered(self, run: _Run, call: ToolCall, answer: Answer, waited: float, reason: str,
                  recorded: bool = False) -> Refusal | None:
        """Record an approval answer on the call; the refusal when it lets nothing through."""
        if answer.verdict == "session":
            self._approved.add((call.server, call.tool))
        if answer.verdict in ("once", "session"):
            scope = " for the session" if answer.verdict == "session" else ""
            self._decide(run, call, "approved", f"{answer.by}{scope}", waited, recorded)
            return None
        if answer.verdict == "deny":
            self._decide(run, call, "denied", answer.by, waited, recorded)
            return Refusal("APPROVAL_DENIED", f"denied by {answer.by}")
        self._decide(run, call, "refused", answer.by, waited)
        q = f"{call.server}.{call.tool}"
        config_way = f"\"preapproved\": [\"{q}\"] in the config's codemode object"
        if getattr(self, "face", None) == "serve":  # its client cannot pass flags: only the server's config can
            how = f"Pre-approve it with {config_way} of the codemode serve process (then restart it)"
        else:
            how = f"Pre-approve it with --approve {q} (%%codemode, codemode exec) or {config_way}"
        return Refusal("APPROVAL_REQUIRED", f"needs approval ({reason}); {answer.by}. {how}")

    def _decide(self, run: _Run, call: ToolCall, decision: str, by: str, waited: float, recorded: bool = False) -> None:
        call.approval = {"decision": decision, "by": by, "waited": waited}
        if recorded:  # answered from the cassette, as the person did when it was recorded
            call.approval["recorded"] = True
        run.emit(("call", call))
        self._audit_event("approval", run, server=call.server, tool=call.tool, arguments=call.arguments,
                          outcome=decision, by=by, duration=waited, **({"recorded": True} if recorded else {}))

    def _audit_event(self, event: str, run: _Run, **facts: Any) -> None:
        if self._audit is not None:
            self._audit.event(event, run=run.id, **facts)

    def _finish(self, run: _Run, call: ToolCall, refusal: Refusal | None,
                wire: tuple[str, str] | None = None, value: dict[str, Any] | None = None) -> dict[str, Any]:
        """The worker's answer to a call. What only the report, the trace, the live panel and the
        audit need is recorded just after the answer is sent (`_record`, on the next loop turn):
        the worker goes on meanwhile, and the host's loop is often still awake when the next call
        arrives. Every run ends after its calls' answers, so the report always has them."""
        if call.ok is not None:  # cut off as the run ended (`cut_off`): already in the report
            return {"ok": False, "error": {"code": call.error_code, "message": call.error}}
        # The call's own time, from when it was let through: a person's time to answer is the
        # approval's (`approval["waited"]`), shown apart.
        call.started += call.approval.get("waited", 0.0) if call.approval is not None else 0.0
        call.duration = max(0.0, time.perf_counter() - run.started - call.started)
        call.ok = refusal is None
        if refusal is not None:
            # A server's message may quote the arguments whole: the report keeps a bounded one.
            call.error_code, call.error = refusal.code, _bounded(refusal.message)
        if refusal is not None:
            reply = {"ok": False, "error": {"code": refusal.code, "message": refusal.message}}
        else:
            reply = {"ok": True, "value": value if value is not None else call.result}
        if self._redactor:  # the cell has its answer whole; the record outlives the run
            call.arguments = self._redactor.value(call.arguments)
            call.result = self._redactor.value(call.result) if call.result is not None else None
            call.error = self._redactor.text(call.error) if call.error is not None else None
        asyncio.get_running_loop().call_soon(self._record, run, call, wire)
        return reply

    def _cut_off(self, run: _Run, why: str) -> None:
        """Close the calls the run ended without an answer to (their tasks are cancelled with
        the cell), as `CANCELLED`: recorded as any failed call is, never left `running`."""
        at = time.perf_counter() - run.started
        for call in run.log.cut_off(at, "CANCELLED", f"no answer: {why} while the call was in flight"):
            run.emit(("call", call))
            self._audit_event("call", run, server=call.server, tool=call.tool, arguments=call.arguments,
                              duration=call.duration, outcome="error", code=call.error_code)

    def _record(self, run: _Run, call: ToolCall, wire: tuple[str, str] | None) -> None:
        if wire is not None:  # (arguments, result) as they crossed the wire
            arguments, result = wire
            run.keep_wire("arguments", arguments, self.accountant)
            run.keep_wire("results", result, self.accountant)
        try:
            run.log.end(call)
        except OSError as exc:  # the --trace file: a full disk must not lose the report's call
            logger.warning("could not write call %s to the trace file: %s", call.id, exc)
        run.emit(("call", call))
        self._audit_event("call", run, server=call.server, tool=call.tool, arguments=call.arguments,
                          duration=call.duration, outcome="ok" if call.ok else "error", code=call.error_code,
                          via_app=run.via_app)

    def _python_names(self, api: ApiTool) -> dict[str, str]:
        """A tool's wire keys whose Python names differ (`from` → `from_`), worked out once."""
        names = self._param_names.get((api.server, api.name))
        if names is None:
            names = {p.key: p.name for p in parameters(api.tool.input_schema) if p.key != p.name}
            self._param_names[(api.server, api.name)] = names
        return names


class _Held(ToolCallError):
    """A call the live server's annotations held back and nobody approved."""

    def __init__(self, server: str, tool: str, refusal: Refusal) -> None:
        super().__init__(server, tool, refusal.message)
        self.code = refusal.code


def _bounded(message: str, limit: int = 2000) -> str:
    return message if len(message) <= limit else f"{message[:limit]}… [{len(message):,} characters]"


def _problem(error: CodemodeError) -> str:
    return error.problem if isinstance(error, ToolCallError) else str(error)
