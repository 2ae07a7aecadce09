"""The worker ends with its host, whatever kills the host: two guards, each enough alone.

Runs inside the worker, first thing (before limits, confinement and any thread): standard
library only. Invariants:

- Parent-death signal: `PR_SET_PDEATHSIG(SIGKILL)`. Linux sends it when the *thread* that
  forked the worker exits; the host forks from the hub's event-loop thread, which lives as
  long as the host's sessions. It kills the worker only, not what its cells started.
- The guard: a process forked here, before any thread, that keeps nothing but the read end
  of the host's frame pipe and waits for that pipe's hang-up (poll with no events asked: it
  reads nothing, so the worker's frames stay the worker's). The host holds the only write
  end, so the hang-up means the host closed it or died, by any signal. The guard then kills
  the worker's whole process group (seccomp keeps every process a cell starts in it), itself
  included. Being a process of its own, it acts even while the worker holds the GIL in a
  C-level loop, and after the worker died of the parent-death signal.
- The guard runs only this module's code: it is forked before any cell exists, never execs,
  and a confined worker can neither trace it (seccomp) nor signal it (Landlock's signal
  scope) nor open its /proc files (Landlock).
- With a PID namespace (the worker forking once more after `unshare(CLONE_NEWPID)`), the
  guard stays in the host's namespace; killing the group still reaches every level.
"""

from __future__ import annotations

import os
import select
import signal

PR_SET_PDEATHSIG = 1
PR_SET_NAME = 15
GUARD_NAME = b"codemode-guard"


def _prctl(option: int, value: int | bytes) -> bool:
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        arg = ctypes.c_char_p(value) if isinstance(value, bytes) else ctypes.c_ulong(value)
        return bool(libc.prctl(ctypes.c_int(option), arg, ctypes.c_ulong(0), ctypes.c_ulong(0), ctypes.c_ulong(0)) == 0)
    except (OSError, AttributeError):  # no libc prctl (not Linux): the guard process remains
        return False


def die_with_host() -> bool:
    """Ask the kernel for SIGKILL when the host's forking thread ends. False where there is
    no prctl (the guard still covers it)."""
    return _prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def start_guard(channel_fd: int) -> int:
    """Fork the guard that kills this process group once the host's end of `channel_fd`
    (the read end of the host-to-worker pipe) closes. Returns the guard's pid."""
    pid = os.fork()
    if pid:
        return pid
    try:  # the guard: nothing in here may return into the worker's code
        _prctl(PR_SET_NAME, GUARD_NAME)
        os.closerange(0, channel_fd)
        os.closerange(channel_fd + 1, 1 << 16)
        # The worker's SIGINT is the host's interrupt of a cell, sent to the worker's pid only;
        # a Ctrl-C on a terminal reaches the host's group, never this one (own session).
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        watch = select.poll()
        watch.register(channel_fd, 0)  # POLLHUP and POLLERR are always reported
        while not watch.poll():
            pass
        os.killpg(0, signal.SIGKILL)
    finally:
        os._exit(0)
    return 0  # unreachable: both branches above leave
