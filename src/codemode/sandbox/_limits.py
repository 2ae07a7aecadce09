"""Resource limits the worker applies to itself first thing, before it reads a frame.

Runs inside the worker: standard library only. The host passes the limits as JSON on the
command line; the worker applies each with `setrlimit` and reports what it could apply, so
the host's isolation report says what is really in force. Choices (NOTES-sandbox.md):

- memory is RLIMIT_DATA, not RLIMIT_AS: RLIMIT_AS breaks thread stacks (numpy's import),
  while RLIMIT_DATA gives a clean MemoryError with the worker alive and its state kept;
- open files (RLIMIT_NOFILE) and file size (RLIMIT_FSIZE: EFBIG, Python ignores SIGXFSZ);
- CPU (RLIMIT_CPU) is cumulative over a persistent worker, so it is a session budget; the
  per-cell limit is the host's wall clock.
"""

from __future__ import annotations

TYPE_CHECKING = False  # `typing` costs ~10 ms of worker start-up
if TYPE_CHECKING:
    from typing import Any

_RESOURCES = (
    ("memory", "RLIMIT_DATA", "bytes of heap the worker may allocate"),
    ("open_files", "RLIMIT_NOFILE", "file descriptors the worker may hold"),
    ("file_size", "RLIMIT_FSIZE", "bytes in any one file the worker writes"),
    ("cpu_seconds", "RLIMIT_CPU", "CPU seconds for the worker's whole life"),
    ("core_size", "RLIMIT_CORE", "no core files (a crash must not write its memory to disk)"),
)


def apply(limits: dict[str, Any]) -> list[dict[str, Any]]:
    """Apply each limit given (None leaves it unset); return one report row per limit."""
    try:
        import resource
    except ImportError:  # not a POSIX platform
        return [{"layer": f"rlimit {name}", "active": False, "detail": "no resource limits on this platform"}
                for name, _, _ in _RESOURCES]
    rows = []
    for name, constant, what in _RESOURCES:
        value = limits.get(name)
        row: dict[str, Any] = {"layer": f"rlimit {name}", "active": False, "detail": f"not set ({what})"}
        if isinstance(value, int) and (value > 0 or name == "core_size"):
            which = getattr(resource, constant)
            _, hard = resource.getrlimit(which)
            if hard != resource.RLIM_INFINITY:
                value = min(value, hard)
            try:
                resource.setrlimit(which, (value, value if name != "cpu_seconds" else hard))
                row.update(active=True, detail=f"{constant} = {value} ({what})")
            except (ValueError, OSError) as exc:
                row["detail"] = f"{constant} could not be set: {exc}"
        rows.append(row)
    return rows
