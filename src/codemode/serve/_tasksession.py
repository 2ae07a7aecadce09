"""What an `execute` running as a task says to its client, through a stand-in for its session.

A task's run outlives the request that started it, so the handler sees a `TaskSession` in
place of the request's `ServerSession` (everything else it reads is passed through):

- progress (`report_progress`) becomes the task's status message; in the handshake era it is
  also still sent against the request's progress token, which the 2025-11-25 spec keeps valid
  for the task's lifetime. The 2026 extension has no progress on tasks: nothing is sent.
- the code's prints (`send_log_message`) go on in the handshake era only, best effort.
- an approval or an upstream server's question (`elicit_form`, `elicit_url`) puts the task in
  `input_required`: in the 2026 era the question
  waits in the task (`tasks/get` shows it, `tasks/update` answers it); in the handshake era it
  is a real `elicitation/create`, tagged with the task, sent on the stream of a waiting
  `tasks/result` when there is one (as the spec suggests), else on the connection's own.

Invariants: nothing here fails a run: a notification that cannot be delivered is dropped
after `SEND_TIMEOUT` seconds at most.
"""

from __future__ import annotations

import asyncio
import logging
import warnings
from typing import TYPE_CHECKING, Any

import anyio
import mcp_types as types
from mcp.shared.exceptions import MCPDeprecationWarning
from mcp.shared.message import ServerMessageMetadata

if TYPE_CHECKING:
    from codemode.serve._tasks import Task

logger = logging.getLogger(__name__)

#: The `_meta` key that ties a message to its task (2025-11-25 tasks utility).
RELATED_TASK = "io.modelcontextprotocol/related-task"
# A best-effort notification to a client that may have gone: never hold the run up for long.
SEND_TIMEOUT = 2.0


class TaskSession:
    """The request's `ServerSession`, seen by a run that became a task."""

    def __init__(self, session: Any, task: Task) -> None:
        self._session = session
        self._task = task

    def __getattr__(self, name: str) -> Any:
        return getattr(self._session, name)

    async def report_progress(self, progress: float, total: float | None = None, message: str | None = None) -> None:
        self._task.note(message)
        if not self._task.modern:
            await self._best_effort(self._session.report_progress(progress, total, message))

    async def send_log_message(self, **kwargs: Any) -> None:
        if not self._task.modern:
            kwargs["related_request_id"] = None  # the request is answered: the connection's own channel
            with warnings.catch_warnings():  # MCP logging is deprecated in the 2026 era, not in this one
                warnings.simplefilter("ignore", MCPDeprecationWarning)
                sending = self._session.send_log_message(**kwargs)
            await self._best_effort(sending)

    async def elicit_form(self, message: str, requested_schema: Any, related_request_id: Any = None
                          ) -> types.ElicitResult:
        """An approval, or an upstream server's form question."""
        return await self._asking({"mode": "form", "message": message, "requestedSchema": requested_schema})

    async def elicit_url(self, message: str, url: str, elicitation_id: str, related_request_id: Any = None
                         ) -> types.ElicitResult:
        """An upstream server's URL-mode question (the person opens the URL; nothing passes here)."""
        return await self._asking({"mode": "url", "message": message, "url": url, "elicitationId": elicitation_id})

    async def _asking(self, question: dict[str, Any]) -> types.ElicitResult:
        # Runs in a task of its own (the approver's thread asked for it), outside the run's cancel
        # scope: `Task.cancel` cancels it too, or the run would wait for the approval timeout.
        asking = asyncio.current_task()
        self._task.asking.add(asking)
        try:
            return await self._elicit(question)
        finally:
            self._task.asking.discard(asking)

    async def _elicit(self, question: dict[str, Any]) -> types.ElicitResult:
        task = self._task
        if task.modern:
            reply = await task.ask({"method": "elicitation/create", "params": question})
            return types.ElicitResult.model_validate(reply)
        task.status_to("input_required", "waiting for an answer")
        try:
            session, request_id = task.waiter or (self._session, None)
            params_type = types.ElicitRequestURLParams if question["mode"] == "url" else types.ElicitRequestFormParams
            request = types.ElicitRequest(params=params_type.model_validate(
                {**question, "_meta": {RELATED_TASK: {"taskId": task.id}}}))
            return await session.send_request(request, types.ElicitResult,
                                              metadata=ServerMessageMetadata(related_request_id=request_id))
        finally:
            task.status_to("working")

    async def _best_effort(self, sending: Any) -> None:
        with anyio.move_on_after(SEND_TIMEOUT):
            try:
                await sending
            except Exception:  # noqa: BLE001 - boundary: a client gone mid-task must not fail the run
                logger.debug("codemode serve: a task notification could not be sent", exc_info=True)
