"""A run's way from the worker's turn to its report, for `Session` (a part of it, as
`_calls.CallDesk` is).

`Session.run` builds the run's policy on the calling thread and hands `_arun` to the hub's
loop (`_handing_over`); there the run waits for its turn at the worker (`_turns`), gets a
fresh worker when the old one died, the servers' tools changed or it asks for other sandbox
options, runs its cell, and makes its report. The report (or what the run raised) goes back
to the calling thread as the task's last step. Interrupts (`_ainterrupt`) touch only the run
they are for; a call waiting for a person's yes is answered on the calling thread (`_ask`).
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from opentelemetry import context as otel_context

from codemode.engine._runstate import DEFAULT_MAX_OUTPUT, _Ask, _Run
from codemode.engine._turns import Ticket, Turns
from codemode.sandbox import CallRequest, Sandbox
from codemode.sandbox._options import SandboxOptions
from codemode.shared.ids import new_id
from codemode.tokens.accounting import Accountant, output_text
from codemode.trace import RunReport
from codemode.trace._calllog import CallLog
from codemode.trust.approval import Answer, Approver
from codemode.trust.audit import digest
from codemode.trust.policy import Policy

if TYPE_CHECKING:
    from codemode.config import Config
    from codemode.engine._apitool import ApiTool
    from codemode.hub import Hub
    from codemode.sandbox import CellOutcome

# What `Session.run` passes to `on_event`, on the calling thread, as it happens:
# ("stdout"|"stderr", text), ("call", ToolCall), ("progress", ToolCall), ("display", output:
# {"data", "metadata", "display_id"?, "update"?}, already sanitized), ("waiting", ToolCall) just
# before a person is asked to approve the call, or ("tick", None) when nothing happened for
# TICK seconds (a live display flushes what it held back).
Event = tuple[str, Any]


class RunPath:
    """Runs a session's code in its worker, one run at a time (a part of `Session`)."""

    config: Config
    accountant: Accountant
    _hub: Hub
    _api: dict[tuple[str, str], ApiTool]
    _sandbox: Sandbox | None
    _turns: Turns
    _approved: set[tuple[str, str]]
    _generation: int
    _state_lost: bool
    _worker_options: SandboxOptions
    _audit_event: Callable[..., None]
    _serve_call: Callable[[_Run, CallRequest], Awaitable[dict[str, Any]]]
    _cut_off: Callable[[_Run, str], None]
    _build_api: Callable[[], None]
    _new_sandbox: Callable[[SandboxOptions], Sandbox]

    async def _ainterrupt(self, ticket: Ticket) -> None:
        """Interrupt one run: out of the queue if it waits, KeyboardInterrupt if it runs."""
        if ticket.done:
            return
        ticket.interrupted = True
        if not self._turns.withdraw(ticket) and ticket.running and self._sandbox is not None:
            await self._sandbox.interrupt_or_kill()

    def _ask(self, ask: _Ask, approver: Approver | None, on_event: Callable[[Event], None] | None) -> None:
        """Answer a call waiting for approval, on the thread that called `run`."""
        request = ask.request
        if (request.server, request.tool) in self._approved:  # an "a" given while this one queued
            ask.resolve(Answer("session", "an earlier answer 'for the session'"))
            return
        if approver is None:
            ask.resolve(Answer.nobody("this session has no approver"))
            return
        if on_event is not None:
            on_event(("waiting", ask.call))
        try:
            answer = approver.ask(request, self.config.approval_timeout)
        except KeyboardInterrupt:
            ask.resolve(Answer("deny", "interrupted"))
            raise
        except Exception as exc:  # a face's approver failing is nobody answering, not a crash
            answer = Answer.nobody(f"the approver failed: {exc}")
        ask.resolve(answer)

    async def _arun(self, code: str, timeout: float | None, policy: Policy, options: SandboxOptions,
                    emit: Callable[[Event], None], ticket: Ticket, inputs: dict[str, Any] | None = None,
                    log: CallLog | None = None, label: str | None = None) -> RunReport:
        started = time.perf_counter()
        if not await self._turns.take(ticket):
            return self._not_run(code, ticket, started)
        try:
            if ticket.interrupted or self._turns.closed:  # it came between the turn and the cell
                return self._not_run(code, ticket, started)
            return await self._arun_turn(code, timeout, policy, options, emit, inputs, log or CallLog(), label)
        finally:
            self._turns.give(ticket)
            if log is not None:
                log.close()

    def _not_run(self, code: str, ticket: Ticket, started: float) -> RunReport:
        if ticket.interrupted:
            error = {"type": "KeyboardInterrupt", "code": "INTERRUPTED", "traceback": "",
                     "message": "the run was interrupted before it started (it waited for an earlier run)"}
        else:
            error = {"type": "SessionClosedError", "code": "SESSION_CLOSED", "traceback": "",
                     "message": "the session closed before this run started; start it again to run code"}
        return RunReport(code=code, ok=False, error=error, duration=time.perf_counter() - started)

    async def _arun_turn(self, code: str, timeout: float | None, policy: Policy, options: SandboxOptions,
                         emit: Callable[[Event], None], inputs: dict[str, Any] | None, log: CallLog,
                         label: str | None = None) -> RunReport:
        assert self._sandbox is not None
        run = _Run(time.perf_counter(), policy, emit, id=new_id(), approval_timeout=self.config.approval_timeout,
                   elicit=policy.elicit or self.config.elicit,
                   max_output=policy.max_output or DEFAULT_MAX_OUTPUT, log=log)
        code_digest = digest(code)  # which code ran, on every run event, giving back nothing of it
        self._audit_event("run.start", run, codeDigest=code_digest)
        # A worker that died between runs (killed from outside, a thread's os._exit) lost its
        # state too, though no run reported it: this run starts a fresh one and says so.
        restarted = self._state_lost or not self._sandbox.alive
        reason = "the previous worker stopped" if restarted else ""
        notices: list[str] = []
        if getattr(self._hub, "generation", 0) != self._generation:
            # A server's live tools differ from the cached list the namespaces were built on.
            self._generation = getattr(self._hub, "generation", 0)
            self._build_api()
            await self._sandbox.aclose()
            self._sandbox = self._new_sandbox(options)
            restarted, reason = True, "a server's tools changed since they were cached"
            if self._turns.closed:
                return self._not_run(code, Ticket(), run.started)
        elif changed := (await self._hub.take_changed() if hasattr(self._hub, "take_changed") else set()):
            # A server announced tools/list_changed: the new tools go into the running worker's
            # namespaces (its variables stay), stubs and search, and the report says so.
            self._build_api()
            await self._sandbox.reinstall()
            notices.extend(f"server {name!r} changed its tools (tools/list_changed); the namespaces have "
                           "the new list" for name in sorted(changed))
        elif options != self._worker_options:
            reason = f"the run asked for other sandbox options ({options.changes(self._worker_options)})"
            restarted = restarted or self._sandbox.starts > 0
            await self._sandbox.aclose()
            self._sandbox = self._new_sandbox(options)
            if self._turns.closed:  # the session closed while the old worker stopped
                return self._not_run(code, Ticket(), run.started)
        self._state_lost = False
        timeout = timeout if timeout is not None else self.config.cell_timeout
        if timeout == math.inf:
            timeout = None  # `--timeout none`: no limit

        # The caller's trace (a span around `Session.run`, `codemode serve`'s request span): each
        # tool call's request (the SDK's client span, and the traceparent it sends upstream) is
        # its child. The calls are served in the sandbox's own tasks, which do not carry it.
        trace = otel_context.get_current()

        async def on_call(request: CallRequest) -> dict[str, Any]:
            token = otel_context.attach(trace)
            try:
                return await self._serve_call(run, request)
            finally:
                otel_context.detach(token)

        sandbox = self._sandbox  # close() may drop the session's reference meanwhile
        assert sandbox is not None
        try:
            outcome = await sandbox.run(code, on_call=on_call, on_stream=run.on_stream, timeout=timeout,
                                        inputs=inputs, on_display=run.on_display, label=label)
        except BaseException as exc:
            self._audit_event("run.end", run, duration=time.perf_counter() - run.started, outcome="error",
                              code=getattr(exc, "code", type(exc).__name__), codeDigest=code_digest)
            raise
        outcome.result = await run.clean_result(outcome.result)
        self._cut_off(run, _why_ended(outcome))
        self._state_lost = outcome.state_lost
        error = outcome.error or {}
        self._audit_event("run.end", run, duration=time.perf_counter() - run.started,
                          outcome="ok" if outcome.ok else "error", code=error.get("code") or error.get("type"),
                          calls=run.log.started, codeDigest=code_digest)
        stdout, stderr, dropped = run.finish_streams()
        servers = policy.servers if policy.servers is not None else {key for key, _ in self._api}
        tokens = self.accountant.account(
            sorted(servers), arguments=run.wire_arguments, results=run.wire_results, searches=run.searches,
            code=code, output=output_text(stdout, stderr, outcome.result), counted=run.counted,
        )
        return RunReport(
            code=code,
            ok=outcome.ok,
            result=outcome.result,
            stdout=stdout,
            stderr=stderr,
            error=outcome.error,
            calls=tuple(run.log.calls),
            summaries=tuple(run.log.summaries.values()),
            call_count=run.log.started + run.refused_dropped if run.log.summaries else None,
            full_calls=run.log.full,
            trace_path=str(run.log.trace_path) if run.log.trace_path else None,
            duration=time.perf_counter() - run.started,
            timed_out=outcome.timed_out,
            interrupted=(outcome.error or {}).get("type") == "KeyboardInterrupt" and not outcome.timed_out,
            state_lost=outcome.state_lost,
            worker_restarted=restarted,
            restart_reason=reason if restarted else "",
            isolation=tuple(sandbox.isolation),
            tokens=tokens,
            show_tokens=self.config.show_tokens,
            output_dropped=dropped,
            displays=tuple(run.outputs.items),
            outputs_refused=dict(run.outputs.tally.refused),
            displays_truncated=run.outputs.tally.truncated,
            refused_dropped=run.refused_dropped,
            run_id=run.id,
            notices=tuple(notices + outcome.notices),
        )


