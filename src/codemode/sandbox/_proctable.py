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


def members(pgid: int, tree: bool = False) -> list[Member]:
    """The live (not zombie) processes of process group `pgid`.

    `tree`: every member descends from the group's leader (`pgid` itself), as in a PID
    namespace whose init is in the group and adopts every orphan; then only the leader's
    descendants are read, not every process of the machine (a scan of /proc took ~4 ms
    here, every tick of a cell's watch). Without the leader it falls back to the scan.
    """
    if tree:
        found = _descendants(pgid)
        if found is not None:
            return found
    found = []
    try:
        entries = os.listdir("/proc")
    except OSError:
        return found
    wanted = b"%d" % pgid
    for entry in entries:
        if not entry.isdigit():
            continue
        member = _member(int(entry), wanted)
        if member is not None:
            found.append(member)
    return found


def _member(pid: int, pgid: bytes) -> Member | None:
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            fields = stat.read().rsplit(b")", 1)[1].split()
    except (OSError, IndexError):
        return None  # gone while we looked
    # Fields after the name: state ppid pgrp ...; utime and stime are the 12th and 13th.
    if len(fields) > 13 and fields[2] == pgid and fields[0] != b"Z":
        return Member(pid, int(fields[1]), (int(fields[11]) + int(fields[12])) / _TICKS)
    return None


def _descendants(leader: int) -> list[Member] | None:
    """The group's members among the leader and its descendants; None when the leader is gone."""
    wanted = b"%d" % leader
    first = _member(leader, wanted)
    if first is None:
        return None
    found, stack = [first], [leader]
    while stack:
        pid = stack.pop()
        try:
            tasks = os.listdir(f"/proc/{pid}/task")
        except OSError:
            continue
        for task in tasks:
            try:
                with open(f"/proc/{pid}/task/{task}/children", "rb") as children:
                    kids = children.read().split()
            except OSError:
                continue
            for kid in kids:
                member = _member(int(kid), wanted)
                if member is not None:
                    found.append(member)
                stack.append(int(kid))
    return found


def cpu_seconds(pgid: int) -> float:
    """CPU time used so far by the live processes of the group."""
    return sum(member.cpu_seconds for member in members(pgid))


def host_pid(pgid: int, inner_pid: int) -> int | None:
    """The host's pid of the group member that is `inner_pid` in its own PID namespace (whose
    init is in the group, so the group is the leader's tree)."""
    for member in members(pgid, tree=True):
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


def only_child(pid: int) -> int | None:
    """The one child of `pid` (over all its threads), or None when it has none or several."""
    kids: list[bytes] = []
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children", "rb") as children:
                kids += children.read().split()
    except OSError:
        return None
    return int(kids[0]) if len(kids) == 1 else None
