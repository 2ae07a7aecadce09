"""The host's view of the worker's process group, read from /proc (Linux; empty elsewhere).

Every process the worker's cells start stays in the worker's process group (seccomp refuses
`setsid` and `setpgid`), so the group is the unit the host counts, times and kills: the
supervisor, the PID namespace's init, the worker proper and whatever the cell started.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


@dataclass(frozen=True)
class Member:
    """One live process of the group."""

    pid: int
    ppid: int
    cpu_seconds: float  # user + system time of the process itself (its threads included)


def members(pgid: int) -> list[Member]:
    """The live (not zombie) processes of process group `pgid`."""
    found: list[Member] = []
    try:
        entries = os.listdir("/proc")
    except OSError:
        return found
    wanted = b"%d" % pgid
    for entry in entries:
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as stat:
                fields = stat.read().rsplit(b")", 1)[1].split()
        except (OSError, IndexError):
            continue  # gone while we looked
        # Fields after the name: state ppid pgrp ...; utime and stime are the 12th and 13th.
        if len(fields) > 13 and fields[2] == wanted and fields[0] != b"Z":
            found.append(Member(int(entry), int(fields[1]), (int(fields[11]) + int(fields[12])) / _TICKS))
    return found


def cpu_seconds(pgid: int) -> float:
    """CPU time used so far by the live processes of the group."""
    return sum(member.cpu_seconds for member in members(pgid))


def host_pid(pgid: int, inner_pid: int) -> int | None:
    """The host's pid of the group member that is `inner_pid` in its own PID namespace."""
    for member in members(pgid):
        try:
            with open(f"/proc/{member.pid}/status", "rb") as status:
                for line in status:
                    if line.startswith(b"NSpid:"):
                        if int(line.split()[-1]) == inner_pid and len(line.split()) > 2:
                            return member.pid
                        break
        except (OSError, ValueError):
            continue
    return None
