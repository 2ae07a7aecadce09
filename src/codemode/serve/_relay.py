"""A run's live events, from the thread that runs it to the `codemode serve` client.

While an `execute` runs, each tool call's start and end go to the client as progress
notifications (when its request carried a progress token), and the code's prints as log
messages (at or above the level the client asked for), or, where the request asked for no
log level but for progress (the 2026 era, whose logging is deprecated), as progress messages;
and where a tracing SDK records the request's span, as its events. What a request cannot carry costs
nothing: no hop to the server's loop (see `Relay.carries`).
"""

from __future__ import annotations

import logging
import warnings
from typing import TYPE_CHECKING, Any

import anyio.from_thread
import mcp_types as types
from mcp.server.connection import allowed_log_levels
from mcp.server.context import ServerRequestContext
from mcp.shared.exceptions import MCPDeprecationWarning
from opentelemetry import trace

from codemode.serve._tasks import in_task

if TYPE_CHECKING:
    from codemode.engine import Event
    from codemode.trace import ToolCall

logger = logging.getLogger(__name__)

#: Where a handshake-era connection keeps the level its `logging/setLevel` asked for.
LOG_LEVEL_KEY = "codemode.log_level"
#: The spec's levels, least severe first.
LEVELS = ("debug", "info", "notice", "warning", "error", "critical", "alert", "emergency")

class Relay:
    """Carries a run's live events from its thread to the client, in order.

    `on_event` is called on the thread that runs `Session.run` (an anyio worker thread), so
    it reaches the request's context on the server's loop with `anyio.from_thread.run`.
    The request context stays reachable here for what else a run may need to ask the
    client mid-run (an approval through elicitation: `self.ctx.session.elicit_form`).
    """

    def __init__(self, ctx: ServerRequestContext[Any]) -> None:
        self.ctx = ctx
        self._steps = 0

    @property
    def ctx(self) -> ServerRequestContext[Any]:
        return self._ctx

    @ctx.setter
    def ctx(self, ctx: ServerRequestContext[Any]) -> None:
        # What this request can carry, known up front: an event it cannot carry costs no hop
        # to the loop (a 2026 request gets progress only with a token, logs only when it asked).
        self._ctx = ctx
        meta = dict(ctx.meta or {})
        # A run that became a task reports to the task (its status message) with or without a token.
        self.progress = meta.get("progress_token", meta.get("progressToken")) is not None or in_task(ctx)
        self.logs = bool(allowed_log_levels(ctx.protocol_version, meta))
        # The request's span (the SDK's server middleware opens one): prints become its events
        # where a tracing SDK records it. The run's tool calls are its children (see `_runpath`).
        self.span = trace.get_current_span()

    @property
    def carries(self) -> bool:
        """Whether this request can carry any live event (else `on_event` need not be called)."""
        return self.progress or self.logs or self.span.is_recording()

    def on_event(self, event: Event) -> None:
        kind, data = event
        if kind in ("stdout", "stderr") and data and self.span.is_recording():
            self.span.add_event(f"codemode.{kind}", {"text": _print_message(kind, data).partition(": ")[2]})
        try:
            if kind == "call" and self.progress:
                anyio.from_thread.run(self._progress, _call_message(data))
            elif kind in ("stdout", "stderr") and data and self.logs:
                anyio.from_thread.run(self._log, kind, data)
            elif kind in ("stdout", "stderr") and data and self.progress:
                # Logging is deprecated in the 2026 era: a request that asked for progress and no
                # log level gets the code's prints as progress messages, the last of each piece.
                anyio.from_thread.run(self._progress, _print_message(kind, data))
        except Exception:
            logger.debug("codemode serve: a live event could not be sent", exc_info=True)

    async def _progress(self, message: str) -> None:
        self._steps += 1
        await self.ctx.session.report_progress(self._steps, None, message)

    async def _log(self, stream: str, text: str) -> None:
        level: types.LoggingLevel = "info" if stream == "stdout" else "warning"
        connection = getattr(self.ctx.session, "_connection", None)
        wanted = connection.state.get(LOG_LEVEL_KEY, "debug") if connection is not None else "debug"
        if LEVELS.index(level) < LEVELS.index(wanted):
            return
        with warnings.catch_warnings():  # MCP logging is deprecated in the 2026 era; this server is pre-2026
            warnings.simplefilter("ignore", MCPDeprecationWarning)
            pending = self.ctx.session.send_log_message(level=level, data=text,
                                                        logger=stream, related_request_id=self.ctx.request_id)
        await pending


#: The most of a print a progress message carries (its end: the newest output).
PRINT_MESSAGE_CHARS = 500


def _print_message(stream: str, text: str) -> str:
    shown = text.rstrip("\n")
    if len(shown) > PRINT_MESSAGE_CHARS:
        shown = "…" + shown[-PRINT_MESSAGE_CHARS:]
    return f"{stream}: {shown}"


def _call_message(call: ToolCall) -> str:
    name = f"{call.server}.{call.tool}"
    if call.ok is None:
        return f"{name} started"
    duration = f" in {call.duration * 1000:.0f} ms" if call.duration is not None else ""
    if call.ok:
        return f"{name} ok{duration}"
    return f"{name} failed{duration} [{call.error_code}]"
