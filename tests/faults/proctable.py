"""The process table, read from /proc, and how long each fault's cleanup took.

Every fault scenario ends by checking that no process it started is left (zombies aside:
they are dead, waiting for a parent to read their status). How long that took, from the
fault to the last process gone, is recorded per scenario (`times`); the suite's conftest
prints them at the end of the run.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

# A generous bound for processes to go: a loaded CI machine fails only on a real leak.
GONE_TIMEOUT = 30.0
times: list[tuple[str, float]] = []


def parents() -> dict[int, int]:
    """pid → parent pid of every live (non-zombie) process."""
    table: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as stat:
                fields = stat.read().rsplit(b")", 1)[1].split()
        except OSError:
            continue
        if fields[0] not in (b"Z", b"X"):
            table[int(entry)] = int(fields[1])
    return table


def descendants(root: int) -> set[int]:
    """The live processes under `root` (children, grandchildren...)."""
    table = parents()
    found: set[int] = set()
    frontier = {root}
    while frontier:
        frontier = {pid for pid, parent in table.items() if parent in frontier} - found
        found |= frontier
    return found


def start_time(pid: int) -> str | None:
    """The process's start time in clock ticks (tells a pid's reuse apart); None once it is
    gone or a zombie."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_bytes().rsplit(b")", 1)[1].split()
    except OSError:
        return None
    return None if fields[0] in (b"Z", b"X") else fields[19].decode()


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return ""


def snapshot(pids: set[int]) -> dict[int, str]:
    """pid → start time, for the processes of `pids` that are alive now."""
    return {pid: started for pid in pids if (started := start_time(pid)) is not None}


def left_after(processes: dict[int, str], since: float, scenario: str, timeout: float = GONE_TIMEOUT) -> dict[int, str]:
    """Wait until every process of `processes` (pid → start time) is gone; record how long
    that took from `since` (a `time.monotonic()` of the fault) under `scenario`. Returns the
    processes still alive after `timeout` seconds, with their command lines."""
    deadline = time.monotonic() + timeout
    while True:
        alive = {pid: cmdline(pid) for pid, started in processes.items() if start_time(pid) == started}
        if not alive:
            times.append((scenario, time.monotonic() - since))
            return {}
        if time.monotonic() > deadline:
            return alive
        time.sleep(0.01)  # a process table has no event to wait on
