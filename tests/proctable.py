"""The process table, read from /proc: who started whom, what runs, what is left.

Tests of process ownership (kernels, the fault suite, serve's workers, cassettes) check that
what a part started ends with it (zombies aside: they are dead, waiting for a parent to read
their status). A pid's start time tells it apart from a reused pid. For the fault suite, how
long the cleanup took, from the fault to the last process gone, is recorded per scenario
(`times`); its conftest prints them at the end of the run.
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


def children(parent: int, mark: str) -> set[int]:
    """The live direct children of `parent` whose command line contains `mark`."""
    return {pid for pid, ppid in parents().items() if ppid == parent and mark in cmdline(pid)}


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


def still_alive(processes: dict[int, str], timeout: float = GONE_TIMEOUT) -> dict[int, str]:
    """Wait up to `timeout` seconds for every process of `processes` (pid → start time) to go.
    Returns those still alive then, with their command lines (empty when all went)."""
    deadline = time.monotonic() + timeout
    while True:
        alive = {pid: cmdline(pid) for pid, started in processes.items() if start_time(pid) == started}
        if not alive or time.monotonic() > deadline:
            return alive
        time.sleep(0.01)  # a process table has no event to wait on


def left_after(processes: dict[int, str], since: float, scenario: str, timeout: float = GONE_TIMEOUT) -> dict[int, str]:
    """`still_alive`, and how long the processes took to go from `since` (a `time.monotonic()`
    of the fault), recorded under `scenario` when they all went."""
    alive = still_alive(processes, timeout)
    if not alive:
        times.append((scenario, time.monotonic() - since))
    return alive
