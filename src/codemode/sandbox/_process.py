"""The worker process's life, for `Sandbox`: its start, its signals, frames to it, its death.

`WorkerProcess` holds what concerns the process and its pipes; `Sandbox` (`_host.py`) adds the
cells on top and owns the state both use (declared here, set in `Sandbox.__init__`).

- A worker starts with four host-owned pipes (frames each way, and its fd 1 and 2), in a
  session of its own, confined by what `_confine_spec` tells it to apply to itself.
- It never outlives its owner: `_stop_process` kills its whole process group (twice: before
  and after reaping it), `kill_now` does so without the event loop, and a dying host's
  closed pipes end it.
- Its death is described once (`_died`), from its exit status and its last words on stderr,
  and every waiter on it (start, a completion, a running cell) gets that reason.
"""

from __future__ import annotations

import asyncio
import functools
import os
import signal
import subprocess
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from codemode.sandbox import _proctable, _watch, _workdir
from codemode.sandbox._frames import FrameError, encode
from codemode.sandbox._messages import Cell, ChannelProtocol, RawOutput, WorkerDied
from codemode.sandbox._workerspec import (
    EXECUTABLE_TREES,
    PACKAGE_PARENT,
    Limits,
    active,
    isolation_rows,
    library_trees,
    worker_environment,
)
from codemode.shared.pipes import read_in_small_chunks

# The worker imports only the standard library; a cold start is ~50 ms, so this is generous.
START_TIMEOUT = 30.0
_STDERR_TAIL = 4096
_BOOTSTRAP = (
    "import sys; sys.path.insert(0, sys.argv[3]); "
    "from codemode.sandbox.worker import main; main(sys.argv[1:3] + sys.argv[4:])"
)


