"""A new user and network namespace for the worker, where the kernel lets it make one.

In its own network namespace the worker sees only a loopback interface that is down: no
route reaches the host's network or its loopback services, even past a missed seccomp or
Landlock rule. The new user namespace maps no id, so root in the worker keeps no capability
over the host's files (it reads and writes only what owner and mode bits allow). Optional:
Ubuntu and some containers forbid unprivileged user namespaces; the report says so.
Standard library only; `unshare(2)` through ctypes (Python 3.11 has no `os.unshare`).
"""

from __future__ import annotations

CLONE_NEWUSER = 0x10000000
CLONE_NEWNET = 0x40000000


def enter() -> dict[str, object]:
    """Move the calling (single-threaded) process into new user and network namespaces."""
    import ctypes
    import os

    row: dict[str, object] = {"layer": "namespaces", "active": False}
    if not hasattr(os, "sched_getaffinity") or not os.path.exists("/proc/self/ns/net"):
        row["detail"] = "not available on this platform"
        return row
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.unshare(CLONE_NEWUSER | CLONE_NEWNET) != 0:
        errno = ctypes.get_errno()
        row["detail"] = f"not available: unshare(CLONE_NEWUSER | CLONE_NEWNET) failed: {os.strerror(errno)}"
        return row
    row.update(active=True, detail="new user namespace (no ids mapped) and network namespace (no interface up)")
    return row
