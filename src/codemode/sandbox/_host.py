"""The host side of the sandbox: runs cells in the worker, carries frames, enforces time.

Runs on the hub's event loop (asyncio: the pipes are read with the loop's own pipe
transports, so a tool call goes worker → loop → MCP session → loop → worker without an extra
thread). Invariants:

- Nothing the worker sends is trusted: every frame is length-capped before it is read, must
  be a JSON object of a known shape, and a frame that is not ends the worker (ChannelError).
- The host owns time. A cell past its timeout gets SIGINT (a KeyboardInterrupt in the cell,
  state kept); if it has not finished after a grace period, the worker's process group is
  killed and the outcome says the state was lost. The next `run` starts a fresh worker.
- The host decides when a cell is over: when its `done` frame arrives (which the code may
  have written itself) the worker's process group is paused (SIGSTOP, all but the guard)
  and resumed only to read the next frame the host sends; between cells nothing runs.
- A worker never outlives its Sandbox: `aclose` (and a dying host's closed pipes) end it.
- Bounded memory for calls in flight: past MAX_CALLS_IN_FLIGHT calls, or MAX_CALL_BYTES_IN_FLIGHT
  bytes of their frames, the host stops reading the channel until one ends; the worker blocks
  writing its next frame, so the code waits (48 gathered calls of 4 MiB grew the host by
  ~630 MB before).

The worker process itself (its start, signals, death and stop) is `_process.WorkerProcess`.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import os
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from codemode.sandbox import _proctable, _watch, _workdir
from codemode.sandbox._frames import FrameError
from codemode.sandbox._messages import (
    CallHandler,
    CallRequest,
    Cell,
    CellOutcome,
    DisplayHandler,
    RawOutput,
    StreamHandler,
    WorkerDied,
    call_request,
    display_output,
    lost,
    outcome_of,
)
from codemode.sandbox._process import START_TIMEOUT, WorkerProcess, group_size, kill_group
from codemode.sandbox._workerspec import Limits, active, sharing_memory
from codemode.shared.words import a_or_an

logger = logging.getLogger(__name__)

# After SIGINT, a cell gets this long to unwind before the worker is killed. A Python loop
# or a sleep stops in milliseconds; a C-level loop never does (it ignores the signal).
INTERRUPT_GRACE = 2.0
# Calls of one cell in flight at once: far past honest fan-out (asyncio.gather of a few dozen).
MAX_CALLS_IN_FLIGHT = 64
# Bytes of call frames in flight: each costs the host a few times its size (the decoded
# arguments, their JSON for the server and the SDK's copy), and one frame may be 32 MiB.
MAX_CALL_BYTES_IN_FLIGHT = 16 * 1024 * 1024


class Sandbox(WorkerProcess):
    """One worker process at a time, restarted after it dies.

    Args:
        setup: the `setup` message every fresh worker receives (servers and tools, sys.path),
            or an async function giving it, awaited once the worker has started: so a worker
            starts while the servers connect.
        workdir: the worker's working directory; a private temporary one by default.
        python: the interpreter to run the worker with.
        limits: the resource limits the worker applies to itself.
        confine: apply Landlock and seccomp (where the kernel has them).
        allow_subprocess: let cell code fork and exec (programs stay read-only).
        require: layers that must be active, or `start` raises IsolationError.
        allow_read: extra paths the worker may read (Landlock grants them read-only).
    """

    def __init__(self, setup: dict[str, Any] | Callable[[], Awaitable[dict[str, Any]]], *, workdir: Path | None = None, python: str = sys.executable,
                 limits: Limits | None = None, confine: bool = True, allow_subprocess: bool = False,
                 require: tuple[str, ...] = (), allow_read: tuple[str, ...] = ()) -> None:
        self._make_setup = setup if callable(setup) else None
        self._setup: dict[str, Any] = setup if isinstance(setup, dict) else {}
        self.allow_read = allow_read
        self.limits = limits if limits is not None else Limits()
        self.confine = confine
        self.allow_subprocess = allow_subprocess
        self.require = require
        self.isolation: list[dict[str, Any]] = []
        self._python = python
        self._own_workdir = workdir is None
        self._workdir_lock: int | None = None  # held while this host lives (`_workdir`)
        if workdir is None:
            self.workdir, self._workdir_lock = _workdir.make()
        else:
            self.workdir = Path(workdir)
        # A private work dir is a tmpfs of the worker's own, --disk's size (a bound no route
        # passes; where the kernel lets the worker build its private root). A work dir in memory
        # (that one, or on the host's tmpfs) holds memory: --memory covers it and the heap together.
        self._quota_asked = self._own_workdir and confine and self.limits.disk is not None
        self.disk_quota = False  # the worker's own tmpfs is in place (known once it has started)
        self.workdir_in_memory = _watch.in_memory(self.workdir)
        if self.workdir_in_memory or self._quota_asked:
            self.limits = sharing_memory(self.limits)
        self._process: asyncio.subprocess.Process | None = None
        self._writer: asyncio.WriteTransport | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._raw: list[RawOutput] = []  # the worker's fd 1 and 2, below Python's sys.stdout
        self._ready: asyncio.Future[dict[str, Any]] | None = None
        self._names: asyncio.Future[dict[str, Any]] | None = None
        self._cell: Cell | None = None
        self._cell_ids = 0
        self._stderr_tail = b""
        self._death: str | None = None
        self.starts = 0
        self._frozen = False  # SIGSTOPped between cells: what the last cell started still runs
        self._disk_base = 0  # bytes in the work dir when the worker started
        self._disk_used = 0  # and when the last cell ended
        self._base_processes = 0  # the worker's own processes in its group (supervisor, guard, init, worker)

    @property
    def files_path(self) -> Path:
        """Where the host sees the worker's work dir: its own tmpfs, through the worker's
        root (`/proc/<pid>/root`), or the dir itself."""
        if self.disk_quota and self._process is not None:
            return Path(f"/proc/{self._process.pid}/root{os.path.abspath(self.workdir)}")
        return self.workdir

    @property
    def pid(self) -> int | None:
        """The host's pid of the process it started (the leader of the worker's group)."""
        return self._process.pid if self._process is not None else None

    @property
    def worker_pid(self) -> int | None:
        """The host's pid of the process that runs the cells: with a PID namespace the
        worker proper is pid 2 in it, two forks below the process the host started."""
        if self._process is None:
            return None
        if not active(self.isolation, "pid namespace"):
            return self._process.pid
        return _proctable.host_pid(self._process.pid, 2)

    async def run(
        self,
        code: str,
        *,
        on_call: CallHandler,
        on_stream: StreamHandler,
        timeout: float | None = None,
        inputs: dict[str, Any] | None = None,
        on_display: DisplayHandler | None = None,
        label: str | None = None,
    ) -> CellOutcome:
        """Run one cell; start a worker first if there is none (or it died). `inputs` (JSON
        data, checked by the caller) become variables of the cell before it runs; `label`
        (`In[9]`) is what its tracebacks call it."""
        if not self.alive:
            await self.start()
        loop = asyncio.get_running_loop()
        self._cell_ids += 1
        cell = Cell(self._cell_ids, on_call, on_stream, loop.create_future(), on_display=on_display,
                    turn=loop.create_future())
        self._cell = cell
        watching: list[asyncio.Task[None]] = []
        timer = loop.call_later(_watch.tick_for(self.allow_subprocess),
                                lambda: watching.append(asyncio.ensure_future(self._watch(cell))))
        try:
            self._send({"op": "exec", "id": cell.id, "code": code, **({"inputs": inputs} if inputs else {}),
                        **({"label": label} if label else {})})
            outcome = await self._wait(cell, timeout)
            if not outcome.state_lost:
                await self._after_cell(outcome)
            return outcome
        finally:
            self._cell = None
            timer.cancel()
            for task in watching:
                task.cancel()
            self._cut_calls(cell)

    async def _watch(self, cell: Cell) -> None:
        """Count processes, CPU and the work dir while the cell runs (`_watch`); past a
        bound, kill the whole group at once (the cell's end may cancel this task) and say why."""
        process = self._process
        base = max(self._disk_base, self._disk_used)  # a cell may shrink a dir already over
        # The worker's own tmpfs bounds itself: nothing to walk.
        limits = dataclasses.replace(self.limits, disk=None) if self.disk_quota else self.limits
        breach = await _watch.watch(cell.done, process.pid if process is not None else None, limits,
                                    self.workdir, base, self.allow_subprocess,
                                    tree=active(self.isolation, "pid namespace"))
        if breach is not None and process is not None:
            kill_group(process.pid)
            await self._died(breach.reason, breach.code, breach.type)
            await self._stop_process()

    async def _after_cell(self, outcome: CellOutcome) -> None:
        """The cell ended with the worker alive (and paused): check the work dir's size and
        entries (off the loop: a big tree takes a while to walk), and say what the cell left."""
        if self.limits.disk is not None and not self.disk_quota:
            self._disk_used, entries = await asyncio.to_thread(_watch.workdir_usage, self.workdir)
            breach = _watch.disk_breach(self._disk_used, self.limits.disk, self._disk_base,
                                        entries, self.limits.entries)
            if breach is not None:
                outcome.ok = False
                outcome.error = {"type": breach.type, "code": breach.code, "message": breach.reason, "traceback": ""}
        for name, kind in outcome.shadowed.items():
            outcome.notices.append(f"{name!r} is {a_or_an(kind)} now, not the {name} server; "
                                   f"the server is still codemode.servers[{name!r}]")
        threads = outcome.threads or {}
        if threads.get("stopped"):
            names = ", ".join(threads["stopped"])
            outcome.notices.append(f"threads the cell left running were stopped when it ended: {names}")
        children = 0
        if self.allow_subprocess and self._process is not None:
            children = max(0, group_size(self._process.pid) - self._base_processes)
        running, idle = threads.get("running", []), threads.get("idle", [])
        if running or children:
            what = [f"{len(running)} busy thread(s) ({', '.join(running)})"] if running else []
            what += [f"{children} process(es) it started"] if children else []
            outcome.notices.append(f"{' and '.join(what)} did not stop when the cell ended; the worker is paused "
                                   "until the next cell (no CPU between cells)")

    async def _wait(self, cell: Cell, timeout: float | None) -> CellOutcome:
        # The cell's own `turn`, not asyncio.wait or wait_for(shield(...)): the run resumes
        # one loop turn after the done frame, not two or three, each a chance for another
        # thread to take the GIL; a timeout leaves the cell's future alone all the same.
        assert cell.turn is not None
        timer = asyncio.get_running_loop().call_later(timeout, cell.settle) if timeout is not None else None
        try:
            await cell.turn
        finally:
            if timer is not None:
                timer.cancel()
        if cell.done.done():
            try:
                return outcome_of(cell.done.result())
            except WorkerDied as died:
                return lost(str(died), code=died.code, kind=died.kind)
        if cell.room is not None and not cell.room.done():
            self._cut_calls(cell)  # the channel waits for a call to end: the cell's time is up
        self.interrupt()
        try:
            done = await asyncio.wait_for(asyncio.shield(cell.done), INTERRUPT_GRACE)
        except (asyncio.TimeoutError, WorkerDied):
            await self._stop_process()
            return lost(f"the cell ran past its {timeout:g} s limit and did not stop on interrupt", timed_out=True)
        outcome = outcome_of(done)
        outcome.timed_out = True
        outcome.error = {
            "type": "TimeoutError",
            "code": "TIMEOUT",
            "message": f"the cell ran past its {timeout:g} s limit and was interrupted (variables kept)",
            "traceback": (done.get("error") or {}).get("traceback", ""),
        }
        outcome.ok = False
        return outcome

    async def names(self, text: str = "", timeout: float = 2.0) -> list[str]:
        """The worker's global names, or with a dotted `text` the attributes that complete it;
        [] while a cell runs or with no worker."""
        if not self.alive or self._cell is not None:
            return []
        self._names = asyncio.get_running_loop().create_future()
        paused = self._frozen  # thawed to answer, paused again after: no CPU between cells
        try:
            self._send({"op": "names", "text": text})
            reply = await asyncio.wait_for(asyncio.shield(self._names), timeout)
        except (asyncio.TimeoutError, WorkerDied):
            return []
        finally:
            self._names = None
            if paused and self._cell is None:
                self._freeze()
        names = reply.get("names")
        return [n for n in names if isinstance(n, str)] if isinstance(names, list) else []

    async def interrupt_or_kill(self, grace: float = INTERRUPT_GRACE) -> None:
        """Interrupt the running cell; kill the worker if the cell has not ended after `grace`."""
        cell = self._cell
        if cell is not None and cell.room is not None and not cell.room.done():
            self._cut_calls(cell)  # the channel waits for a call to end: read the cell's end instead
        self.interrupt()
        if cell is None:
            return
        try:
            await asyncio.wait_for(asyncio.shield(cell.done), grace)
        except (asyncio.TimeoutError, WorkerDied):
            await self._stop_process()

    async def reinstall(self) -> None:
        """Install the servers anew in the running worker (a server's tools changed): its
        variables stay. A worker paused between cells is paused again after."""
        if self._make_setup is None or not self.alive:
            return
        frozen = self._frozen
        self._setup = await self._make_setup()
        self._ready = asyncio.get_running_loop().create_future()
        self._send({"op": "setup", **self._setup, "confine": self._confine_spec()})
        await asyncio.wait_for(asyncio.shield(self._ready), START_TIMEOUT)
        if frozen:
            self._freeze()

    def _handle(self, message: dict[str, Any], size: int = 0) -> asyncio.Future[Any] | None:
        op = message["op"]
        cell = self._cell
        if op in ("ready", "setup_done"):
            if self._ready is not None and not self._ready.done():
                self._ready.set_result(message)
        elif op == "names":
            if self._names is not None and not self._names.done():
                self._names.set_result(message)
        elif op == "stream" and cell is not None:
            name, text = message.get("name"), message.get("text")
            if name not in ("stdout", "stderr") or not isinstance(text, str):
                raise FrameError("a stream frame needs name stdout|stderr and a text")
            cell.on_stream(name, text)
        elif op == "display":
            output = display_output(message)
            if cell is not None and cell.on_display is not None:
                return cell.on_display(output)  # cleaned off the loop: the frames after it wait
        elif op in ("call", "search", "refused"):
            request = call_request(message)
            if cell is None:
                return None  # a call from between cells (a thread the cell left running): refused
            if op == "refused":  # only recorded: the worker waits for no answer
                asyncio.ensure_future(cell.on_call(request))
                return None
            cell.sizes[request.id] = size
            cell.in_flight += size
            cell.calls[request.id] = asyncio.ensure_future(self._serve_call(cell, request))
            if len(cell.calls) >= MAX_CALLS_IN_FLIGHT or cell.in_flight >= MAX_CALL_BYTES_IN_FLIGHT:
                cell.room = asyncio.get_running_loop().create_future()
                return cell.room  # no frame is read until a call ends
        elif op == "cancel":
            task = cell.calls.get(message["id"]) if cell is not None else None
            if task is not None and cell is not None:
                task.cancel()
                self._call_ended(cell, message["id"])
        elif op == "done":
            if cell is not None and message.get("id") == cell.id and not cell.done.done():
                # A frame is a claim: the code may have written it and gone on. Paused now,
                # whatever the frame says, it runs again only in the next cell.
                self._freeze()
                cell.done.set_result(message)
                cell.settle()
        elif op != "stream":
            raise FrameError(f"unknown frame op {op!r}")
        return None

    def _cut_calls(self, cell: Cell) -> None:
        """Cancel the cell's calls in flight (a task cancelled before it starts runs no
        `finally`: each is accounted here) and let the channel be read again."""
        for call_id, task in list(cell.calls.items()):
            task.cancel()
            self._call_ended(cell, call_id)
        if cell.room is not None and not cell.room.done():
            cell.room.set_result(None)

    @staticmethod
    def _call_ended(cell: Cell, call_id: int) -> None:
        cell.calls.pop(call_id, None)
        cell.in_flight -= cell.sizes.pop(call_id, 0)
        room = cell.room
        if room is not None and not room.done() and len(cell.calls) < MAX_CALLS_IN_FLIGHT \
                and cell.in_flight < MAX_CALL_BYTES_IN_FLIGHT:
            room.set_result(None)

    async def _serve_call(self, cell: Cell, request: CallRequest) -> None:
        try:
            reply = await cell.on_call(request)
        except Exception as exc:  # noqa: BLE001 - boundary: a handler's bug fails the call, not the cell
            logger.exception("the handler of a tool call failed")
            reply = {"ok": False, "error": {"code": "INTERNAL", "message": f"the host failed to serve the call: {exc!r}"}}
        finally:
            self._call_ended(cell, request.id)
        if self._cell is cell and self.alive:
            try:
                self._send({"op": "result", "id": request.id, **reply})
            except (TypeError, ValueError) as exc:  # a result JSON cannot carry (NaN, say)
                self._send({"op": "result", "id": request.id, "ok": False,
                            "error": {"code": "UPSTREAM_ERROR", "message": f"the result could not be sent: {exc}"}})