def _why_ended(outcome: CellOutcome) -> str:
    """Why a run ended, as the cause of the calls it cut off."""
    error = outcome.error or {}
    if outcome.timed_out:
        return "the run timed out"
    if outcome.state_lost:
        return "the worker stopped"
    if error.get("type") == "KeyboardInterrupt":
        return "the run was interrupted"
    if not outcome.ok:
        return f"the run failed ({error.get('code') or error.get('type') or 'error'})"
    return "the run ended (the code did not wait for the call)"


@dataclass(frozen=True)
class _Ended:
    """How a run's task ended: its report, or what it raised."""

    report: RunReport | None
    error: BaseException | None = None

    def outcome(self) -> RunReport:
        if self.error is not None:
            raise self.error
        assert self.report is not None
        return self.report


async def _handing_over(put: Callable[[Any], None], run: Callable[..., Awaitable[RunReport]], *args: Any) -> None:
    """Run, and hand the outcome to the thread waiting in `Session.run` as the task's last
    step: the waiting thread wakes while the loop has nothing more to do for this run."""
    try:
        report = await run(*args)
    except BaseException as exc:  # noqa: BLE001 - raised again on the waiting thread
        put(_Ended(None, exc))
        if isinstance(exc, asyncio.CancelledError):  # the loop is stopping: the task ends cancelled
            raise
        return
    put(_Ended(report))
