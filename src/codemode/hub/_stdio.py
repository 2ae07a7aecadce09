"""The stdio transport the hub gives the SDK's `Client`: the server's pipes are read and
written from the event loop's own callbacks.

The SDK's `stdio_client` bridges each pipe to the session through a task and an in-memory
stream, so every request and every response takes one more loop turn (measured: 0.90-0.97×
its time per call on the demo server and on mcp-server-time, `bench/tool_calls.py`'s
docstring). Here a response line is parsed in `pipe_data_received` and handed straight to
the session's receive loop, and the session's `send` writes its request to the pipe itself.
The session, its JSON-RPC and its validation stay the SDK's.

Invariants, as in the SDK's transport:
- The server starts in a new session (its own process group), with the SDK's default
  environment under the server's own variables.
- Shutdown: close stdin, give the server PROCESS_TERMINATION_TIMEOUT to exit, SIGTERM its
  group, SIGKILL the group FORCE_KILL_TIMEOUT later. `_tether.py` counts on that order.
  Shutdown is shielded, so a cancelled caller cannot leak the server.
- A line that is not a JSON-RPC message reaches the session as an exception (the SDK logs
  it), never kills the connection; the end of stdout, or a write that fails, is the end of
  the read stream: the session fails its waiting requests with CONNECTION_CLOSED.
- At most READ_AHEAD parsed messages wait for the session: past that the pipe is not read,
  and a server flooding it blocks in its own write. Once the session stops reading, the pipe
  is read and dropped, so such a server can still exit at shutdown.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import anyio

from codemode.shared.depth import cut_to, nests_deeper
from codemode.shared.pipes import read_in_small_chunks

if TYPE_CHECKING:
    from mcp.shared.message import SessionMessage

logger = logging.getLogger(__name__)

# The SDK's own values (`mcp.client.stdio`; a test holds them equal). They are written out,
# not imported: this module must not import the SDK, so that a server starts while the SDK's
# import (about a second) runs on a thread.
PROCESS_TERMINATION_TIMEOUT = 2.0  # for the server to exit by itself once its stdin closes
FORCE_KILL_TIMEOUT = 2.0  # from SIGTERM to SIGKILL of its group
INHERITED_ENV = ("HOME", "LOGNAME", "PATH", "SHELL", "TERM", "USER")  # the SDK's POSIX list
READ_AHEAD = 256
# After the SIGKILL: time for the loop to see the exit; only an unkillable process runs it out.
REAP_TIMEOUT = 2.0
# Levels of an answer the SDK's parser is given: it refuses much deeper ones (its recursion
# limit, near 130 levels of a result), and a refused answer would leave its call waiting for
# the call's timeout. Deeper parts arrive as JSON text (`_results.RESULT_LEVELS` cuts again).
ANSWER_LEVELS = 100
# How often the group is probed between SIGTERM and SIGKILL.
GROUP_POLL = 0.01


class _ServerPipes(asyncio.SubprocessProtocol):
    """The server process's side of the loop: lines in, bytes out, its exit."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.inbox: deque[SessionMessage | Exception] = deque()
        self.ended = False  # stdout at its end, or stdin broken: nothing more will come
        self.exited = loop.create_future()
        self._loop = loop
        self._partial: list[bytes] = []  # the chunks of a line not yet ended
        self._reader: asyncio.Future[None] | None = None
        self._drained: asyncio.Future[None] | None = None
        self._transport: asyncio.SubprocessTransport | None = None
        self._reading_paused = False
        self._discarding = False  # the session is gone: what the server still writes is dropped

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport  # type: ignore[assignment]

    def pipe_data_received(self, fd: int, data: bytes) -> None:
        if fd != 1 or self._discarding:
            return
        if b"\n" not in data:  # part of a long line: kept as chunks, joined once it ends
            self._partial.append(data)
            return
        lines = data.split(b"\n")
        if self._partial:
            lines[0] = b"".join([*self._partial, lines[0]])
            self._partial.clear()
        if last := lines.pop():
            self._partial.append(last)
        for line in lines:
            if line.strip():
                self.inbox.append(_parse(line))
        if len(self.inbox) >= READ_AHEAD and not self._reading_paused:
            self._stdout().pause_reading()
            self._reading_paused = True
        self._wake()

    def pipe_connection_lost(self, fd: int, exc: Exception | None) -> None:
        if fd == 1 or (fd == 0 and exc is not None):
            # A broken stdin while the server may live on: end the read side too, or a
            # request would wait for an answer that cannot come.
            self.ended = True
            self._wake()
        if fd == 0:
            self.resume_writing()

    def process_exited(self) -> None:
        if not self.exited.done():
            self.exited.set_result(None)

    def pause_writing(self) -> None:
        if self._drained is None:
            self._drained = self._loop.create_future()

    def resume_writing(self) -> None:
        drained, self._drained = self._drained, None
        if drained is not None and not drained.done():
            drained.set_result(None)

    async def next(self) -> SessionMessage | Exception:
        if self.inbox:
            # A backlog (a burst of notifications): one message a loop turn, as the SDK's
            # streams do, so the session's dispatch cannot keep the loop from other tasks.
            await asyncio.sleep(0)
        while not self.inbox:
            if self.ended:
                raise anyio.EndOfStream
            self._reader = self._loop.create_future()
            try:
                await self._reader
            finally:
                self._reader = None
        item = self.inbox.popleft()
        if self._reading_paused and len(self.inbox) < READ_AHEAD // 2:
            self._reading_paused = False
            self._stdout().resume_reading()
        return item

    def write(self, data: bytes) -> asyncio.Future[None] | None:
        """Queue bytes for stdin; a future to await while the pipe's buffer is full."""
        stdin = self._stdin()
        if stdin is None or stdin.is_closing():
            raise anyio.BrokenResourceError("the server's stdin is closed")
        stdin.write(data)
        return self._drained

    def discard(self) -> None:
        """The session stopped reading: drop what is queued and keep reading the pipe, so a
        server blocked writing to it can still see its stdin close and exit (as the SDK's
        transport drains it)."""
        self.ended = self._discarding = True
        self.inbox.clear()
        if self._reading_paused:
            self._reading_paused = False
            self._stdout().resume_reading()
        self._wake()

    def _wake(self) -> None:
        if self._reader is not None and not self._reader.done():
            self._reader.set_result(None)

    def _stdout(self) -> Any:
        assert self._transport is not None
        return self._transport.get_pipe_transport(1)

    def _stdin(self) -> Any:
        return self._transport.get_pipe_transport(0) if self._transport is not None else None