class WorkerProcess:
    """The process half of `Sandbox` (see the module's docstring)."""

    _make_setup: Callable[[], Awaitable[dict[str, Any]]] | None
    _setup: dict[str, Any]
    allow_read: tuple[str, ...]
    limits: Limits
    confine: bool
    allow_subprocess: bool
    require: tuple[str, ...]
    isolation: list[dict[str, Any]]
    _python: str
    _own_workdir: bool
    _workdir_lock: int | None
    workdir: Path
    workdir_in_memory: bool
    _quota_asked: bool
    disk_quota: bool
    _process: asyncio.subprocess.Process | None
    _writer: asyncio.WriteTransport | None
    _tasks: list[asyncio.Task[None]]
    _raw: list[RawOutput]
    _ready: asyncio.Future[dict[str, Any]] | None
    _names: asyncio.Future[dict[str, Any]] | None
    _cell: Cell | None
    _stderr_tail: bytes
    _death: str | None
    starts: int
    _frozen: bool
    _guard: int | None
    _disk_base: int
    _disk_used: int
    _base_processes: int

    @property
    def alive(self) -> bool:
        # The pipe to the worker can learn of its death (EPIPE) before the frame reader does.
        writable = self._writer is not None and not self._writer.is_closing()
        return self._process is not None and self._process.returncode is None and self._death is None and writable

    def _handle(self, message: dict[str, Any], size: int) -> asyncio.Future[Any] | None:
        """A frame from the worker, `size` bytes (`Sandbox` dispatches it); a future holds the
        channel until it settles (`ChannelProtocol`)."""
        raise NotImplementedError

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
        self._guard = None
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
            # Before `setup` (which forks into the PID namespace) and before any thread: the
            # guard is the worker's only child now. It must keep running while the group is
            # paused, or a host that dies between cells would leave it stopped for good.
            self._guard = _proctable.only_child(self._process.pid)
            if self._make_setup is not None:
                self._setup = await self._make_setup()
            self._send({"op": "setup", **self._setup, "confine": self._confine_spec()})
            self._ready = loop.create_future()
            done = await asyncio.wait_for(asyncio.shield(self._ready), START_TIMEOUT)
            self.isolation = isolation_rows(self.workdir, ready, done)
            # Built with the private root or not at all (a failure past its first step is fatal).
            self.disk_quota = self._quota_asked and active(self.isolation, "private root")
            self.isolation += [self._processes_row(), *self._bound_rows()]
            if not active(self.isolation, "unprivileged user") and not any(
                    row.get("layer") == "unprivileged user" for row in self.isolation):
                self.isolation.append(self._user_row())
            if self.limits.disk is not None and not self.disk_quota:
                self._disk_base = self._disk_used = await asyncio.to_thread(_watch.workdir_size, self.workdir)
            if self.allow_subprocess:
                self._base_processes = group_size(self._process.pid)
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

    def _drop_ids(self) -> tuple[int, int] | None:
        """The uid and gid a worker started by root becomes: `nobody` with a private work dir
        (made its owner), else the owner of the given work dir; None when the host is not root,
        or the given work dir is root's (the worker must write it)."""
        if not hasattr(os, "geteuid") or os.geteuid() != 0:
            return None
        if self._own_workdir:
            try:
                os.chown(self.workdir, _workdir.NOBODY, _workdir.NOBODY)
            except OSError:
                return None
            return _workdir.NOBODY, _workdir.NOBODY
        try:
            info = os.stat(self.workdir)
        except OSError:
            return None
        return (info.st_uid, info.st_gid) if info.st_uid != 0 else None

    def _user_row(self) -> dict[str, Any]:
        """Whom the worker runs as, when it did not say (it does when asked to drop root)."""
        if not hasattr(os, "geteuid") or os.geteuid() != 0:
            return {"layer": "unprivileged user", "active": True,
                    "detail": f"runs as the host's own uid {os.geteuid() if hasattr(os, 'geteuid') else '?'} "
                              "(not root)"}
        if not self.confine:
            return {"layer": "unprivileged user", "active": False, "detail": "not applied: runs as root"}
        return {"layer": "unprivileged user", "active": False, "detail": (
            f"not applied: the work dir {self.workdir} belongs to root, so the worker stays root inside its user "
            "namespace (no capability over the host's files); give a --workdir owned by an unprivileged user "
            "(the worker takes its owner's ids), or none")}

    def _processes_row(self) -> dict[str, Any]:
        if not self.allow_subprocess:
            return {"layer": "processes", "active": active(self.isolation, "seccomp"),
                    "detail": "none: no fork or exec (seccomp)"}
        return {"layer": "processes", "active": True,
                "detail": f"at most {self.limits.processes} in the worker's group, counted by the host "
                          "(past it all are killed); none may leave the group (no setsid or setpgid)"}

    def _bound_rows(self) -> list[dict[str, Any]]:
        limits = self.limits
        disk: dict[str, Any] = {"layer": "disk", "active": limits.disk is not None,
                                "detail": "no bound on the work dir's total"}
        if limits.disk is not None and self.disk_quota:
            disk["detail"] = (f"the work dir is a tmpfs of the worker's own: at most {_watch.mib(limits.disk)} and "
                              f"{limits.entries:,} entries, whatever the route (no write past it: DISK); it is "
                              f"memory, so this comes out of --memory: the heap gets {_watch.mib(limits.memory or 0)}; "
                              "its files go with the worker")
        elif limits.disk is not None:
            disk["detail"] = (f"the work dir holds at most {_watch.mib(limits.disk)} and {limits.entries:,} entries, "
                              "counted by the host while a cell runs and when it ends (DISK): a fast writer may pass "
                              "it by what it writes in a quarter second; no one file larger")
            if self.workdir_in_memory:
                disk["detail"] += ("; the work dir is in memory (tmpfs), so this comes out of --memory: the heap "
                                   f"gets {_watch.mib(limits.memory or 0)}")
        cpu = {"layer": "cpu", "active": True, "detail": (
            "only inside a cell: threads a cell leaves are stopped when it ends, and the worker's whole group is "
            "paused (SIGSTOP) from the end of each cell to the next, whatever its frames say" + (f"; at most {limits.cell_cpu_seconds:g} CPU seconds per cell "
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
            **({"workdir_tmpfs": [self.limits.disk, self.limits.entries]}
               if self._quota_asked and self.limits.disk else {}),
            **({"drop_to": list(drop)} if (drop := self._drop_ids()) else {}),
            # With a disk bound nothing may allocate faster than it writes: a work dir the host
            # counts would be passed in milliseconds (a tmpfs of its own bounds it anyway).
            "refuse_fallocate": self.limits.disk is not None,
            "landlock": True,
            "seccomp": True,
            "allow_subprocess": self.allow_subprocess,
            "read_only": library_trees(self._setup.get("sys_path") or []) + list(self.allow_read),
            "read_write": [str(self.workdir), "/dev/null"],
            "allow_execute": execute,
        }

    def kill_now(self) -> None:
        """Kill the worker's process group and remove its private work directory, at once and
        without the event loop (a process that exits on Ctrl-C). Safe from a signal handler."""
        process = self._process
        if process is not None:
            kill_group(process.pid)
        self._remove_own_workdir()

    async def aclose(self) -> None:
        """Stop the worker and remove its private work directory."""
        await self._stop_process()
        self._remove_own_workdir()

    def _remove_own_workdir(self) -> None:
        if self._own_workdir:
            lock, self._workdir_lock = self._workdir_lock, None
            _workdir.release(self.workdir, lock)

    def _send(self, message: dict[str, Any]) -> None:
        if self._writer is None or self._writer.is_closing():
            raise WorkerDied(self._death or "the worker is not running")
        self._thaw()  # paused between cells (its leftovers still running): it must read this
        self._writer.write(encode(message))

    def _freeze(self) -> None:
        """Stop every process of the worker's group but its guard: the host, not a frame,
        decides that a cell is over (SIGSTOP cannot be caught, blocked or ignored)."""
        if self._process is not None and not self._frozen:
            try:
                os.killpg(self._process.pid, signal.SIGSTOP)
                self._frozen = True
            except (ProcessLookupError, PermissionError):
                return
            if self._guard is not None:
                try:
                    os.kill(self._guard, signal.SIGCONT)
                except ProcessLookupError:
                    pass

    def _thaw(self) -> None:
        if self._frozen and self._process is not None:
            self._frozen = False
            try:
                os.killpg(self._process.pid, signal.SIGCONT)
            except (ProcessLookupError, PermissionError):
                pass

    def interrupt(self) -> None:
        """Raise KeyboardInterrupt in the running cell (SIGINT to the worker). Paused between
        cells there is none: a SIGINT kept pending would land in the next cell."""
        if self.alive and self._process is not None and not self._frozen:
            try:
                os.kill(self._process.pid, signal.SIGINT)
            except ProcessLookupError:
                pass

    async def _watch_channel(self, ended: asyncio.Future[FrameError | None]) -> None:
        problem = await ended
        if problem is None:
            await self._died(await self._exit_description())
        else:
            await self._died(f"the worker sent a bad frame ({problem}); it was stopped")
            await self._stop_process()

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
            kill_group(process.pid)
            if process.returncode is None:
                await process.wait()
            kill_group(process.pid)  # any child forked while the group was being killed
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


def kill_group(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def group_size(pgid: int) -> int:
    """How many live processes are in process group `pgid` (0 where /proc is missing)."""
    return len(_proctable.members(pgid))
