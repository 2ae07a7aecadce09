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
import dataclasses
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from codemode.sandbox import _proctable, _watch
from codemode.sandbox._checks import check_frame
from codemode.sandbox._frames import MAX_WORKER_FRAME, FrameBuffer, FrameError, decode, encode

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
_PACKAGE_PARENT = str(Path(__file__).resolve().parents[2])


@dataclass(frozen=True)
class Limits:
    """Resource limits the worker applies to itself at start (None: no limit).

    The defaults keep a runaway cell from taking the machine: 4 GiB of heap, 256 open
    files, 1 GiB per written file. CPU is unlimited by default; a cell's time is bounded by
    the host's wall clock instead.
    """

    memory: int | None = 4 * 1024**3
    open_files: int | None = 256
    file_size: int | None = 1024**3
    cpu_seconds: int | None = None
    # Processes in the worker's group, when subprocesses are allowed. Enforced by the host
    # (RLIMIT_NPROC does nothing for root): past it the whole group is killed.
    processes: int = 128
    # The work dir's total size in bytes (`--disk`): counted by the host while a cell runs
    # and when it ends (code DISK). No file may be larger (RLIMIT_FSIZE), so one write cannot
    # overshoot it by more than what lands between two counts.
    disk: int | None = 1024**3
    # CPU seconds one cell may use, its threads and children included (counted by the host
    # while it runs; past it the worker is stopped, code CPU_LIMIT). Generous: the cell's
    # wall-clock timeout is the everyday bound; this one catches threads on every core.
    cell_cpu_seconds: float | None = 600.0

    def to_json(self) -> str:
        file_size = min(v for v in (self.file_size, self.disk) if v) if self.file_size or self.disk else None
        return json.dumps({"memory": self.memory, "open_files": self.open_files,
                           "file_size": file_size, "cpu_seconds": self.cpu_seconds, "core_size": 0})


@dataclass(frozen=True)
class CallRequest:
    """A request the cell made of the host: a tool call (Python names of server and tool,
    and the arguments) or, with `op` "search", a search of the tools (`codemode.search`)."""

    id: int
    server: str
    tool: str
    arguments: dict[str, Any]
    op: str = "call"


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


CallHandler = Callable[[CallRequest], Awaitable[dict[str, Any]]]
StreamHandler = Callable[[str, str], None]
# A display output as the worker sent it, checked for shape only (`codemode.outputs` cleans it).
DisplayHandler = Callable[[dict[str, Any]], None]


