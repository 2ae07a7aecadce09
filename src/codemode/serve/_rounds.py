"""2026-07-28 executes whose code needs a person's answer: approvals and upstream servers'
questions as `input_required` rounds.

That era has no requests from server to client: a question rides the result instead (an
`InputRequiredResult` with an elicitation), and the client retries the same `tools/call`
with the answer (`inputResponses`) and the `requestState` the server gave, which the SDK's
`RequestStateBoundary` seals (the client can neither read nor forge it). So an execute in that
era runs as a task of its own (`Run`), beside the requests: each round's request waits until
the run ends (its result) or asks (`input_required`); an asking run's thread waits in
`RoundApprover` for the next round's answer, up to the approval timeout, after which nobody
answered (the call is refused, or the server's question cancelled; the code goes on).

Two kinds of question, each under its own input key:
- `approval`: a call the approval policy holds back, a form with the handshake era's three
  answers (allow once, for the session, deny);
- `question`: an upstream server's own question during a call (its elicitation), passed on
  in its mode: a form with the server's schema, or a URL for the person to open (the answer
  to a URL question carries nothing back: what the person enters there never crosses this
  host). A client that declared no elicitation (or no URL mode, for a URL question) has
  nobody to ask, and the question is declined.

Invariants:
- A run asks one question at a time (approvals and questions are answered on the run's one
  calling thread); each is numbered, and an answer counts only for the question its
  `requestState` was sealed with: a stale retry answers nothing.
- A round's request cancelled while the run is not waiting for an answer cancels the run (its
  code is interrupted, as in the handshake era); one that returned `input_required` does not.
- A run answers only the token of its session; a `requestState` naming no run here (another
  process, or a run that ended) is an `isError` result, never a hang.
- Runs live in `Rounds.tasks`, the server's own task group. A run that ends while no round
  waits (its question timed out while the person was still answering, and the code went on)
  keeps its outcome for the client's retry up to `KEEP_SECONDS`, then is dropped.
"""

from __future__ import annotations

import concurrent.futures
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import anyio
import anyio.abc
import anyio.from_thread
import mcp_types as types

from codemode.trust.approval import Answer, ApprovalRequest
from codemode.trust.approvers import APPROVAL_FORM, elicited_answer
from codemode.trust.elicitation import Question, Reply

#: The input key of an approval's form.
INPUT_KEY = "approval"
#: The input key of an upstream server's question.
QUESTION_KEY = "question"

Outcome = tuple[Any, str]  # a RunReport and its notice

#: Seconds an ended run waits for a round to collect its outcome: the client whose person
#: answered after the approval timeout retries at once, with an answer nobody waits for.
KEEP_SECONDS = 120.0


@dataclass
class _Posed:
    """A question out to the client: its number, its input key and request, how its answer
    reads (an `ElicitResult` to an `Answer` or a `Reply`), and who waits for it."""

    number: int
    key: str
    request: types.ElicitRequest
    read: Callable[[Any], Any]
    future: concurrent.futures.Future[Any]


class RoundApprover:
    """Asks through the run's rounds (called on the run's thread)."""

    by = "a person (MCP input_required)"

    def __init__(self, run: Run, modes: frozenset[str]) -> None:
        self.run = run
        self.modes = modes

    @property
    def capable(self) -> bool:
        return "form" in self.modes

    def ask(self, request: ApprovalRequest, timeout: float) -> Answer:
        if not self.capable:
            return Answer.nobody("the MCP client did not declare the elicitation capability")
        form = types.ElicitRequestFormParams(mode="form", message=request.describe(), requested_schema=APPROVAL_FORM)
        answer: Answer | None = self._pose(INPUT_KEY, form, lambda reply: elicited_answer(
            getattr(reply, "action", None) or "cancel", getattr(reply, "content", None), self.by), timeout)
        return answer if answer is not None else Answer("nobody", f"no answer within {timeout:g} s")

    def elicit(self, question: Question, timeout: float) -> Reply:
        """A server's question, passed on to this client as an `input_required` round of its mode."""
        if question.mode not in self.modes:
            return Reply("decline", f"nobody to ask (the MCP client cannot answer a {question.mode} elicitation)")
        params: types.ElicitRequestParams
        if question.mode == "url":
            params = types.ElicitRequestURLParams(mode="url", message=question.describe(), url=question.url or "")
        else:
            params = types.ElicitRequestFormParams(mode="form", message=question.describe(),
                                                   requested_schema=question.schema)
        reply: Reply | None = self._pose(QUESTION_KEY, params, lambda answer: _reply(answer, question, self.by),
                                         timeout)
        return reply if reply is not None else Reply("cancel", f"no answer within {timeout:g} s")

    def _pose(self, key: str, params: types.ElicitRequestParams, read: Callable[[Any], Any], timeout: float) -> Any:
        """Put one question to the client and wait for its answer, read; None when none came in time."""
        future: concurrent.futures.Future[Any] = concurrent.futures.Future()
        request = types.ElicitRequest(method="elicitation/create", params=params)
        anyio.from_thread.run_sync(self.run.pose, key, request, read, future)
        try:
            return future.result(timeout)
        except concurrent.futures.TimeoutError:
            return None
        finally:
            anyio.from_thread.run_sync(self.run.withdraw, future)


