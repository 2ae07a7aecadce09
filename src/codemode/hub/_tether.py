"""Runs one stdio MCP server so that it, and every process it starts, ends with its owner.

The hub starts `python -I -S _tether.py OWNER_PID COMMAND ARGS...` instead of the server;
the SDK sees this process (its pipes, its process group) and the server runs as its child,
inheriting stdin, stdout, stderr, the environment and the work directory unchanged.
Standard library only, run as a script: it must start in milliseconds. Invariants:

- The server's whole process group ends when the server's own process ends (`npx` leaves
  `node`, a server leaves a helper): the tether kills the rest of the group, then exits
  with the server's status. So after the SDK's orderly shutdown (close stdin, wait, signal
  the group) nothing of the server is left.
- The owner's death ends the group within about a second, by any signal: a parent-death
  signal (SIGHUP, from the owner's forking thread: the hub's loop thread) and, independent of
  it, the hang-up of stdin, whose write end only the owner holds. On the parent-death signal
  the group gets SIGTERM and, `OWNER_GONE_GRACE` later, SIGKILL. On the hang-up alone (an
  orderly close, or a dead owner whose signal did not come) the server first gets
  `CLOSE_GRACE` to exit by itself, longer than the SDK's own wait, so the SDK's escalation
  runs first whenever the owner is alive.
- A SIGTERM to the group (the SDK's escalation) is the server's to handle; the tether waits
  for the server, then ends the rest.
- The parent-death signal arrives once per thread of the owner as they exit (the child is
  re-parented to a sibling thread first), so the tether acts on the first and ignores the rest.
"""

from __future__ import annotations

import os
import select
import signal
import sys
import threading
import time

PR_SET_PDEATHSIG = 1
# A dying owner: long enough for a server to flush a file on SIGTERM, short enough that
# nothing of it is seen a second later.
OWNER_GONE_GRACE = 0.5
# stdin closed: the SDK waits 2 s for the server to exit, then signals the group itself.
CLOSE_GRACE = 3.0
_POLL = 0.01


class _OwnerGone(Exception):
    pass


def _group_members() -> list[int]:
    """The live processes of this process group, but this one."""
    me, group, found = os.getpid(), os.getpgrp(), []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == me:
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as stat:
                fields = stat.read().rsplit(b")", 1)[1].split()
        except OSError:
            continue
        if len(fields) > 2 and fields[2] == b"%d" % group and fields[0] not in (b"Z", b"X"):
            found.append(int(entry))
    return found


def end_group(grace: float) -> None:
    """SIGTERM the rest of the group (when `grace` > 0), wait up to `grace`, then SIGKILL
    until none is left. The tether itself stays to report the server's status."""
    how = signal.SIGTERM if grace > 0 else signal.SIGKILL
    deadline = time.monotonic() + grace
    for _ in range(10_000):
        members = _group_members()
        if not members:
            return
        if how == signal.SIGTERM and time.monotonic() >= deadline:
            how = signal.SIGKILL
        for pid in members:
            try:
                os.kill(pid, how)
            except (ProcessLookupError, PermissionError):
                pass
        _reap()
        time.sleep(_POLL)


def _reap() -> None:
    try:
        while os.waitpid(-1, os.WNOHANG)[0] > 0:
            pass
    except ChildProcessError:
        pass


def _die_with(owner: int) -> None:
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(ctypes.c_int(PR_SET_PDEATHSIG), ctypes.c_ulong(signal.SIGHUP), ctypes.c_ulong(0),
                   ctypes.c_ulong(0), ctypes.c_ulong(0))
    except (OSError, AttributeError):
        pass  # no prctl: the stdin hang-up still ends the group
    if os.getppid() != owner:  # the owner died before the signal was asked for
        raise _OwnerGone


def _watch_stdin() -> None:
    """The second guard: stdin hangs up when the owner closes it or dies."""
    watch = select.poll()
    watch.register(0, 0)  # only POLLHUP / POLLERR: the server's input stays the server's
    while not watch.poll():
        pass
    time.sleep(CLOSE_GRACE)
    os.kill(os.getpid(), signal.SIGUSR1)


def main(argv: list[str]) -> int:
    owner, command = int(argv[0]), argv[1:]

    gone = False

    def owner_gone(signum: int, frame: object) -> None:
        # Once only: the parent-death signal comes again each time the owner's next thread
        # exits (the kernel re-parents to a sibling thread first), and the ending must finish.
        nonlocal gone
        if not gone:
            gone = True
            raise _OwnerGone

    signal.signal(signal.SIGHUP, owner_gone)
    signal.signal(signal.SIGUSR1, owner_gone)
    signal.signal(signal.SIGTERM, lambda *_: None)  # the server's to handle (reset by exec)
    try:  # the owner may go at any point from here: whatever was started ends with it
        _die_with(owner)
        server = os.fork()
        if server == 0:
            try:
                os.execvp(command[0], command)
            except OSError as exc:
                os.write(2, f"codemode: cannot run {command[0]!r}: {exc.strerror}\n".encode())
            os._exit(127)
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)  # stdout is the server's: its reader must see EOF when the server ends
        threading.Thread(target=_watch_stdin, daemon=True, name="codemode-tether-stdin").start()
        _, status = os.waitpid(server, 0)
    except _OwnerGone:
        end_group(OWNER_GONE_GRACE)
        return 1
    try:
        end_group(0)
    except _OwnerGone:
        end_group(0)
    return os.waitstatus_to_exitcode(status) if os.waitstatus_to_exitcode(status) >= 0 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
