"""What the host keeps while one run goes: its output streams (capped), its calls' log, the
wire JSON for the token account, its displays, and the calls waiting for a person's yes."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from codemode.outputs import Outputs
from codemode.tokens.accounting import Accountant
from codemode.trace import ToolCall
from codemode.trace._calllog import CallLog
from codemode.trust.approval import Answer, ApprovalRequest
from codemode.trust.elicitation import Question, Reply
from codemode.trust.policy import Policy

# What a run's stdout or stderr keeps by default: past it, the head and the tail are kept and
# the middle is counted (OUTPUT_TRUNCATED). A notebook output of a million characters is
# already more than anyone reads.
DEFAULT_MAX_OUTPUT = 1_000_000
# Characters of wire JSON a run holds for its token account before it counts them and keeps
# only the totals: a run of 10,000 calls must not hold every argument and result.
WIRE_HELD = 2 * 1024 * 1024
# A display output with more characters than this is cleaned off the event loop: a thread hop
# costs more than cleaning a small one, and a big one can cost seconds (Markdown, HTML).
CLEAN_ON_LOOP_CHARS = 16 * 1024

logger = logging.getLogger(__name__)
T = TypeVar("T")


def bundle_chars(data: object) -> int:
    """The characters of a bundle's text values (what cleaning it costs, roughly)."""
    if not isinstance(data, dict):
        return 0
    return sum(len(value) for value in data.values() if isinstance(value, str))


