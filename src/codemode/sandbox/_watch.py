"""What the host counts while a cell runs: processes, CPU and the work dir's size.

Runs on the host's event loop, one task per cell. Every tick it reads the worker's process
group from /proc (`_proctable`) and, less often, the size of the work dir (in a thread: a big
tree takes a while to walk). It returns a `Breach` once a bound is passed; the host then
kills the whole group and reports the breach's code. Bounds:

- processes in the group (with subprocesses allowed: a fork bomb), `Limits.processes`;
- CPU seconds of the group since the cell started, `Limits.cell_cpu_seconds` (threads on
  every core, children included; counted from the first tick, so a cell shorter than a tick
  is never counted);
- bytes and entries in the work dir, `Limits.disk` and `Limits.entries` (RLIMIT_FSIZE bounds
  each file, not their sum). A dir that held more when the worker started keeps that size
  as its bound. This is for a work dir the user gave (or where no private root can be
  built): a private one is a tmpfs of the worker's own, bounded by the kernel (`_root`).
"""

from __future__ import annotations

import asyncio
import os
import stat
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from codemode.sandbox import _proctable

if TYPE_CHECKING:
    from codemode.sandbox._workerspec import Limits

# Ticks: often enough that a fork bomb or a disk filler is caught early, rarely enough that
# reading /proc costs nothing noticeable (a scan takes 1-3 ms).
TICK = 0.1
TICK_WITHOUT_PROCESSES = 0.25
# The work dir is walked at most this often, and less often when a walk is slow.
DISK_TICK = 0.25


@dataclass(frozen=True)
class Breach:
    """A bound the cell passed: the error code the cell reports and why."""

    code: str
    type: str
    reason: str


def workdir_size(path: Path) -> int:
    """Bytes the tree at `path` holds on disk (allocated blocks; hard links counted once;
    symbolic links not followed)."""
    return workdir_usage(path)[0]


def workdir_usage(path: Path) -> tuple[int, int]:
    """Bytes the tree at `path` holds on disk (as `workdir_size`) and its entries (every name
    beneath it: files, directories, links)."""
    total = count = 0
    seen: set[tuple[int, int]] = set()
    stack = [str(path)]
    while stack:
        try:
            entries = os.scandir(stack.pop())
        except OSError:
            continue
        with entries:
            for entry in entries:
                try:
                    info = entry.stat(follow_symlinks=False)
                except OSError:
                    continue
                count += 1
                key = (info.st_dev, info.st_ino)
                if key in seen:
                    continue
                seen.add(key)
                total += getattr(info, "st_blocks", 0) * 512 or info.st_size
                if stat.S_ISDIR(info.st_mode):
                    stack.append(entry.path)
    return total, count


def in_memory(path: Path) -> bool:
    """Whether `path` lies on a file system held in memory (tmpfs, ramfs): what a work dir
    there keeps is memory, not disk (Linux; False where /proc/self/mounts is missing)."""
    try:
        lines = Path("/proc/self/mounts").read_text().splitlines()
    except OSError:
        return False
    real = os.path.realpath(path)
    best, kind = "", ""
    for line in lines:
        fields = line.split()
        if len(fields) < 3:
            continue
        point = fields[1].replace("\\040", " ")
        if (real == point or real.startswith(point.rstrip("/") + "/")) and len(point) >= len(best):
            best, kind = point, fields[2]
    return kind in ("tmpfs", "ramfs")


def mib(size: float) -> str:
    return f"{size / 1024**2:,.0f} MiB"


def disk_breach(used: int, bound: int | None, base: int, entries: int = 0,
                max_entries: int | None = None) -> Breach | None:
    """The DISK breach when the work dir holds more than its bound (or than it held at the
    worker's start, when that was more), or more entries than `max_entries`."""
    if bound is not None and max_entries is not None and entries > max_entries:
        return Breach("DISK", "DiskLimitError",
                      f"the work dir holds {entries:,} entries, over its bound of {max_entries:,}; delete files from it")
    if bound is None or used <= max(bound, base):
        return None
    return Breach("DISK", "DiskLimitError",
                  f"the work dir holds {mib(used)}, over its bound of {mib(max(bound, base))} "
                  "(--disk or diskMb); delete files from it or raise the bound")


def tick_for(count_processes: bool) -> float:
    return TICK if count_processes else TICK_WITHOUT_PROCESSES


async def watch(done: asyncio.Future[Any], pgid: int | None, limits: Limits, workdir: Path, disk_base: int,
                count_processes: bool, tree: bool = False) -> Breach | None:
    """Count until the cell is done (None) or a bound is passed (the Breach). `tree`: the
    group's members all descend from its leader (a PID namespace; see `_proctable.members`).

    Started one tick into the cell (`tick_for`), by a timer: most cells end sooner, and then
    no task is made for them at all."""
    has_proc = pgid is not None and os.path.isdir("/proc")
    tick = tick_for(count_processes)
    cpu_start: float | None = None
    next_disk = time.monotonic() + DISK_TICK - tick
    while not done.done():
        if has_proc:
            assert pgid is not None
            members = _proctable.members(pgid, tree)
            if count_processes and len(members) > limits.processes:
                return Breach("SANDBOX_CRASHED", "WorkerCrashedError",
                              f"the cell started more than {limits.processes} processes (a fork bomb?); "
                              "they and the worker were killed")
            cpu = sum(member.cpu_seconds for member in members)
            if cpu_start is None:
                cpu_start = cpu
            elif limits.cell_cpu_seconds is not None and cpu - cpu_start > limits.cell_cpu_seconds:
                return Breach("CPU_LIMIT", "CpuLimitError",
                              f"the cell used more than {limits.cell_cpu_seconds:g} s of CPU (its threads and "
                              "processes together)")
        if limits.disk is not None and time.monotonic() >= next_disk:
            started = time.monotonic()
            used, entries = await asyncio.to_thread(workdir_usage, workdir)
            next_disk = time.monotonic() + max(DISK_TICK, 10 * (time.monotonic() - started))
            breach = disk_breach(used, limits.disk, disk_base, entries, limits.entries)
            if breach is not None:
                return breach
        await asyncio.sleep(tick)
    return None