def _parse(line: bytes) -> SessionMessage | Exception:
    # Imported here: by the time a server answers `initialize`, the SDK is loaded.
    import mcp_types
    from mcp.shared.message import SessionMessage

    try:
        return SessionMessage(mcp_types.jsonrpc_message_adapter.validate_json(line, by_name=False))
    except ValueError as exc:
        answer = _answer_anyway(line)
        if answer is not None:
            return answer
        logger.warning("a line from the MCP server is not a JSON-RPC message: %.200r", line)
        return exc


def _answer_anyway(line: bytes) -> SessionMessage | None:
    """An answer the SDK's parser refused, as an answer still: cut to ANSWER_LEVELS when it is
    too deep, else an error for its request, so the call fails now instead of at its timeout.
    None for a line that is not JSON with an id (the session logs it)."""
    import json

    import mcp_types
    from mcp.shared.message import SessionMessage

    try:
        message = json.loads(line)
    except (ValueError, RecursionError):
        return None
    if not (isinstance(message, dict) and isinstance(message.get("id"), (int, str))
            and ("result" in message or "error" in message)):
        return None
    if nests_deeper(message, ANSWER_LEVELS):
        try:
            return SessionMessage(mcp_types.jsonrpc_message_adapter.validate_python(
                cut_to(message, ANSWER_LEVELS), by_name=False))
        except ValueError:
            pass
    logger.warning("an answer from the MCP server is not valid JSON-RPC: %.200r", line)
    error = mcp_types.ErrorData(code=mcp_types.INTERNAL_ERROR,
                                message="the server's answer is not valid JSON-RPC (see the host's log)")
    return SessionMessage(mcp_types.JSONRPCError(jsonrpc="2.0", id=message["id"], error=error))


