"""The host side of the sandbox: spawns the worker, carries frames, enforces time.

Runs on the hub's event loop (asyncio: the pipes are read with the loop's own pipe
transports, so a tool call goes worker → loop → MCP session → loop → worker without an extra
thread). Invariants:

- Nothing the worker sends is trusted: every frame is length-capped before it is read, must
  be a JSON object of a known shape, and a frame that is not ends the worker (ChannelError).
- The host owns time. A cell past its timeout gets SIGINT (a KeyboardInterrupt in the cell,
  state kept); if it has not finished after a grace period, the worker's process group is
  killed and the outcome says the state was lost. The next `run` starts a fresh worker.
- A worker never outlives its Sandbox: `aclose` (and a dying host's closed pipes) end it.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from codemode._pipes import read_in_small_chunks
from codemode.sandbox import _proctable, _watch
from codemode.sandbox._workerspec import (
    EXECUTABLE_TREES,
    PACKAGE_PARENT,
    Limits,
    active,
    isolation_rows,
    library_trees,
    sharing_memory,
    worker_environment,
)
from codemode.sandbox._frames import FrameError, encode
from codemode.sandbox._messages import (
    CallHandler,
    CallRequest,
    Cell,
    CellOutcome,
    ChannelProtocol,
    DisplayHandler,
    RawOutput,
    StreamHandler,
    WorkerDied,
    call_request,
    display_output,
    lost,
    outcome_of,
)

logger = logging.getLogger(__name__)

# After SIGINT, a cell gets this long to unwind before the worker is killed. A Python loop
# or a sleep stops in milliseconds; a C-level loop never does (it ignores the signal).
INTERRUPT_GRACE = 2.0
# How often the host counts the worker's processes while a cell that may fork runs.
PROCESS_POLL = 0.05
# The worker imports only the standard library; a cold start is ~50 ms, so this is generous.
START_TIMEOUT = 30.0
_STDERR_TAIL = 4096
_BOOTSTRAP = (
    "import sys; sys.path.insert(0, sys.argv[3]); "
    "from codemode.sandbox.worker import main; main(sys.argv[1:3] + sys.argv[4:])"
)
PACKAGE_PARENT = str(Path(__file__).resolve().parents[2])


class Sandbox:
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
        self.workdir = Path(workdir) if workdir is not None else Path(tempfile.mkdtemp(prefix="codemode-"))
        # A work dir in memory (tmpfs) holds memory: --memory covers it and the heap together.
        self.workdir_in_memory = _watch.in_memory(self.workdir)
        if self.workdir_in_memory:
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
    def alive(self) -> bool:
        # The pipe to the worker can learn of its death (EPIPE) before the frame reader does.
        writable = self._writer is not None and not self._writer.is_closing()
        return self._process is not None and self._process.returncode is None and self._death is None and writable

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

    async def start(self) -> None:
        """Start a fresh worker and wait until it has its servers."""
        await self._stop_process()
        loop = asyncio.get_running_loop()
        to_worker_r, to_worker_w = os.pipe()
        from_worker_r, from_worker_w = os.pipe()
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        try:
            self._process = await asyncio.create_subprocess_exec(
                self._python, "-I", "-S", "-c", _BOOTSTRAP, str(to_worker_r), str(from_worker_w), PACKAGE_PARENT,
                self.limits.to_json(),
                stdin=subprocess.DEVNULL,
                stdout=out_w,
                stderr=err_w,
                pass_fds=(to_worker_r, from_worker_w),
                cwd=self.workdir,
                env=worker_environment(),
                start_new_session=True,
            )
        finally:
            for fd in (to_worker_r, from_worker_w, out_w, err_w):
                os.close(fd)
        self._death = None
        self._frozen = False
        self._stderr_tail = b""
        self.starts += 1
        # Before the pipes connect: the worker's "ready" may arrive while the write end is
        # still being connected (a worker that starts while servers connect often does).
        self._ready = loop.create_future()
        channel = ChannelProtocol(self._handle, loop.create_future())
        reader, _ = await loop.connect_read_pipe(lambda: channel, os.fdopen(from_worker_r, "rb", buffering=0))
        read_in_small_chunks(reader)
        self._writer, _ = await loop.connect_write_pipe(asyncio.Protocol, os.fdopen(to_worker_w, "wb", buffering=0))
        # Read in the protocol's callback, as the channel is: text written to fd 1 before the
        # `done` frame reaches the cell in the same loop turn as that frame, or an earlier one.
        self._raw = []
        for fd, name in ((out_r, "stdout"), (err_r, "stderr")):
            _, raw = await loop.connect_read_pipe(functools.partial(RawOutput, self._on_raw, name, loop),
                                                  os.fdopen(fd, "rb", buffering=0))
            read_in_small_chunks(raw)
            self._raw.append(raw)
        self._tasks = [asyncio.ensure_future(self._watch_channel(channel.ended))]
        try:
            ready = await asyncio.wait_for(asyncio.shield(self._ready), START_TIMEOUT)
            if self._make_setup is not None:
                self._setup = await self._make_setup()
            self._send({"op": "setup", **self._setup, "confine": self._confine_spec()})
            self._ready = loop.create_future()
            done = await asyncio.wait_for(asyncio.shield(self._ready), START_TIMEOUT)
            self.isolation = isolation_rows(self.workdir, ready, done) + [self._processes_row(),
                                                                          *self._bound_rows()]
            if self.limits.disk is not None:
                self._disk_base = self._disk_used = await asyncio.to_thread(_watch.workdir_size, self.workdir)
            if self.allow_subprocess:
                self._base_processes = _group_size(self._process.pid)
        except (asyncio.TimeoutError, WorkerDied) as exc:
            reason = self._death or "it did not answer in time"
            await self._stop_process()
            from codemode.errors import WorkerCrashedError

            raise WorkerCrashedError(f"the sandbox worker failed to start: {reason}") from exc
        missing = [name for name in self.require if not active(self.isolation, name)]
        if missing:
            await self._stop_process()
            from codemode.errors import IsolationError

            raise IsolationError(missing, {row["layer"]: row.get("detail", "") for row in self.isolation})

    def _processes_row(self) -> dict[str, Any]:
        if not self.allow_subprocess:
            return {"layer": "processes", "active": active(self.isolation, "seccomp"),
                    "detail": "none: no fork or exec (seccomp)"}
        return {"layer": "processes", "active": True,
                "detail": f"at most {self.limits.processes} in the worker's group, counted by the host "
                          "(past it all are killed); none may leave the group (no setsid or setpgid)"}

    def _bound_rows(self) -> list[dict[str, Any]]:
        limits = self.limits
        disk = {"layer": "disk", "active": limits.disk is not None, "detail": "no bound on the work dir's total"}
        if limits.disk is not None:
            disk["detail"] = (f"the work dir holds at most {_watch.mib(limits.disk)} in all, counted by the host "
                              "while a cell runs and when it ends (DISK); no one file larger")
            if self.workdir_in_memory:
                disk["detail"] += ("; the work dir is in memory (tmpfs), so this comes out of --memory: the heap "
                                   f"gets {_watch.mib(limits.memory or 0)}")
        cpu = {"layer": "cpu", "active": True, "detail": (
            "only inside a cell: threads a cell leaves are stopped when it ends, what does not stop is paused "
            "(SIGSTOP) until the next cell" + (f"; at most {limits.cell_cpu_seconds:g} CPU seconds per cell "
                                                 "(CPU_LIMIT)" if limits.cell_cpu_seconds else ""))}
        return [disk, cpu]

    def _confine_spec(self) -> dict[str, Any]:
        """What the worker applies to itself: Landlock grants and the seccomp policy."""
        if not self.confine:
            return {}
        execute = EXECUTABLE_TREES + [sys.base_prefix, sys.prefix] if self.allow_subprocess else []
        return {
            "namespaces": True,
            "private_root": True,
            "pid_namespace": True,
            "workdir": str(self.workdir),
            "landlock": True,
            "seccomp": True,
            "allow_subprocess": self.allow_subprocess,
            "read_only": library_trees(self._setup.get("sys_path") or []) + list(self.allow_read),
            "read_write": [str(self.workdir), "/dev/null"],
            "allow_execute": execute,
        }

    async def run(
        self,
        code: str,
        *,
        on_call: CallHandler,
        on_stream: StreamHandler,
        timeout: float | None = None,
        inputs: dict[str, Any] | None = None,
        on_display: DisplayHandler | None = None,
    ) -> CellOutcome:
        """Run one cell; start a worker first if there is none (or it died). `inputs` (JSON
        data, checked by the caller) become variables of the cell before it runs."""
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
            self._send({"op": "exec", "id": cell.id, "code": code, **({"inputs": inputs} if inputs else {})})
            outcome = await self._wait(cell, timeout)
            if not outcome.state_lost:
                self._after_cell(outcome)
            return outcome
        finally:
            self._cell = None
            timer.cancel()
            for task in watching:
                task.cancel()
            for task in cell.calls.values():
                task.cancel()

    async def _watch(self, cell: Cell) -> None:
        """Count processes, CPU and the work dir while the cell runs (`_watch`); past a
        bound, kill the whole group at once (the cell's end may cancel this task) and say why."""
        process = self._process
        base = max(self._disk_base, self._disk_used)  # a cell may shrink a dir already over
        breach = await _watch.watch(cell.done, process.pid if process is not None else None, self.limits,
                                    self.workdir, base, self.allow_subprocess,
                                    tree=active(self.isolation, "pid namespace"))
        if breach is not None and process is not None:
            _kill_group(process.pid)
            await self._died(breach.reason, breach.code, breach.type)
            await self._stop_process()

    def _after_cell(self, outcome: CellOutcome) -> None:
        """The cell ended with the worker alive: check the work dir's size, and pause the
        worker until the next frame if what the cell started is still running."""
        if self.limits.disk is not None:
            self._disk_used = _watch.workdir_size(self.workdir)
            breach = _watch.disk_breach(self._disk_used, self.limits.disk, self._disk_base)
            if breach is not None:
                outcome.ok = False
                outcome.error = {"type": breach.type, "code": breach.code, "message": breach.reason, "traceback": ""}
        threads = outcome.threads or {}
        if threads.get("stopped"):
            names = ", ".join(threads["stopped"])
            outcome.notices.append(f"threads the cell left running were stopped when it ended: {names}")
        children = 0
        if self.allow_subprocess and self._process is not None:
            children = max(0, _group_size(self._process.pid) - self._base_processes)
        running, idle = threads.get("running", []), threads.get("idle", [])
        if running or children:
            what = [f"{len(running)} busy thread(s) ({', '.join(running)})"] if running else []
            what += [f"{children} process(es) it started"] if children else []
            outcome.notices.append(f"{' and '.join(what)} did not stop when the cell ended; the worker is paused "
                                   "until the next cell (no CPU between cells)")
        if running or idle or children:  # an idle thread may wake: it waits for the next cell too
            self._freeze()

    def _freeze(self) -> None:
        if self._process is not None and not self._frozen:
            try:
                os.killpg(self._process.pid, signal.SIGSTOP)
                self._frozen = True
            except (ProcessLookupError, PermissionError):
                pass

    def _thaw(self) -> None:
        if self._frozen and self._process is not None:
            self._frozen = False
            try:
                os.killpg(self._process.pid, signal.SIGCONT)
            except (ProcessLookupError, PermissionError):
                pass

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

    def interrupt(self) -> None:
        """Raise KeyboardInterrupt in the running cell (SIGINT to the worker)."""
        if self.alive and self._process is not None:
            try:
                os.kill(self._process.pid, signal.SIGINT)
            except ProcessLookupError:
                pass

    async def interrupt_or_kill(self, grace: float = INTERRUPT_GRACE) -> None:
        """Interrupt the running cell; kill the worker if the cell has not ended after `grace`."""
        cell = self._cell
        self.interrupt()
        if cell is None:
            return
        try:
            await asyncio.wait_for(asyncio.shield(cell.done), grace)
        except (asyncio.TimeoutError, WorkerDied):
            await self._stop_process()

    def kill_now(self) -> None:
        """Kill the worker's process group and remove its private work directory, at once and
        without the event loop (a process that exits on Ctrl-C). Safe from a signal handler."""
        process = self._process
        if process is not None:
            _kill_group(process.pid)
        if self._own_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    async def aclose(self) -> None:
        """Stop the worker and remove its private work directory."""
        await self._stop_process()
        if self._own_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def _send(self, message: dict[str, Any]) -> None:
        if self._writer is None or self._writer.is_closing():
            raise WorkerDied(self._death or "the worker is not running")
        self._thaw()  # paused between cells (its leftovers still running): it must read this
        self._writer.write(encode(message))

    async def _watch_channel(self, ended: asyncio.Future[FrameError | None]) -> None:
        problem = await ended
        if problem is None:
            await self._died(await self._exit_description())
        else:
            await self._died(f"the worker sent a bad frame ({problem}); it was stopped")
            await self._stop_process()

    def _handle(self, message: dict[str, Any]) -> None:
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
                cell.on_display(output)
        elif op in ("call", "search"):
            request = call_request(message)
            if cell is None:
                return  # a call from between cells (a thread the cell left running): refused
            cell.calls[request.id] = asyncio.ensure_future(self._serve_call(cell, request))
        elif op == "cancel":
            task = cell.calls.pop(message.get("id"), None) if cell is not None else None  # type: ignore[arg-type]
            if task is not None:
                task.cancel()
        elif op == "done":
            if cell is not None and message.get("id") == cell.id and not cell.done.done():
                cell.done.set_result(message)
                cell.settle()
        elif op != "stream":
            raise FrameError(f"unknown frame op {op!r}")

    async def _serve_call(self, cell: Cell, request: CallRequest) -> None:
        try:
            reply = await cell.on_call(request)
        except Exception as exc:  # noqa: BLE001 - boundary: a handler's bug fails the call, not the cell
            logger.exception("the handler of a tool call failed")
            reply = {"ok": False, "error": {"code": "INTERNAL", "message": f"the host failed to serve the call: {exc!r}"}}
        finally:
            cell.calls.pop(request.id, None)
        if self._cell is cell and self.alive:
            try:
                self._send({"op": "result", "id": request.id, **reply})
            except (TypeError, ValueError) as exc:  # a result JSON cannot carry (NaN, say)
                self._send({"op": "result", "id": request.id, "ok": False,
                            "error": {"code": "UPSTREAM_ERROR", "message": f"the result could not be sent: {exc}"}})

    def _on_raw(self, name: str, chunk: bytes) -> None:
        if name == "stderr":
            self._stderr_tail = (self._stderr_tail + chunk)[-_STDERR_TAIL:]
        if self._cell is not None:
            self._cell.on_stream(name, chunk.decode("utf-8", "replace"))

    async def _exit_description(self, process: asyncio.subprocess.Process | None = None) -> str:
        process = process or self._process
        if process is None:
            return "the worker is not running"
        code: int | None
        try:
            # Its exit, then the end of its output pipes (its last words on stderr), which a
            # process the cell started may hold open: 2 s for both.
            async with asyncio.timeout(2.0):
                code = await process.wait()
                await asyncio.gather(*(raw.closed for raw in self._raw))
        except TimeoutError:
            code = process.returncode
        if code is None:
            how = "closed its channel"
        elif code < 0:
            how = f"was killed by signal {signal.Signals(-code).name}"
        else:
            how = f"exited with status {code}"
        tail = self._stderr_tail.decode("utf-8", "replace").strip()
        return f"the worker {how}" + (f"; its last error output:\n{tail}" if tail else "")

    async def _died(self, reason: str, code: str = "SANDBOX_CRASHED", kind: str = "WorkerCrashedError") -> None:
        if self._death is None:
            self._death = reason
        for waiter in (self._ready, self._names, self._cell.done if self._cell else None):
            if waiter is not None and not waiter.done():
                waiter.set_exception(WorkerDied(reason, code, kind))
                waiter.exception()  # mark retrieved: nobody may be waiting any more
        if self._cell is not None:
            self._cell.settle()

    async def _stop_process(self) -> None:
        process, self._process = self._process, None
        tasks, self._tasks = self._tasks, []
        raws, self._raw = self._raw, []
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        if process is not None:
            # The group even when the worker is gone (it crashed): what its cells started
            # must not outlive it, holding its output pipes open.
            _kill_group(process.pid)
            if process.returncode is None:
                await process.wait()
            _kill_group(process.pid)  # any child forked while the group was being killed
        for raw in raws:
            raw.close()
        if self._cell is not None and not self._cell.done.done():
            # A cell still running ends here: the channel's watch, cancelled below, may not
            # have seen the worker go.
            await self._died(await self._exit_description(process) if process is not None else "the worker stopped")
        for task in tasks:
            if task is not asyncio.current_task():
                task.cancel()
        if tasks:
            await asyncio.gather(*(t for t in tasks if t is not asyncio.current_task()), return_exceptions=True)


def _kill_group(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _group_size(pgid: int) -> int:
    """How many live processes are in process group `pgid` (0 where /proc is missing)."""
    return len(_proctable.members(pgid))
