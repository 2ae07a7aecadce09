"""The worker's end of the frame channel: tool calls (blocking, and awaitable for asyncio),
the cell's stdout and stderr sent as `stream` frames, and the host's SIGINT held back while a
frame is being written or read, so the channel never carries half a frame.

Imported by the worker: standard library only.
"""

from __future__ import annotations

import io
import itertools
import os
import select
import signal
import sys
import threading
import time

TYPE_CHECKING = False  # importing `typing` costs ~10 ms of worker start-up
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

from codemode.sandbox import _api, _threads
from codemode.sandbox._frames import (
    HEADER,
    MAX_DEPTH,
    MAX_HOST_FRAME,
    MAX_WORKER_FRAME,
    FrameBuffer,
    FrameError,
    encode,
)
from codemode.shared.depth import nests_deeper
from codemode.shared.pipes import READ_SIZE

# Batch writes to stdout for at most this long: one frame per print would cost more than
# the print, while 20 ms still reads as live.
_STREAM_FLUSH_DELAY = 0.02
_STREAM_FLUSH_BYTES = 64 * 1024
# The flusher's stack: it only joins strings and writes frames. A thread's stack counts
# against the worker's memory limit (RLIMIT_DATA); the default is 8 MiB.
_FLUSHER_STACK = 256 * 1024


class _Interrupts:
    """SIGINT as KeyboardInterrupt, except inside a critical section, where it waits.

    Python runs signal handlers in the main thread only, so only the main thread's critical
    sections count; other threads (the stream flusher) never see a KeyboardInterrupt.

    Outside a cell the whole worker loop is one critical section. An interrupt raised there
    could land between taking an `exec` frame off the inbox and running it, and lose the cell
    (the host would wait for a `done` that never comes). One that comes while the worker
    waits for a frame has nothing to stop and is dropped; one that comes after the `exec`
    frame was taken is the cell's, raised as the cell starts (`open`).
    """

    def __init__(self) -> None:
        self.depth = 1  # between cells
        self.deferred = False
        self._main = threading.main_thread()

    def open(self) -> None:
        """A cell starts: interrupts raise again, one that is waiting at once."""
        self.depth = 0
        if self.deferred:
            self.deferred = False
            raise KeyboardInterrupt

    def handler(self, signum: int, frame: Any) -> None:
        if self.depth:
            self.deferred = True
            return
        raise KeyboardInterrupt

    def __enter__(self) -> None:
        if threading.current_thread() is self._main:
            self.depth += 1

    def __exit__(self, *exc: object) -> None:
        if threading.current_thread() is not self._main:
            return
        self.depth -= 1
        if not self.depth and self.deferred:
            self.deferred = False
            raise KeyboardInterrupt


_interrupts = _Interrupts()