def _reply(answer: Any, question: Question, by: str) -> Reply:
    action = getattr(answer, "action", None)
    if action not in ("accept", "decline", "cancel"):
        return Reply("cancel", f"{by}, no answer")
    content = getattr(answer, "content", None)
    # A URL question's answer carries nothing back; a form's is the client's content.
    kept = dict(content) if action == "accept" and question.mode == "form" and isinstance(content, dict) else None
    return Reply(action, by, kept)


class Run:
    """One 2026-era execute: its task, the question it asks now, its outcome once it ends."""

    def __init__(self, owner: str | None, session: str, modes: frozenset[str], finish: Callable[[Outcome], Any],
                 relay: Any) -> None:
        self.id = secrets.token_urlsafe(18)
        self.owner = owner  # the digest of the token that started it
        self.session = session  # the handle of its session
        self.finish = finish  # its outcome as the tool result
        self.relay = relay  # carries its live events to the round that waits
        self.approver = RoundApprover(self, modes)
        self.question: _Posed | None = None
        self.outcome: Outcome | None = None
        self.error: BaseException | None = None
        self.done = False
        self.scope = anyio.CancelScope()
        self.collected = anyio.Event()  # a round took its outcome
        self._changed = anyio.Event()
        self._asked = 0

    async def main(self, work: Callable[[], Awaitable[Outcome]], forget: Callable[[], None]) -> None:
        try:
            with self.scope:
                self.outcome = await work()
        except Exception as exc:  # noqa: BLE001 - handed to the round that waits, which answers it
            self.error = exc
        finally:
            self.done = True
            self._changed.set()
        try:
            with anyio.move_on_after(KEEP_SECONDS):
                await self.collected.wait()
        finally:
            forget()

    def pose(self, key: str, request: types.ElicitRequest, read: Callable[[Any], Any],
             future: concurrent.futures.Future[Any]) -> None:
        self._asked += 1
        self.question = _Posed(self._asked, key, request, read, future)
        self._changed.set()

    def withdraw(self, future: concurrent.futures.Future[Any]) -> None:
        if self.question is not None and self.question.future is future:
            self.question = None

    def answer(self, responses: dict[str, Any] | None, state: str = "") -> bool:
        """Hand the client's answer to the waiting question; False when none waits for it
        (`state`: the `requestState` the answer came with, which numbers its question)."""
        posed = self.question
        if posed is None or not responses or posed.key not in responses or state != self._state(posed):
            return False
        self.question = None
        if not posed.future.done():
            posed.future.set_result(posed.read(responses[posed.key]))
        return True

    async def wait(self) -> Outcome | types.InputRequiredResult:
        """The run's outcome, or the question it now asks, whichever comes first. Cancelled
        while no question is out, the run is cancelled too (its code interrupted)."""
        try:
            while True:
                if self.done:
                    self.collected.set()
                    if self.error is not None:
                        raise self.error
                    if self.outcome is None:
                        raise RuntimeError("the run was cancelled before it ended")
                    return self.outcome
                if self.question is not None:
                    posed = self.question
                    return types.InputRequiredResult(input_requests={posed.key: posed.request},
                                                     request_state=self._state(posed))
                self._changed = anyio.Event()
                await self._changed.wait()
        except anyio.get_cancelled_exc_class():
            if not self.done and self.question is None:
                self.scope.cancel()
            raise

    def _state(self, posed: _Posed) -> str:
        return f"{self.id}.{posed.number}"


class Rounds:
    """The 2026-era runs of one server process, by id; started in `tasks` (see `serve`)."""

    def __init__(self) -> None:
        self.runs: dict[str, Run] = {}
        self.tasks: anyio.abc.TaskGroup | None = None

    async def serve(self) -> None:
        """Hold the task group runs start in, until cancelled."""
        async with anyio.create_task_group() as tg:
            self.tasks = tg
            await anyio.sleep_forever()

    def start(self, run: Run, work: Callable[[Run], Awaitable[Outcome]]) -> Run:
        if self.tasks is None:
            raise RuntimeError("Rounds.serve is not running")
        self.runs[run.id] = run

        def forget() -> None:
            self.runs.pop(run.id, None)

        self.tasks.start_soon(run.main, lambda: work(run), forget)
        return run

    def find(self, state: str, owner: str | None) -> Run | None:
        """The run a round's `requestState` names, if `owner` started it."""
        run = self.runs.get(state.partition(".")[0])
        return run if run is not None and run.owner == owner else None
