"""A private, minimal root file system for the worker, the way bubblewrap builds one.

Called by `_namespaces` inside a fresh user and mount namespace (with the caller's own id
mapped, so it may create mount points), before anything untrusted runs. Landlock checks
opening, not path walks: `stat`, `os.path.exists` and `name_to_handle_at` see every path of
the host. Here the worker gets a root that holds only what it may read (the interpreter's
trees, read-only), its work dir (read-write) and `/dev/null`: the rest of the host does not
exist for it, so asking about it learns nothing. Landlock and seccomp still apply beneath.

Steps (bubblewrap's): make every mount private; mount a small tmpfs on `/tmp` and pivot into
it, so the old root sits at `/oldroot` (with the real `/tmp` visible there again); for each
granted path, create a mount point at the same path and bind the old root's copy onto it,
read-only unless granted read-write; detach the old root; make the tmpfs read-only.
Every path keeps its name, so `sys.path`, the work dir and the Landlock rules need no change.

A private work dir may instead be a fresh tmpfs with a hard size and inode count (`tmpfs`):
no route (`fallocate`, many files, sparse files, hard links) allocates past it (ENOSPC).
It is memory, and the host counts it in the memory bound; the host sees it through
`/proc/<pid>/root`, and it goes with the worker.
Standard library only; ctypes is imported by the caller already.
"""

from __future__ import annotations

import os

TYPE_CHECKING = False  # `typing` costs ~10 ms of worker start-up
if TYPE_CHECKING:
    from collections.abc import Sequence
    from typing import Any

MS_RDONLY = 0x1
MS_NOSUID = 0x2
MS_NODEV = 0x4
MS_NOEXEC = 0x8
MS_REMOUNT = 0x20
MS_NOATIME = 0x400
MS_NODIRATIME = 0x800
MS_BIND = 0x1000
MS_REC = 0x4000
MS_PRIVATE = 0x40000
MS_RELATIME = 0x200000
MNT_DETACH = 0x2
# A remount must keep the flags the parent namespace locked on the source mount (EPERM
# otherwise); statvfs reports them with the same bit values.
_LOCKED_FLAGS = MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_NOATIME | MS_NODIRATIME | MS_RELATIME
_SYS_PIVOT_ROOT = {"x86_64": 155, "aarch64": 41}
_STAGE = "/tmp"  # any directory would do; bubblewrap uses /tmp too
_OLD = "/oldroot"
# Only mount points live in the tmpfs; it is read-only once built.
_TMPFS_OPTIONS = b"mode=0755,size=1m,nr_inodes=4096"


class RootError(OSError):
    """A mount step failed; the message names the step and the path."""


class RootUnavailable(RootError):
    """The first steps failed and nothing changed: the kernel lets no root be built here."""


class _Mounter:
    def __init__(self, libc: Any, ctypes: Any) -> None:
        self._libc = libc
        self._ctypes = ctypes

    def _check(self, result: int, step: str, path: str) -> None:
        if result != 0:
            errno = self._ctypes.get_errno()
            raise RootError(errno, f"{step} {path!r}: {os.strerror(errno)}")

    def mount(self, source: str | None, target: str, fstype: str | None, flags: int, data: bytes | None = None) -> None:
        encode = (lambda text: text.encode() if text is not None else None)
        result = self._libc.mount(encode(source), target.encode(), encode(fstype), self._ctypes.c_ulong(flags), data)
        self._check(result, "bind" if flags & MS_BIND else f"mount {fstype or ''}", target)

    def umount(self, target: str) -> None:
        self._check(self._libc.umount2(target.encode(), MNT_DETACH), "umount", target)

    def pivot_root(self, new: str, old: str) -> None:
        number = _SYS_PIVOT_ROOT.get(os.uname().machine)
        if number is None:
            raise RootError(0, f"pivot_root: no syscall number for {os.uname().machine}")
        self._check(self._libc.syscall(self._ctypes.c_long(number), new.encode(), old.encode()), "pivot_root", new)


def _plan(read_only: Sequence[str], read_write: Sequence[str]) -> list[tuple[str, str, bool]]:
    """(path in the new root, its real path in the old root, writable), parents first.

    Missing paths are dropped (Landlock skips them too). A path inside one already bound
    at the same relative place is reachable through it and needs no mount of its own.
    """
    wanted: dict[str, bool] = {}
    for paths, writable in ((read_only, False), (read_write, True)):
        for path in paths:
            path = os.path.normpath(os.path.abspath(path))
            if os.path.lexists(path):
                wanted[path] = wanted.get(path, False) or writable
    plan: list[tuple[str, str, bool]] = []
    for path in sorted(wanted, key=lambda p: (p.count("/"), p)):
        real = os.path.realpath(path)
        covered = any(
            (writable or not wanted[path]) and path.startswith(parent.rstrip("/") + "/")
            and real == os.path.join(source, os.path.relpath(path, parent))
            for parent, source, writable in plan
        )
        if not covered:
            plan.append((path, real, wanted[path]))
    return plan


def build(read_only: Sequence[str], read_write: Sequence[str], workdir: str, libc: Any, ctypes: Any,
          tmpfs: tuple[int, int] | None = None, owner: tuple[int, int] | None = None) -> int:
    """Replace the root with a minimal one; return the number of trees bound. `tmpfs`:
    (bytes, inodes) of a fresh tmpfs mounted as the work dir, instead of binding the dir;
    `owner`: the (uid, gid) it belongs to (else the caller).

    Raises:
        RootUnavailable: the kernel refused the first mounts; nothing changed.
        RootError: a later step failed: fatal to the worker (the caller lets it propagate).
    """
    workdir = os.path.normpath(os.path.abspath(workdir))
    granted = [p for p in read_write if os.path.normpath(os.path.abspath(p)) != workdir] if tmpfs else [
        *read_write, workdir]
    plan = _plan(read_only, granted)
    mounter = _Mounter(libc, ctypes)
    try:
        mounter.mount(None, "/", None, MS_REC | MS_PRIVATE)  # nothing we do here reaches the host
        mounter.mount("tmpfs", _STAGE, "tmpfs", MS_NOSUID | MS_NODEV, _TMPFS_OPTIONS)
    except RootError as exc:
        raise RootUnavailable(exc.errno, str(exc)) from None
    os.mkdir(_STAGE + _OLD)
    mounter.pivot_root(_STAGE, _STAGE + _OLD)
    os.chdir("/")
    for path, real, writable in plan:
        source = _OLD + real
        if os.path.isdir(source):
            if not os.path.isdir(path):
                os.makedirs(path, exist_ok=True)
        elif not os.path.exists(path):
            os.makedirs(os.path.dirname(path), exist_ok=True)
            os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o644))
        mounter.mount(source, path, None, MS_BIND | MS_REC)
        if not writable:
            locked = os.statvfs(path).f_flag & _LOCKED_FLAGS
            mounter.mount(None, path, None, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV | locked)
    if tmpfs is not None:
        size, inodes = tmpfs
        os.makedirs(workdir, exist_ok=True)
        mounter.mount("tmpfs", workdir, "tmpfs", MS_NOSUID | MS_NODEV,
                      f"size={size},nr_inodes={inodes},mode=0700".encode()
                      + (f",uid={owner[0]},gid={owner[1]}".encode() if owner else b""))
    mounter.umount(_OLD)
    os.rmdir(_OLD)
    mounter.mount(None, "/", None, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV)
    os.chdir(workdir)
    return len(plan)