class Channel:
    """Both directions of the frame pipe, shared by blocking calls and the asyncio loop."""

    def __init__(self, rfd: int, wfd: int) -> None:
        self._rfd = rfd
        self._wfd = wfd
        self._buffer = FrameBuffer(MAX_HOST_FRAME)
        self._write_lock = threading.Lock()
        self._ids = itertools.count(1)
        self._pending: dict[int, Any] = {}  # call id → asyncio future, or None for a blocking call
        self._results: dict[int, dict[str, Any]] = {}
        self._inbox: list[dict[str, Any]] = []
        self._loop: Any = None

    def send(self, message: dict[str, Any]) -> None:
        frame = encode(message)
        size = len(frame) - HEADER.size
        if size > MAX_WORKER_FRAME:
            # The host would take it for a hostile frame and kill the worker: refuse it here.
            raise FrameError(f"a {message['op']!r} frame of {size} bytes is over the {MAX_WORKER_FRAME}-byte limit")
        if size > 2 * MAX_DEPTH and nests_deeper(message, MAX_DEPTH):  # each level costs two bytes
            raise FrameError(f"a {message['op']!r} frame would nest deeper than {MAX_DEPTH} levels")
        with _interrupts, self._write_lock:
            view = memoryview(frame)
            while view:
                view = view[os.write(self._wfd, view) :]

    def _read_available(self) -> None:
        with _interrupts:
            chunk = os.read(self._rfd, READ_SIZE)
            if not chunk:
                raise EOFError("the host closed the channel")
            self._buffer.feed(chunk)
            while (message := self._buffer.pop()) is not None:
                self._dispatch(message)

    def _dispatch(self, message: dict[str, Any]) -> None:
        if message["op"] != "result":
            self._inbox.append(message)
            return
        call_id = message.get("id")
        if call_id not in self._pending:
            return  # a call the cell gave up on
        waiter = self._pending.pop(call_id)
        if waiter is None:
            self._results[call_id] = message
        elif not waiter.done():
            waiter.set_result(message)

    def _wait_readable(self) -> None:
        # Outside the critical section: a SIGINT here interrupts the wait and consumes nothing.
        select.select([self._rfd], [], [])

    def recv(self) -> dict[str, Any]:
        """Block until the next non-result frame (exec, setup, shutdown)."""
        while not self._inbox:
            self._wait_readable()
            self._read_available()
        return self._inbox.pop(0)

    def search(self, arguments: dict[str, Any]) -> Any:
        """Ask the host to search the session's tools (`codemode.search`)."""
        return self._request("codemode", "search", lambda call_id: self.send(
            {"op": "search", "id": call_id, "arguments": arguments}))

    def call(self, server: str, tool: str, arguments: dict[str, Any]) -> Any:
        _flush_streams()
        return self._request(server, tool, lambda call_id: self._send_call(call_id, server, tool, arguments))

    def _request(self, server: str, tool: str, send: Callable[[int], None]) -> Any:
        """Send one numbered request and block until its result arrives."""
        call_id = next(self._ids)
        self._pending[call_id] = None
        try:
            send(call_id)
            while call_id not in self._results:
                self._wait_readable()
                self._read_available()
            return _unpack(self._results.pop(call_id), server, tool)
        finally:
            self._pending.pop(call_id, None)
            self._results.pop(call_id, None)

    async def acall(self, server: str, tool: str, arguments: dict[str, Any]) -> Any:
        import asyncio

        loop = asyncio.get_running_loop()
        self._watch(loop)
        call_id = next(self._ids)
        future = loop.create_future()
        self._pending[call_id] = future
        try:
            self._send_call(call_id, server, tool, arguments)
            return _unpack(await future, server, tool)
        finally:
            if self._pending.pop(call_id, None) is not None:
                self.send({"op": "cancel", "id": call_id})

    def refused(self, server: str, tool: str, arguments: dict[str, Any], code: str, message: str) -> None:
        """Tell the host of a call refused before it was sent (bad arguments): no reply comes."""
        frame = {"op": "refused", "id": next(self._ids), "server": server, "tool": tool, "code": code,
                 "message": message}
        try:
            self.send({**frame, "arguments": arguments})
        except (FrameError, TypeError, ValueError):  # arguments JSON cannot carry: the refusal still counts
            self.send({**frame, "arguments": {}})

    def _send_call(self, call_id: int, server: str, tool: str, arguments: dict[str, Any]) -> None:
        try:
            self.send({"op": "call", "id": call_id, "server": server, "tool": tool, "arguments": arguments})
        except FrameError as exc:
            raise _api.ToolError(f"the arguments cannot be sent: {exc}",
                                 server=server, tool=tool, code="INVALID_ARGUMENTS") from None

    def _watch(self, loop: Any) -> None:
        if self._loop is not loop:
            loop.add_reader(self._rfd, self._read_available)
            self._loop = loop


def _unpack(message: dict[str, Any], server: str, tool: str) -> Any:
    if message.get("ok"):
        value = message.get("value") or {}
        if isinstance(value.get("note"), str):  # the host cut the result (a value nested too deep)
            print(f"codemode: {server}.{tool}: {value['note']}", file=sys.stderr)
        return _api.decode_value(value)
    error = message.get("error") or {}
    raise _api.ToolError(
        str(error.get("message", "the tool call failed")),
        server=server,
        tool=tool,
        code=str(error.get("code", "UPSTREAM_ERROR")),
    )


