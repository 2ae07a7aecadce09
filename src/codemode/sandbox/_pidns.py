"""The worker's own PID namespace: three processes, one life.

`unshare(CLONE_NEWPID)` moves only the caller's *children* into the new namespace, so the
worker forks after it. The process the host started (the supervisor, outside the namespace)
forks the namespace's init (pid 1), which forks the worker proper (pid 2):

    host ── supervisor (host's pid, group leader) ── init (pid 1) ── worker (pid 2) ── cell's children

- The worker is the only one holding the channel; the other two close it at once, so the
  host sees the channel end when the worker does.
- init reaps every orphan the cell's children leave (with subprocesses allowed a
  double-forked daemon is re-parented to it), and exits with the worker's status when the
  worker ends. When a namespace's init dies the kernel kills everything left in it: nothing
  the cell started outlives the worker.
- The supervisor waits for init and exits the same way (a worker killed by a signal looks
  killed by that signal to the host); it forwards the host's SIGINT down the chain. init
  dies with the supervisor (PR_SET_PDEATHSIG), and all three stay in the host's process
  group, so the host's kill of the group reaches them all.
- Inside, the worker sees itself as pid 2 and its parent as pid 1, which Landlock's signal
  scope keeps it from signalling. No other process of the machine has a pid it can name.
Standard library only.
"""

from __future__ import annotations

import os
import signal

TYPE_CHECKING = False  # `typing` costs ~10 ms of worker start-up
if TYPE_CHECKING:
    from collections.abc import Iterable
    from typing import Any, NoReturn

_PR_SET_PDEATHSIG = 1


def split(channel_fds: Iterable[int], libc: Any) -> None:
    """Fork down into the PID namespace the caller unshared; returns only in the worker."""
    fds = tuple(channel_fds)
    init = os.fork()
    if init:
        _wait_and_mirror(init, fds)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)  # the supervisor gone: end it all
    worker = os.fork()
    if worker:
        _wait_and_mirror(worker, fds, reap_all=True)


def _wait_and_mirror(child: int, channel_fds: tuple[int, ...], reap_all: bool = False) -> NoReturn:
    """Close the channel, forward SIGINT to `child`, wait for it and exit as it did."""
    for fd in channel_fds:
        try:
            os.close(fd)
        except OSError:
            pass
    signal.signal(signal.SIGINT, lambda *_: _forward(child, signal.SIGINT))
    while True:
        try:
            pid, status = os.waitpid(-1 if reap_all else child, 0)
        except ChildProcessError:
            os._exit(1)
        if pid == child:
            break
    if os.WIFSIGNALED(status):
        number = os.WTERMSIG(status)
        if os.getpid() != 1:  # init cannot kill itself with a signal; it exits 128 + n
            _die(number)
        os._exit(128 + number)
    code = os.waitstatus_to_exitcode(status)
    if os.getpid() != 1 and 128 < code < 128 + 65:  # init's report of a signal: mirror it
        _die(code - 128)
    os._exit(code)


def _die(number: int) -> None:
    if number not in (signal.SIGKILL, signal.SIGSTOP):
        signal.signal(number, signal.SIG_DFL)
    os.kill(os.getpid(), number)
    os.kill(os.getpid(), signal.SIGKILL)  # a signal whose default is to go on


def _forward(child: int, number: int) -> None:
    try:
        os.kill(child, number)
    except ProcessLookupError:
        pass
