"""A server's questions during a call (MCP elicitation), on the host: `codemode.elicit` decides
who answers (`codemode.trust.elicitation`), a person is asked on the run's calling thread as
for an approval, and each question and its answer go into the call's record (the report, the
trace) and the audit trail, the answer redacted as arguments are."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, Literal

from codemode.engine._runstate import _Question, _Run
from codemode.trace import ToolCall
from codemode.trace._preview import preview_arguments
from codemode.trust.elicitation import Question, Reply, defaults_reply

if TYPE_CHECKING:
    from codemode.trust.approval import Approver

# As for approvals: an approver must honour its timeout; this only bounds one that does not.
QUESTION_GRACE = 5.0


def question_handler(run: _Run, call: ToolCall, audit: Callable[..., None]
                     ) -> Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]:
    """The hub's `on_question` for one call of `run`: the question in, the wire answer out."""

    async def answer(params: dict[str, Any]) -> dict[str, Any]:
        mode: Literal["form", "url"] = "url" if params.get("mode") == "url" else "form"
        question = Question(call.server, call.tool, str(params.get("message", "")), mode,
                            dict(params.get("requestedSchema") or {}), params.get("url"))
        started = time.perf_counter()
        if run.elicit == "decline":
            reply = Reply("decline", "codemode.elicit 'decline'")
        elif run.elicit == "defaults":
            reply = defaults_reply(question)
        else:
            reply = await _ask(run, call, question)
        waited = time.perf_counter() - started
        shown = preview_arguments(reply.content, json.dumps(reply.content, default=str)) if reply.content else None
        call.logs.append({"level": "notice", "logger": "elicitation",
                          "data": {"question": question.message, "mode": mode, "url": question.url,
                                   "action": reply.action, "by": reply.by, "content": shown}})
        run.emit(("call", call))
        audit("elicitation", run, server=call.server, tool=call.tool, arguments=reply.content or {},
              outcome=reply.action, by=reply.by, duration=waited, mode=mode)
        return reply.wire()

    return answer


async def _ask(run: _Run, call: ToolCall, question: Question) -> Reply:
    loop = asyncio.get_running_loop()
    item = _Question(question, call, loop.create_future(), loop)
    call.waiting = True
    run.emit(("call", call))
    run.emit(item)
    try:
        return await asyncio.wait_for(asyncio.shield(item.future), run.approval_timeout + QUESTION_GRACE)
    except TimeoutError:
        return Reply("cancel", f"no answer within {run.approval_timeout:g} s")
    finally:
        call.waiting = False


def answer_question(item: _Question, approver: Approver | None, timeout: float) -> None:
    """Answer on the thread that called `Session.run`; declined when nobody can be asked."""
    elicit = getattr(approver, "elicit", None)
    if elicit is None:
        item.resolve(Reply("decline", "nobody to ask (this face asks no questions)"))
        return
    try:
        reply = elicit(item.question, timeout)
    except KeyboardInterrupt:
        item.resolve(Reply("cancel", "interrupted"))
        raise
    except Exception as exc:  # a face failing to ask is nobody answering, not a crash
        reply = Reply("decline", f"nobody to ask (the approver failed: {exc})")
    item.resolve(reply)
