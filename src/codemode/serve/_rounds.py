"""2026-07-28 executes whose code needs a person's answer: approvals as `input_required` rounds.

That era has no requests from server to client: a question rides the result instead (an
`InputRequiredResult` with a form elicitation), and the client retries the same `tools/call`
with the answer (`inputResponses`) and the `requestState` the server gave, which the SDK's
`RequestStateBoundary` seals (the client can neither read nor forge it). So an execute in that
era runs as a task of its own (`Run`), beside the requests: each round's request waits until
the run ends (its result) or asks (`input_required`); an asking run's thread waits in
`RoundApprover.ask` for the next round's answer, up to the approval timeout, after which nobody
answered (the call is refused, the code goes on). The three answers are the handshake era's
(allow once, for the session, deny), from the same form.

Invariants:
- A round's request cancelled while the run is not waiting for an answer cancels the run (its
  code is interrupted, as in the handshake era); one that returned `input_required` does not.
- A run answers only the token of its session; a `requestState` naming no run here (another
  process, or a run that ended) is an `isError` result, never a hang.
- Runs live in `Rounds.tasks`, the server's own task group; a run nobody collects is dropped
  when it ends.
"""

from __future__ import annotations

import concurrent.futures
import secrets
from collections.abc import Awaitable, Callable
from typing import Any

import anyio
import anyio.abc
import anyio.from_thread
import mcp_types as types

from codemode.trust.approval import Answer, ApprovalRequest
from codemode.trust.approvers import APPROVAL_FORM, elicited_answer

#: The key of the one question a round asks.
INPUT_KEY = "approval"

Outcome = tuple[Any, str]  # a RunReport and its notice


class RoundApprover:
    """Asks through the run's rounds (called on the run's thread)."""

    by = "a person (MCP input_required)"

    def __init__(self, run: Run, capable: bool) -> None:
        self.run = run
        self.capable = capable

    def ask(self, request: ApprovalRequest, timeout: float) -> Answer:
        if not self.capable:
            return Answer.nobody("the MCP client did not declare the elicitation capability")
        future: concurrent.futures.Future[Answer] = concurrent.futures.Future()
        anyio.from_thread.run_sync(self.run.pose, request, future)
        try:
            return future.result(timeout)
        except concurrent.futures.TimeoutError:
            return Answer("nobody", f"no answer within {timeout:g} s")
        finally:
            anyio.from_thread.run_sync(self.run.withdraw, future)


class Run:
    """One 2026-era execute: its task, the question it asks now, its outcome once it ends."""

    def __init__(self, owner: str | None, session: str, capable: bool, finish: Callable[[Outcome], Any],
                 relay: Any) -> None:
        self.id = secrets.token_urlsafe(18)
        self.owner = owner  # the digest of the token that started it
        self.session = session  # the handle of its session
        self.finish = finish  # its outcome as the tool result
        self.relay = relay  # carries its live events to the round that waits
        self.approver = RoundApprover(self, capable)
        self.question: tuple[ApprovalRequest, concurrent.futures.Future[Answer]] | None = None
        self.outcome: Outcome | None = None
        self.error: BaseException | None = None
        self.done = False
        self.scope = anyio.CancelScope()
        self._changed = anyio.Event()

    async def main(self, work: Callable[[], Awaitable[Outcome]], forget: Callable[[], None]) -> None:
        try:
            with self.scope:
                self.outcome = await work()
        except Exception as exc:  # noqa: BLE001 - handed to the round that waits, which answers it
            self.error = exc
        finally:
            self.done = True
            self._changed.set()
            forget()

    def pose(self, request: ApprovalRequest, future: concurrent.futures.Future[Answer]) -> None:
        self.question = (request, future)
        self._changed.set()

    def withdraw(self, future: concurrent.futures.Future[Answer]) -> None:
        if self.question is not None and self.question[1] is future:
            self.question = None

    def answer(self, responses: dict[str, Any] | None) -> bool:
        """Hand the client's answer to the waiting question; False when none waits for it."""
        if self.question is None or not responses or INPUT_KEY not in responses:
            return False
        reply = responses[INPUT_KEY]
        action = getattr(reply, "action", None) or "cancel"
        future = self.question[1]
        self.question = None
        if not future.done():
            future.set_result(elicited_answer(action, getattr(reply, "content", None), RoundApprover.by))
        return True

    async def wait(self) -> Outcome | types.InputRequiredResult:
        """The run's outcome, or the question it now asks, whichever comes first. Cancelled
        while no question is out, the run is cancelled too (its code interrupted)."""
        try:
            while True:
                if self.done:
                    if self.error is not None:
                        raise self.error
                    if self.outcome is None:
                        raise RuntimeError("the run was cancelled before it ended")
                    return self.outcome
                if self.question is not None:
                    return self._asking(self.question[0])
                self._changed = anyio.Event()
                await self._changed.wait()
        except anyio.get_cancelled_exc_class():
            if not self.done and self.question is None:
                self.scope.cancel()
            raise

    def _asking(self, request: ApprovalRequest) -> types.InputRequiredResult:
        form = types.ElicitRequestFormParams(mode="form", message=request.describe(), requested_schema=APPROVAL_FORM)
        ask = types.ElicitRequest(method="elicitation/create", params=form)
        return types.InputRequiredResult(input_requests={INPUT_KEY: ask}, request_state=self.id)


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

    def find(self, run_id: str, owner: str | None) -> Run | None:
        run = self.runs.get(run_id)
        return run if run is not None and run.owner == owner else None