class _ReadStream:
    """What the session reads: the server's messages, in order, until stdout ends."""

    def __init__(self, pipes: _ServerPipes) -> None:
        self._pipes = pipes
        self._closed = False

    async def receive(self) -> SessionMessage | Exception:
        if self._closed:
            raise anyio.ClosedResourceError
        return await self._pipes.next()

    def __aiter__(self) -> _ReadStream:
        return self

    async def __anext__(self) -> SessionMessage | Exception:
        try:
            return await self.receive()
        except anyio.EndOfStream:
            raise StopAsyncIteration from None

    async def aclose(self) -> None:
        self._closed = True
        self._pipes.discard()

    async def __aenter__(self) -> _ReadStream:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


class _WriteStream:
    """What the session writes: each message becomes one line on the server's stdin."""

    def __init__(self, pipes: _ServerPipes) -> None:
        self._pipes = pipes
        self._closed = False

    async def send(self, item: SessionMessage, /) -> None:
        if self._closed:
            raise anyio.ClosedResourceError
        line = item.message.model_dump_json(by_alias=True, exclude_unset=True).encode() + b"\n"
        drained = self._pipes.write(line)
        if drained is not None:
            await drained

    async def aclose(self) -> None:
        self._closed = True

    async def __aenter__(self) -> _WriteStream:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


@asynccontextmanager
async def stdio_transport(command: str, args: list[str], env: dict[str, str] | None,
                          cwd: str | Path | None, errlog: IO[str]) -> AsyncIterator[tuple[_ReadStream, _WriteStream]]:
    """Start the server and yield the session's (read, write) streams; stop it on exit.

    Raises OSError when the command cannot be started."""
    loop = asyncio.get_running_loop()
    transport, pipes = await loop.subprocess_exec(
        lambda: _ServerPipes(loop), command, *args,
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=errlog,
        env=default_environment() | (env or {}), cwd=cwd, start_new_session=True)
    read_in_small_chunks(transport.get_pipe_transport(1))
    read, write = _ReadStream(pipes), _WriteStream(pipes)
    try:
        yield read, write
    finally:
        with anyio.CancelScope(shield=True):
            await read.aclose()
            await write.aclose()
            await _stop(transport, pipes)


def default_environment() -> dict[str, str]:
    """The variables a server inherits by default, as the SDK's `get_default_environment`."""
    return {key: value for key in INHERITED_ENV
            if (value := os.environ.get(key)) is not None and not value.startswith("()")}


async def _stop(transport: asyncio.SubprocessTransport, pipes: _ServerPipes) -> None:
    stdin = transport.get_pipe_transport(0)
    if stdin is not None:
        stdin.close()
    if not await _exited(pipes, PROCESS_TERMINATION_TIMEOUT):
        pgid = transport.get_pid()  # the leader of its own session: its pid is the group's id
        if _signal_group(pgid, signal.SIGTERM):
            with anyio.move_on_after(FORCE_KILL_TIMEOUT) as waiting:
                while _group_alive(pgid):
                    await anyio.sleep(GROUP_POLL)
            if waiting.cancelled_caught:
                _signal_group(pgid, signal.SIGKILL)
        if not await _exited(pipes, REAP_TIMEOUT):
            logger.warning("MCP server process %d is still alive after SIGKILL; abandoning it", pgid)
    transport.close()


async def _exited(pipes: _ServerPipes, timeout: float) -> bool:
    with anyio.move_on_after(timeout):
        await asyncio.shield(pipes.exited)
        return True
    return False


def _signal_group(pgid: int, signum: int) -> bool:
    """Signal the group; False when it is gone already."""
    try:
        os.killpg(pgid, signum)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # as below: not proof that it is gone
    return True


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # a member we may not signal, or an unreaped zombie: not proof it is gone
    return True
