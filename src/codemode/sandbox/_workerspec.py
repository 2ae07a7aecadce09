"""What a worker is given and bounded by: its resource limits, the trees it may read or run,
its environment, and the isolation rows the host reports for it."""

from __future__ import annotations

import dataclasses
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PACKAGE_PARENT = str(Path(__file__).resolve().parents[2])


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
    # Entries (files, directories, links) the work dir may hold: empty files cost no bytes.
    # A private work dir is a tmpfs with this many inodes; another is counted by the host.
    entries: int = 100_000
    # CPU seconds one cell may use, its threads and children included (counted by the host
    # while it runs; past it the worker is stopped, code CPU_LIMIT). Generous: the cell's
    # wall-clock timeout is the everyday bound; this one catches threads on every core.
    cell_cpu_seconds: float | None = 600.0

    def to_json(self) -> str:
        file_size = min(v for v in (self.file_size, self.disk) if v) if self.file_size or self.disk else None
        return json.dumps({"memory": self.memory, "open_files": self.open_files,
                           "file_size": file_size, "cpu_seconds": self.cpu_seconds, "core_size": 0})


def sharing_memory(limits: Limits) -> Limits:
    """Limits for a work dir held in memory (a tmpfs: the host's, or the worker's own): the
    heap and the work dir share `memory`, the work dir getting at most half (and no more than
    its disk bound)."""
    if limits.memory is None:
        return limits
    share = min(limits.disk or limits.memory, limits.memory // 2)
    return dataclasses.replace(limits, memory=limits.memory - share, disk=share)


# Shared libraries and time zones: read-only, no secrets in them, needed by C extensions.
_SYSTEM_TREES = ["/usr/lib", "/usr/lib64", "/lib", "/lib64", "/usr/share/zoneinfo", "/etc/localtime"]
# Where programs live, executable only when the policy allows subprocesses.
EXECUTABLE_TREES = ["/usr/bin", "/bin", "/usr/lib", "/lib", "/lib64", "/usr/libexec"]


def library_trees(sys_path: list[str]) -> list[str]:
    """The read-only grants: the interpreter's libraries and ours, never a home or /proc.

    Only library directories of the host's sys.path are granted (under the interpreter's
    prefixes, or named site-packages / dist-packages), not the path wholesale: that would
    grant the current directory or a script's folder.
    """
    stdlib = os.path.dirname(os.__file__)
    prefixes = tuple(os.path.join(p, "") for p in {sys.prefix, sys.base_prefix})
    trees = [stdlib, PACKAGE_PARENT]
    for path in sys_path:
        if path.startswith(prefixes) or "site-packages" in path or "dist-packages" in path:
            trees.append(path)
    return sorted(set(trees)) + _SYSTEM_TREES


def active(rows: list[dict[str, Any]], layer: str) -> bool:
    return any(row.get("layer") == layer and row.get("active") for row in rows)


def isolation_rows(workdir: Path, ready: dict[str, Any], done: dict[str, Any]) -> list[dict[str, Any]]:
    """The host's layers, then what the worker reported applying (limits, then confinement)."""
    worker = [row for frame in (ready, done) for row in frame.get("isolation", []) if isinstance(row, dict)]
    reported = {row.get("layer") for row in worker}
    host = [row for row in host_isolation(workdir) if row["layer"] not in reported]
    return host + worker


def host_isolation(workdir: Path) -> list[dict[str, Any]]:
    """The layers the host applies when it starts the worker, and those not built yet."""
    return [
        {"layer": "process", "active": True,
         "detail": "a separate process in its own session and process group, python -I -S"},
        {"layer": "environment", "active": True, "detail": "scrubbed: only " + ", ".join(sorted(worker_environment()))},
        {"layer": "file descriptors", "active": True, "detail": "none inherited but the channel pipes"},
        {"layer": "work directory", "active": True, "detail": f"its own: {workdir}"},
        {"layer": "channel", "active": True, "detail": "length-capped JSON frames; nothing unpickled or evaluated"},
        {"layer": "landlock", "active": False, "detail": "not applied: files outside the work dir are readable"},
        {"layer": "seccomp", "active": False, "detail": "not applied: sockets and subprocesses are allowed"},
        {"layer": "namespaces", "active": False, "detail": "not applied: the worker shares the host's network"},
        {"layer": "private root", "active": False, "detail": "not applied: every path of the host can be stat'ed"},
        {"layer": "pid namespace", "active": False, "detail": "not applied: the worker can see other processes"},
    ]


def worker_environment() -> dict[str, str]:
    """Only what Python needs to behave: no secrets, tokens or server settings of the host."""
    env = {"PYTHONUTF8": "1", "PYTHONDONTWRITEBYTECODE": "1", "TMPDIR": "."}
    for key in ("LANG", "LC_ALL", "TZ"):
        if key in os.environ:
            env[key] = os.environ[key]
    return env
