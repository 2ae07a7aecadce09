"""Room for the worker's own error path when a cell runs out of memory.

A cell that fills the memory limit (RLIMIT_DATA) gets a MemoryError, and its data may still
be held (by the traceback's frames, or by the cell's variables). Reporting the error then
allocates too: the traceback's text, the `done` frame. With no room for that, each handler
raises again and the worker dies, its variables lost. So the worker holds a few MiB mapped
and untouched (address space the limit counts, no RAM), and gives it back before it reports
a MemoryError. It maps the reserve again when there is room, after the cell.

Imported by the worker: standard library only.
"""

from __future__ import annotations

import mmap

_SIZE = 4 * 1024 * 1024
_held: mmap.mmap | None = None


def refill() -> None:
    """Map the reserve, if it is not held and the limit leaves room for it."""
    global _held
    if _held is None:
        try:
            # Private: RLIMIT_DATA counts private writable mappings only (mmap's default,
            # MAP_SHARED, would reserve nothing).
            _held = mmap.mmap(-1, _SIZE, flags=mmap.MAP_PRIVATE)
        except (MemoryError, OSError):  # ENOMEM: the cell's data still fills the limit
            pass


def release() -> None:
    """Unmap the reserve: its room is the error path's."""
    global _held
    if _held is not None:
        _held.close()
        _held = None