class _Stream:
    """One output stream of a run, capped: the first half of the cap is kept and shown live,
    then only a rolling tail of the other half is kept, and the rest is counted."""

    def __init__(self, limit: int) -> None:
        self._half = max(1, limit // 2)
        self._head: list[str] = []
        self._head_size = 0
        self._tail = ""
        self.dropped = 0

    def add(self, text: str) -> str:
        """Keep `text`; return the part to show live ("" once past the head)."""
        room = self._half - self._head_size
        shown = text[:room] if room > 0 else ""
        if shown:
            self._head.append(shown)
            self._head_size += len(shown)
        rest = text[len(shown):]
        if rest:
            tail = self._tail + rest
            self.dropped += max(0, len(tail) - self._half)
            self._tail = tail[-self._half:]
        return shown

    def text(self) -> str:
        if not self.dropped:
            return "".join(self._head) + self._tail
        marker = f"\n[codemode: {self.dropped:,} characters of output dropped (OUTPUT_TRUNCATED)]\n"
        return "".join(self._head) + marker + self._tail

    @property
    def tail_shown_late(self) -> str:
        """What was kept past the head, to show when the run ends."""
        return self._tail


def _settle_from_thread(loop: asyncio.AbstractEventLoop, future: asyncio.Future[T], value: T) -> None:
    """Resolve a future of the hub's loop from the run's calling thread, unless the host has
    given up waiting already."""

    def settle() -> None:
        if not future.done():
            future.set_result(value)

    loop.call_soon_threadsafe(settle)


@dataclass
class _Ask:
    """A call waiting for a person's yes: put on the run's event queue, answered on the thread
    that called `Session.run` (a prompt must run there), resolved back on the hub's loop."""

    request: ApprovalRequest
    call: ToolCall
    future: asyncio.Future[Answer]
    loop: asyncio.AbstractEventLoop

    def resolve(self, answer: Answer) -> None:
        _settle_from_thread(self.loop, self.future, answer)


@dataclass
class _Question:
    """A server's question during a call, answered on the run's calling thread as `_Ask` is."""

    question: Question
    call: ToolCall
    future: asyncio.Future[Reply]
    loop: asyncio.AbstractEventLoop

    def resolve(self, reply: Reply) -> None:
        _settle_from_thread(self.loop, self.future, reply)


@dataclass
class _Run:
    started: float
    policy: Policy
    emit: Callable[[Any], None]
    id: str = ""
    approval_timeout: float = 0.0  # seconds an approver may take
    elicit: str = "ask"  # what a server's question gets (codemode.elicit, --elicit)
    max_output: int = DEFAULT_MAX_OUTPUT
    log: CallLog = field(default_factory=CallLog)  # the first calls and failures whole, the rest summarised
    streams: dict[str, _Stream] = field(default_factory=dict)
    # For the token account: what classic tool calling would pass through a model.
    wire_arguments: list[str] = field(default_factory=list)
    wire_results: list[str] = field(default_factory=list)
    wire_held: int = 0
    counted: dict[str, int] = field(default_factory=lambda: {"arguments": 0, "results": 0})
    searches: list[str] = field(default_factory=list)
    outputs: Outputs = field(default_factory=Outputs)
    refused: int = 0  # refused calls kept in `calls`
    refused_dropped: int = 0  # and those past _calls.MAX_REFUSED_CALLS, only counted
    full_results: dict[int, str] | None = None  # call id → its whole wire result, when kept (an app's call)
    via_app: int | None = None  # the run of an app's call: the id of the call whose app made it (audit)

    def keep_wire(self, kind: str, text: str, accountant: Accountant) -> None:
        """Hold one call's wire JSON for the token account; past WIRE_HELD, count what is held."""
        (self.wire_arguments if kind == "arguments" else self.wire_results).append(text)
        self.wire_held += len(text)
        if self.wire_held > WIRE_HELD:
            count = accountant.tokenizer.count
            for name, texts in (("arguments", self.wire_arguments), ("results", self.wire_results)):
                self.counted[name] += sum(count(t) for t in texts)
                texts.clear()
            self.wire_held = 0

    def on_display(self, output: dict[str, Any]) -> asyncio.Future[None] | None:
        """Clean one display output and show it. A big one is cleaned off the event loop (its
        Markdown and HTML cost more than their size): the future holds the worker's channel
        until it is done, so the cell waits and its later output keeps its place."""
        if bundle_chars(output.get("data")) <= CLEAN_ON_LOOP_CHARS:
            self._show(self.outputs.add(output))
            return None

        async def clean() -> None:
            try:
                self._show(await asyncio.to_thread(self.outputs.add, output))
            except Exception:  # noqa: BLE001 - boundary: a cleaner's bug loses the output, not the run
                logger.exception("a display output could not be cleaned")

        return asyncio.ensure_future(clean())

    def _show(self, shown: dict[str, Any] | None) -> None:
        if shown is not None:
            self.emit(("display", shown))

    async def clean_result(self, result: dict[str, Any] | None) -> dict[str, Any] | None:
        """The cell's result with a rich bundle cleaned (off the loop when it is big)."""
        if result is None or result.get("kind") != "mime" or bundle_chars(result.get("data")) <= CLEAN_ON_LOOP_CHARS:
            return self.outputs.result(result)
        return await asyncio.to_thread(self.outputs.result, result)

    def on_stream(self, name: str, text: str) -> None:
        stream = self.streams.get(name)
        if stream is None:
            stream = self.streams[name] = _Stream(self.max_output)
        before = stream.dropped + len(stream.tail_shown_late)
        shown = stream.add(text)
        if shown:
            self.emit((name, shown))
        if not before and (stream.dropped or stream.tail_shown_late):
            self.emit((name, f"\n[codemode: output over {self.max_output // 2:,} characters; "
                             "the rest shows when the cell ends, its middle dropped]\n"))

    def finish_streams(self) -> tuple[str, str, dict[str, int]]:
        """The kept stdout and stderr, after showing their tails; and what was dropped."""
        for name, stream in self.streams.items():
            if stream.tail_shown_late:
                marker = f"[codemode: {stream.dropped:,} characters dropped]\n" if stream.dropped else ""
                self.emit((name, marker + stream.tail_shown_late))
        dropped = {name: s.dropped for name, s in self.streams.items() if s.dropped}
        text = {name: s.text() for name, s in self.streams.items()}
        return text.get("stdout", ""), text.get("stderr", ""), dropped


def _asks_only(put: Callable[[Any], None]) -> Callable[[Any], None]:
    """An emit that passes on only approval questions (the caller's thread asks them)."""
    def emit(item: Any) -> None:
        if isinstance(item, (_Ask, _Question)):
            put(item)

    return emit
