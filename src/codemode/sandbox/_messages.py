"""The worker's channel as the host reads it: the requests and outcomes a cell's frames
carry, and the protocol that reads them as they arrive. Every frame is checked
(`_checks.check_frame`) before anything here reads it; a bad one ends the worker."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from codemode.sandbox._checks import check_frame
from codemode.sandbox._frames import MAX_WORKER_FRAME, FrameBuffer, FrameError, decode


@dataclass(frozen=True)
class CallRequest:
    """A request the cell made of the host: a tool call (Python names of server and tool,
    and the arguments) or, with `op` "search", a search of the tools (`codemode.search`)."""

    id: int
    server: str
    tool: str
    arguments: dict[str, Any]
    op: str = "call"  # "search"; "refused": the worker refused it itself, `refusal` says why
    refusal: tuple[str, str] | None = None  # (code, message)


@dataclass
class CellOutcome:
    """How a cell ended, as the worker (or the host, if the worker could not) reported it."""

    ok: bool
    result: dict[str, Any] | None = None
    error: dict[str, Any] | None = None
    timed_out: bool = False
    state_lost: bool = False
    threads: dict[str, list[str]] | None = None  # the cell's threads stopped / still running at its end
    notices: list[str] = field(default_factory=list)  # what the host did about the cell's leftovers
    shadowed: dict[str, str] = field(default_factory=dict)  # server name -> type of what the cell put there


CallHandler = Callable[[CallRequest], Awaitable[dict[str, Any]]]
StreamHandler = Callable[[str, str], None]
# A display output as the worker sent it, checked for shape only (`codemode.outputs` cleans it).
# A handler that returns a future has the channel held until it settles (the work it does off
# the event loop keeps its place among the cell's frames, and the cell waits for it).
DisplayHandler = Callable[[dict[str, Any]], "asyncio.Future[None] | None"]
# What the host does with one frame (and its size in bytes): None, or a future until which no
# further frame is read (`ChannelProtocol`).
FrameHandler = Callable[[dict[str, Any], int], "asyncio.Future[Any] | None"]


@dataclass
class Cell:
    id: int
    on_call: CallHandler
    on_stream: StreamHandler
    done: asyncio.Future[dict[str, Any]]
    calls: dict[int, asyncio.Task[None]] = field(default_factory=dict)
    on_display: DisplayHandler | None = None
    # Settled with `done`, or by the cell's timeout: what the run awaits. One future that the
    # run awaits itself resumes it a loop turn after the done frame (`asyncio.wait` takes two).
    turn: asyncio.Future[None] | None = None
    sizes: dict[int, int] = field(default_factory=dict)  # bytes of each call's frame, while in flight
    in_flight: int = 0  # their sum
    room: asyncio.Future[None] | None = None  # the channel waits on it while calls are over their cap

    def settle(self) -> None:
        if self.turn is not None and not self.turn.done():
            self.turn.set_result(None)


class WorkerDied(Exception):
    def __init__(self, reason: str, code: str = "SANDBOX_CRASHED", kind: str = "WorkerCrashedError") -> None:
        super().__init__(reason)
        self.code = code
        self.kind = kind


class ChannelProtocol(asyncio.Protocol):
    """Reads the worker's frames and handles each as it arrives, in `data_received`.

    Handling frames in the protocol callback, not in a task reading a StreamReader, saves
    an event-loop turn per frame: on a tool call's path that is most of the host's cost.
    `ended` resolves to None when the worker closes its end, or to the FrameError that made
    the host stop listening.

    A handler may hold the channel: it returns a future, and no further frame is handled, nor
    the pipe read, until that settles. The worker then blocks on a full pipe, so the code
    waits: this is how the host bounds the calls in flight and keeps work it does off the
    event loop in the cell's order.
    """

    def __init__(self, handle: FrameHandler, ended: asyncio.Future[FrameError | None]) -> None:
        self._handle = handle
        self._buffer = FrameBuffer(MAX_WORKER_FRAME)
        self.ended = ended
        self._transport: asyncio.ReadTransport | None = None
        self._held = False
        self._eof = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.ReadTransport)
        self._transport = transport

    def data_received(self, data: bytes) -> None:
        if self.ended.done():
            return
        self._buffer.feed(data)
        self._drain()

    def _drain(self) -> None:
        try:
            while not self._held and (body := self._buffer.pop_body()) is not None:
                hold = self._handle(check_frame(decode(body), body), len(body))
                if hold is not None and not hold.done():
                    self._held = True
                    if self._transport is not None:
                        self._transport.pause_reading()
                    hold.add_done_callback(self._release)
        except FrameError as exc:
            self._end(exc)

    def _release(self, _: asyncio.Future[Any]) -> None:
        self._held = False
        if self.ended.done():
            return
        if self._transport is not None and not self._eof:
            self._transport.resume_reading()
        self._drain()

    def _end(self, problem: FrameError | None) -> None:
        if not self.ended.done():
            self.ended.set_result(problem)
        if problem is not None and self._transport is not None:
            self._transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        # Frames still held are dropped: the worker is gone, and its death ends the cell.
        self._eof = True
        self._end(None)


class RawOutput(asyncio.Protocol):
    """One of the worker's output pipes (fd 1 or 2): what is written there below Python's
    `sys.stdout`, a C library or a subprocess, handed on as it is read."""

    def __init__(self, deliver: Callable[[str, bytes], None], name: str, loop: asyncio.AbstractEventLoop) -> None:
        self._deliver = deliver
        self._name = name
        self._transport: asyncio.BaseTransport | None = None
        self.closed: asyncio.Future[None] = loop.create_future()  # the pipe's end

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport

    def data_received(self, data: bytes) -> None:
        self._deliver(self._name, data)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.closed.done():
            self.closed.set_result(None)

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()


def call_request(message: dict[str, Any]) -> CallRequest:
    op = message["op"]
    call_id, arguments = message.get("id"), message.get("arguments")
    server, tool = (message.get(k, "") if op == "search" else message.get(k) for k in ("server", "tool"))
    if not (isinstance(call_id, int) and isinstance(server, str) and isinstance(tool, str)
            and isinstance(arguments, dict)):
        raise FrameError(f"a {op} frame needs an integer id, server and tool names, and an arguments object")
    refusal = (str(message["code"]), str(message["message"])) if op == "refused" else None
    return CallRequest(call_id, server, tool, arguments, op, refusal)


def display_output(message: dict[str, Any]) -> dict[str, Any]:
    """The fields of a `display` frame, or FrameError when it is not the shape the worker sends."""
    data, metadata, display_id = message.get("data"), message.get("metadata", {}), message.get("display_id")
    if not (isinstance(data, dict) and all(isinstance(key, str) for key in data)
            and isinstance(metadata, dict) and (display_id is None or isinstance(display_id, str))
            and isinstance(message.get("update", False), bool)):
        raise FrameError("a display frame needs a data object keyed by MIME type, a metadata object, "
                         "and a string or null display_id")
    return {"data": data, "metadata": metadata, "display_id": display_id,
            "update": bool(message.get("update")), "truncated": bool(message.get("truncated"))}


def outcome_of(done: dict[str, Any]) -> CellOutcome:
    error = done.get("error")
    result = done.get("result")
    threads = done.get("threads")
    shadowed = done.get("shadowed")
    return CellOutcome(
        ok=bool(done.get("ok")),
        result=result if isinstance(result, dict) else None,
        error=error if isinstance(error, dict) else None,
        threads=threads if isinstance(threads, dict) else None,
        shadowed=dict(shadowed) if isinstance(shadowed, dict) else {},
    )


def lost(reason: str, *, timed_out: bool = False, code: str = "SANDBOX_CRASHED",
          kind: str = "WorkerCrashedError") -> CellOutcome:
    return CellOutcome(
        ok=False,
        error={
            "type": "CellTimeoutError" if timed_out else kind,
            "code": "TIMEOUT" if timed_out else code,
            "message": f"{reason}; the worker was stopped and its variables are lost "
            "(the next cell starts a fresh one)",
            "traceback": "",
        },
        timed_out=timed_out,
        state_lost=True,
    )
