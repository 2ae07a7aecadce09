"""Private work directories: each locked by its host while it lives, swept once it is gone.

A host that is killed (SIGKILL, the OOM killer, a kernel that died) cannot remove its
worker's private work directory, and whatever a cell wrote there would stay in the temp dir
for good (in memory, where /tmp is a tmpfs). So a private work dir is made as
`codemode-work-*`, and its host holds an exclusive `flock` on the directory for the
sandbox's life: the kernel drops that lock when the host ends, however it ends. The first
private work dir a process makes starts a sweep, on a thread, that removes the dirs whose
lock it can take. A lock and not a pid: pids are reused, and hosts in other pid namespaces
may share the temp dir.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import stat
import tempfile
import threading
import time
from pathlib import Path

PREFIX = "codemode-work-"
NOBODY = 65534  # the uid and gid of `nobody`: a host that runs as root gives it its worker
# A dir this new may be one whose host has made it but not locked it yet.
SWEEP_MIN_AGE = 10.0

_swept = False
_sweep_lock = threading.Lock()


def make() -> tuple[Path, int | None]:
    """A fresh private work dir, and the descriptor that holds its lock (`release` it); None
    where the file system has no `flock`, whose sweep cannot take a lock either."""
    _sweep_soon()
    path = Path(tempfile.mkdtemp(prefix=PREFIX))
    return path, _lock(path)


def release(path: Path, fd: int | None) -> None:
    """Remove a private work dir, then drop its lock. Safe from a signal handler."""
    shutil.rmtree(path, ignore_errors=True)
    if fd is not None:
        try:
            os.close(fd)
        except OSError:
            pass


def sweep(folder: str | None = None, min_age: float = SWEEP_MIN_AGE) -> list[Path]:
    """Remove the private work dirs in `folder` (the temp dir) that no living host holds;
    the removed ones."""
    root = Path(folder or tempfile.gettempdir())
    removed = []
    try:
        entries = list(os.scandir(root))
    except OSError:
        return []
    now = time.time()
    for entry in entries:
        if not entry.name.startswith(PREFIX):
            continue
        try:
            info = entry.stat(follow_symlinks=False)
        except OSError:
            continue
        if not stat.S_ISDIR(info.st_mode) or info.st_uid not in _owners() or now - info.st_mtime < min_age:
            continue
        fd = _lock(Path(entry.path))
        if fd is None:  # a living host holds it (or it went meanwhile)
            continue
        release(Path(entry.path), fd)
        removed.append(Path(entry.path))
    return removed


def _owners() -> tuple[int, ...]:
    """Whose private work dirs this process may sweep: its own; as root, also those it gave
    to `nobody` for an unprivileged worker."""
    uid = os.getuid()
    return (uid, NOBODY) if uid == 0 else (uid,)


def _lock(path: Path) -> int | None:
    """A descriptor holding `path`'s exclusive lock, or None when it cannot be had now."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        return None
    return fd


def _sweep_soon() -> None:
    global _swept
    with _sweep_lock:
        if _swept:
            return
        _swept = True
    threading.Thread(target=sweep, name="codemode-sweep-workdirs", daemon=True).start()