class _Flusher:
    """The one thread that sends what a cell printed a moment after it printed it: live, with
    no frame per print.

    Started once, after the worker is confined (a thread started before Landlock's
    `restrict_self` would stay outside its domain), with a small stack. A thread per delayed
    flush mapped a fresh stack each time: near the memory limit that failed, and `print`
    raised "can't start new thread" in the cell, or the worker died writing that error.
    A fork (`--allow-subprocess`) sends what is owed first, with every stream's lock held
    across it, so the child neither repeats the parent's text nor inherits a lock the flusher
    held; in the child (no flusher there) every write is sent at once.
    """

    def __init__(self) -> None:
        self.streams: list[StreamWriter] = []
        self._due = threading.Event()
        self._thread: threading.Thread | None = None
        os.register_at_fork(before=self._hold, after_in_parent=self._let_go, after_in_child=self._forget)

    def start(self) -> None:
        if self._thread is not None:
            return
        before = threading.stack_size(_FLUSHER_STACK)
        # Started with SIGINT blocked, which it keeps: the kernel may deliver a process's signal
        # to any thread that does not block it, and one delivered here would leave the main
        # thread asleep in its wait (a cell's `await asyncio.sleep(600)`: nothing wakes its
        # selector) while the handler waits for the main thread to run Python.
        mask = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
        try:
            thread = threading.Thread(target=self._run, name="codemode-stream-flush", daemon=True)
            _threads.mark_internal(thread)
            thread.start()
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, mask)
            threading.stack_size(before)
        self._thread = thread

    def kick(self) -> bool:
        """Ask for a flush in `_STREAM_FLUSH_DELAY`; False when no thread will (flush now)."""
        if self._thread is None:
            return False
        self._due.set()
        return True

    def _hold(self) -> None:
        for stream in self.streams:
            stream._lock.acquire()
            stream.flush()

    def _let_go(self) -> None:
        for stream in reversed(self.streams):
            stream._lock.release()

    def _forget(self) -> None:
        self._thread = None
        for stream in self.streams:
            stream._lock._at_fork_reinit()  # type: ignore[attr-defined]  # held by the parent's fork
            stream._kicked = False

    def _run(self) -> None:
        while True:
            self._due.wait()
            time.sleep(_STREAM_FLUSH_DELAY)
            self._due.clear()  # before the flush: text written during it asks again
            for stream in self.streams:
                try:
                    stream.flush()
                except Exception:  # noqa: BLE001 - a closed channel: the worker is ending anyway
                    pass


_flusher = _Flusher()


class StreamWriter(io.TextIOBase):
    """sys.stdout / sys.stderr of the worker: text goes to the host in `stream` frames."""

    def __init__(self, channel: Channel, name: str, fd: int) -> None:
        self._channel = channel
        self._name = name
        self._fd = fd
        self._parts: list[str] = []
        self._size = 0
        self._last_flush = 0.0
        self._lock = threading.RLock()
        self._kicked = False  # the flusher was asked to send this stream's parts
        _flusher.streams.append(self)
        self._sending = False  # set, under the lock, before the parts are taken to send

    @property
    def pending(self) -> bool:
        """Text not yet sent, or being sent by another thread. Read without the lock (most
        tool calls have nothing to flush): `_sending` is set before `_parts` is emptied."""
        return bool(self._parts) or self._sending

    @property
    def name(self) -> str:
        return f"<{self._name}>"

    @property
    def encoding(self) -> str:  # type: ignore[override]  # read-only, as a real text file's
        return "utf-8"

    def writable(self) -> bool:
        return True

    def isatty(self) -> bool:
        return False

    def fileno(self) -> int:
        return self._fd

    def write(self, text: str) -> int:
        if not isinstance(text, str):
            raise TypeError(f"write() argument must be str, not {type(text).__name__}")
        if not text:
            return 0
        # Critical: an interrupt inside the lock would leave the buffer half-updated; it
        # lands after the write.
        with _interrupts, self._lock:
            self._parts.append(text)
            self._size += len(text)
            now = time.monotonic()
            # At once only when a line is complete: `print` writes its text and its "\n"
            # apart, and one frame per printed line is one stream message (one log message
            # in `codemode serve`), not two.
            if self._size >= _STREAM_FLUSH_BYTES or (
                    now - self._last_flush >= _STREAM_FLUSH_DELAY and text.endswith("\n")):
                self.flush()
            elif not self._kicked:
                if _flusher.kick():
                    self._kicked = True
                else:
                    self.flush()
        return len(text)

    def flush(self) -> None:
        # Sent under the lock: a flush by the flusher thread must not land after the `done`
        # that the cell's final flush precedes.
        with _interrupts, self._lock:
            self._kicked = False
            if not self._parts:
                return
            self._sending = True
            text = "".join(self._parts)
            self._parts.clear()
            self._size = 0
            self._last_flush = time.monotonic()
            try:
                # In pieces: one huge write must not make a frame over the host's limit.
                for start in range(0, len(text), _STREAM_FLUSH_BYTES):
                    piece = text[start : start + _STREAM_FLUSH_BYTES]
                    self._channel.send({"op": "stream", "name": self._name, "text": piece})
            finally:
                self._sending = False


def _flush_streams() -> None:
    """Send what the cell printed before a tool call, so the call follows it in the output."""
    for stream in (sys.stdout, sys.stderr):
        if isinstance(stream, StreamWriter) and stream.pending:
            stream.flush()