@dataclass
class _Cell:
    id: int
    on_call: CallHandler
    on_stream: StreamHandler
    done: asyncio.Future[dict[str, Any]]
    calls: dict[int, asyncio.Task[None]] = field(default_factory=dict)
    on_display: DisplayHandler | None = None


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
            self.limits = _sharing_memory(self.limits)
        self._process: asyncio.subprocess.Process | None = None
        self._writer: asyncio.WriteTransport | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._ready: asyncio.Future[dict[str, Any]] | None = None
        self._names: asyncio.Future[dict[str, Any]] | None = None
        self._cell: _Cell | None = None
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
        if not _active(self.isolation, "pid namespace"):
            return self._process.pid
        return _proctable.host_pid(self._process.pid, 2)

    async def start(self) -> None:
        """Start a fresh worker and wait until it has its servers."""
        await self._stop_process()
        loop = asyncio.get_running_loop()
        to_worker_r, to_worker_w = os.pipe()
        from_worker_r, from_worker_w = os.pipe()
        try:
            self._process = await asyncio.create_subprocess_exec(
                self._python, "-I", "-S", "-c", _BOOTSTRAP, str(to_worker_r), str(from_worker_w), _PACKAGE_PARENT,
                self.limits.to_json(),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                pass_fds=(to_worker_r, from_worker_w),
                cwd=self.workdir,
                env=_worker_environment(),
                start_new_session=True,
            )
        finally:
            os.close(to_worker_r)
            os.close(from_worker_w)
        self._death = None
        self._frozen = False
        self._stderr_tail = b""
        self.starts += 1
        # Before the pipes connect: the worker's "ready" may arrive while the write end is
        # still being connected (a worker that starts while servers connect often does).
        self._ready = loop.create_future()
        channel = _ChannelProtocol(self._handle, loop.create_future())
        await loop.connect_read_pipe(lambda: channel, os.fdopen(from_worker_r, "rb", buffering=0))
        self._writer, _ = await loop.connect_write_pipe(asyncio.Protocol, os.fdopen(to_worker_w, "wb", buffering=0))
        assert self._process.stdout is not None and self._process.stderr is not None
        self._tasks = [
            asyncio.ensure_future(self._watch_channel(channel.ended)),
            asyncio.ensure_future(self._read_raw(self._process.stdout, "stdout")),
            asyncio.ensure_future(self._read_raw(self._process.stderr, "stderr")),
        ]
        try:
            ready = await asyncio.wait_for(asyncio.shield(self._ready), START_TIMEOUT)
            if self._make_setup is not None:
                self._setup = await self._make_setup()
            self._send({"op": "setup", **self._setup, "confine": self._confine_spec()})
            self._ready = loop.create_future()
            done = await asyncio.wait_for(asyncio.shield(self._ready), START_TIMEOUT)
            self.isolation = _isolation_rows(self.workdir, ready, done) + [self._processes_row(),
                                                                          *self._bound_rows()]
            if self.limits.disk is not None:
                self._disk_base = self._disk_used = await asyncio.to_thread(_watch.workdir_size, self.workdir)
            if self.allow_subprocess:
                self._base_processes = _group_size(self._process.pid)
        except (asyncio.TimeoutError, _WorkerDied) as exc:
            reason = self._death or "it did not answer in time"
            await self._stop_process()
            from codemode.errors import WorkerCrashedError

            raise WorkerCrashedError(f"the sandbox worker failed to start: {reason}") from exc
        missing = [name for name in self.require if not _active(self.isolation, name)]
        if missing:
            await self._stop_process()
            from codemode.errors import IsolationError

            raise IsolationError(missing, {row["layer"]: row.get("detail", "") for row in self.isolation})

    def _processes_row(self) -> dict[str, Any]:
        if not self.allow_subprocess:
            return {"layer": "processes", "active": _active(self.isolation, "seccomp"),
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
        execute = _EXECUTABLE_TREES + [sys.base_prefix, sys.prefix] if self.allow_subprocess else []
        return {
            "namespaces": True,
            "private_root": True,
            "pid_namespace": True,
            "workdir": str(self.workdir),
            "landlock": True,
            "seccomp": True,
            "allow_subprocess": self.allow_subprocess,
            "read_only": _library_trees(self._setup.get("sys_path") or []) + list(self.allow_read),
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
        cell = _Cell(self._cell_ids, on_call, on_stream, loop.create_future(), on_display=on_display)
        self._cell = cell
        watch = asyncio.ensure_future(self._watch(cell))
        try:
            self._send({"op": "exec", "id": cell.id, "code": code, **({"inputs": inputs} if inputs else {})})
            outcome = await self._wait(cell, timeout)
            if not outcome.state_lost:
                self._after_cell(outcome)
            return outcome
        finally:
            self._cell = None
            watch.cancel()
            for task in cell.calls.values():
                task.cancel()

    async def _watch(self, cell: _Cell) -> None:
        """Count processes, CPU and the work dir while the cell runs (`_watch`); past a
        bound, kill the whole group at once (the cell's end may cancel this task) and say why."""
        process = self._process
        base = max(self._disk_base, self._disk_used)  # a cell may shrink a dir already over
        breach = await _watch.watch(cell.done, process.pid if process is not None else None, self.limits,
                                    self.workdir, base, self.allow_subprocess,
                                    tree=_active(self.isolation, "pid namespace"))
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

    async def _wait(self, cell: _Cell, timeout: float | None) -> CellOutcome:
        try:
            # Not wait_for(shield(...)): the run resumes two loop turns after the done frame,
            # not three, each a chance for another thread to take the GIL; a timeout leaves
            # the cell's future alone all the same.
            finished, _ = await asyncio.wait((cell.done,), timeout=timeout)
            if finished:
                return _outcome(cell.done.result())
        except _WorkerDied as died:
            return _lost(str(died), code=died.code, kind=died.kind)
        self.interrupt()
        try:
            done = await asyncio.wait_for(asyncio.shield(cell.done), INTERRUPT_GRACE)
        except (asyncio.TimeoutError, _WorkerDied):
            await self._stop_process()
            return _lost(f"the cell ran past its {timeout:g} s limit and did not stop on interrupt", timed_out=True)
        outcome = _outcome(done)
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
        except (asyncio.TimeoutError, _WorkerDied):
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
        except (asyncio.TimeoutError, _WorkerDied):
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
            raise _WorkerDied(self._death or "the worker is not running")
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
            output = _display_output(message)
            if cell is not None and cell.on_display is not None:
                cell.on_display(output)
        elif op in ("call", "search"):
            request = _call_request(message)
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
        elif op != "stream":
            raise FrameError(f"unknown frame op {op!r}")

    async def _serve_call(self, cell: _Cell, request: CallRequest) -> None:
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

    async def _read_raw(self, stream: asyncio.StreamReader, name: str) -> None:
        while chunk := await stream.read(65536):
            if name == "stderr":
                self._stderr_tail = (self._stderr_tail + chunk)[-_STDERR_TAIL:]
            if self._cell is not None:
                self._cell.on_stream(name, chunk.decode("utf-8", "replace"))

    async def _exit_description(self) -> str:
        process = self._process
        if process is None:
            return "the worker is not running"
        try:
            code = await asyncio.wait_for(process.wait(), 2.0)
        except asyncio.TimeoutError:
            # `wait` also waits for the output pipes, which a process the cell started holds.
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
                waiter.set_exception(_WorkerDied(reason, code, kind))
                waiter.exception()  # mark retrieved: nobody may be waiting any more

    async def _stop_process(self) -> None:
        process, self._process = self._process, None
        tasks, self._tasks = self._tasks, []
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
        for task in tasks:
            if task is not asyncio.current_task():
                task.cancel()
        if tasks:
            await asyncio.gather(*(t for t in tasks if t is not asyncio.current_task()), return_exceptions=True)


class _WorkerDied(Exception):
    def __init__(self, reason: str, code: str = "SANDBOX_CRASHED", kind: str = "WorkerCrashedError") -> None:
        super().__init__(reason)
        self.code = code
        self.kind = kind


class _ChannelProtocol(asyncio.Protocol):
    """Reads the worker's frames and handles each as it arrives, in `data_received`.

    Handling frames in the protocol callback, not in a task reading a StreamReader, saves
    an event-loop turn per frame: on a tool call's path that is most of the host's cost.
    `ended` resolves to None when the worker closes its end, or to the FrameError that made
    the host stop listening.
    """

    def __init__(self, handle: Callable[[dict[str, Any]], None], ended: asyncio.Future[FrameError | None]) -> None:
        self._handle = handle
        self._buffer = FrameBuffer(MAX_WORKER_FRAME)
        self.ended = ended
        self._transport: asyncio.BaseTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport

    def data_received(self, data: bytes) -> None:
        if self.ended.done():
            return
        self._buffer.feed(data)
        try:
            while (body := self._buffer.pop_body()) is not None:
                self._handle(check_frame(decode(body), body))
        except FrameError as exc:
            self.ended.set_result(exc)
            if self._transport is not None:
                self._transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.ended.done():
            self.ended.set_result(None)


def _kill_group(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _group_size(pgid: int) -> int:
    """How many live processes are in process group `pgid` (0 where /proc is missing)."""
    return len(_proctable.members(pgid))


def _call_request(message: dict[str, Any]) -> CallRequest:
    op = message["op"]
    call_id, arguments = message.get("id"), message.get("arguments")
    server, tool = (message.get(k, "") if op == "search" else message.get(k) for k in ("server", "tool"))
    if not (isinstance(call_id, int) and isinstance(server, str) and isinstance(tool, str)
            and isinstance(arguments, dict)):
        raise FrameError(f"a {op} frame needs an integer id, server and tool names, and an arguments object")
    return CallRequest(call_id, server, tool, arguments, op)


def _display_output(message: dict[str, Any]) -> dict[str, Any]:
    """The fields of a `display` frame, or FrameError when it is not the shape the worker sends."""
    data, metadata, display_id = message.get("data"), message.get("metadata", {}), message.get("display_id")
    if not (isinstance(data, dict) and all(isinstance(key, str) for key in data)
            and isinstance(metadata, dict) and (display_id is None or isinstance(display_id, str))
            and isinstance(message.get("update", False), bool)):
        raise FrameError("a display frame needs a data object keyed by MIME type, a metadata object, "
                         "and a string or null display_id")
    return {"data": data, "metadata": metadata, "display_id": display_id,
            "update": bool(message.get("update")), "truncated": bool(message.get("truncated"))}


def _outcome(done: dict[str, Any]) -> CellOutcome:
    error = done.get("error")
    result = done.get("result")
    threads = done.get("threads")
    return CellOutcome(
        ok=bool(done.get("ok")),
        result=result if isinstance(result, dict) else None,
        error=error if isinstance(error, dict) else None,
        threads=threads if isinstance(threads, dict) else None,
    )


def _sharing_memory(limits: Limits) -> Limits:
    """Limits for a work dir held in memory: the heap and the work dir share `memory`, the
    work dir getting at most half (and no more than its disk bound)."""
    if limits.memory is None:
        return limits
    share = min(limits.disk or limits.memory, limits.memory // 2)
    return dataclasses.replace(limits, memory=limits.memory - share, disk=share)


def _lost(reason: str, *, timed_out: bool = False, code: str = "SANDBOX_CRASHED",
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


# Shared libraries and time zones: read-only, no secrets in them, needed by C extensions.
_SYSTEM_TREES = ["/usr/lib", "/usr/lib64", "/lib", "/lib64", "/usr/share/zoneinfo", "/etc/localtime"]
# Where programs live, executable only when the policy allows subprocesses.
_EXECUTABLE_TREES = ["/usr/bin", "/bin", "/usr/lib", "/lib", "/lib64", "/usr/libexec"]


def _library_trees(sys_path: list[str]) -> list[str]:
    """The read-only grants: the interpreter's libraries and ours, never a home or /proc.

    Only library directories of the host's sys.path are granted (under the interpreter's
    prefixes, or named site-packages / dist-packages), not the path wholesale: that would
    grant the current directory or a script's folder.
    """
    stdlib = os.path.dirname(os.__file__)
    prefixes = tuple(os.path.join(p, "") for p in {sys.prefix, sys.base_prefix})
    trees = [stdlib, _PACKAGE_PARENT]
    for path in sys_path:
        if path.startswith(prefixes) or "site-packages" in path or "dist-packages" in path:
            trees.append(path)
    return sorted(set(trees)) + _SYSTEM_TREES


def _active(rows: list[dict[str, Any]], layer: str) -> bool:
    return any(row.get("layer") == layer and row.get("active") for row in rows)


def _isolation_rows(workdir: Path, ready: dict[str, Any], done: dict[str, Any]) -> list[dict[str, Any]]:
    """The host's layers, then what the worker reported applying (limits, then confinement)."""
    worker = [row for frame in (ready, done) for row in frame.get("isolation", []) if isinstance(row, dict)]
    reported = {row.get("layer") for row in worker}
    host = [row for row in _host_isolation(workdir) if row["layer"] not in reported]
    return host + worker


def _host_isolation(workdir: Path) -> list[dict[str, Any]]:
    """The layers the host applies when it starts the worker, and those not built yet."""
    return [
        {"layer": "process", "active": True,
         "detail": "a separate process in its own session and process group, python -I -S"},
        {"layer": "environment", "active": True, "detail": "scrubbed: only " + ", ".join(sorted(_worker_environment()))},
        {"layer": "file descriptors", "active": True, "detail": "none inherited but the channel pipes"},
        {"layer": "work directory", "active": True, "detail": f"its own: {workdir}"},
        {"layer": "channel", "active": True, "detail": "length-capped JSON frames; nothing unpickled or evaluated"},
        {"layer": "landlock", "active": False, "detail": "not applied: files outside the work dir are readable"},
        {"layer": "seccomp", "active": False, "detail": "not applied: sockets and subprocesses are allowed"},
        {"layer": "namespaces", "active": False, "detail": "not applied: the worker shares the host's network"},
        {"layer": "private root", "active": False, "detail": "not applied: every path of the host can be stat'ed"},
        {"layer": "pid namespace", "active": False, "detail": "not applied: the worker can see other processes"},
    ]


def _worker_environment() -> dict[str, str]:
    """Only what Python needs to behave: no secrets, tokens or server settings of the host."""
    env = {"PYTHONUTF8": "1", "PYTHONDONTWRITEBYTECODE": "1", "TMPDIR": "."}
    for key in ("LANG", "LC_ALL", "TZ"):
        if key in os.environ:
            env[key] = os.environ[key]
    return env
