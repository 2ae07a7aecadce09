"""The worker's namespaces: user, network, IPC, mount and PID, where the kernel allows them.

- network: the worker sees only a loopback interface that is down; no route reaches the
  host's network or its loopback services, even past a missed seccomp or Landlock rule.
- IPC: no System V object of the host (a shared memory segment, a queue) can be named.
- user: two levels. The first maps the caller's own id (root to root) only while the
  trusted set-up builds the private root (a tmpfs refuses new files to an unmapped id); the
  worker then enters a nested user namespace that maps no id, so root in the worker keeps
  no capability over the host's files (it reads and writes only what owner and mode bits
  allow) and none over the mounts it was given.
- mount: a minimal root (`_root`): only the granted trees and the work dir exist.
- PID: the worker forks into it (`_pidns`); other processes have no pid it can name.
- A host that runs as root asks for `drop` (an unprivileged uid and gid): then no user
  namespace is made (root needs none), the private root is built with root's own rights,
  and the worker then becomes that uid and gid, with no supplementary groups and no
  capability, before the fork into the PID namespace and before Landlock and seccomp. In the
  private root every granted tree sits under directories anyone may pass, so the worker
  still reads the interpreter's trees where the host's own path to them (`/root/...`) is
  closed to others.

Optional: Ubuntu and some containers forbid unprivileged user namespaces; the report says
what could not be made and the other layers go on. Standard library only; `unshare(2)`
through ctypes (Python 3.11 has no `os.unshare`).
"""

from __future__ import annotations

import os

TYPE_CHECKING = False  # `typing` costs ~10 ms of worker start-up
if TYPE_CHECKING:
    from collections.abc import Sequence
    from typing import Any

CLONE_NEWNS = 0x00020000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000
_BASIC = CLONE_NEWUSER | CLONE_NEWNET | CLONE_NEWIPC


def enter() -> dict[str, object]:
    """Move the calling (single-threaded) process into new user, network and IPC namespaces."""
    row: dict[str, object] = {"layer": "namespaces", "active": False}
    libc = _libc()
    if libc is None:
        row["detail"] = "not available on this platform"
        return row
    if libc.unshare(_BASIC) != 0:
        row["detail"] = f"not available: unshare(CLONE_NEWUSER | CLONE_NEWNET | CLONE_NEWIPC) failed: {_error()}"
        return row
    row.update(active=True, detail="new user namespace (no ids mapped), network namespace (no interface up) "
                                   "and IPC namespace")
    return row


def isolate(read_only: Sequence[str], read_write: Sequence[str], workdir: str, channel_fds: Sequence[int],
            *, root: bool = True, pid: bool = True, tmpfs: tuple[int, int] | None = None,
            drop: tuple[int, int] | None = None) -> list[dict[str, Any]]:
    """Every namespace the kernel allows, with a private root and the fork into a PID
    namespace; returns only in the worker proper. One report row per layer. `tmpfs`: the
    work dir is a fresh tmpfs of (bytes, inodes) in the private root (see `_root`); `drop`:
    the (uid, gid) a worker started as root becomes once its private root is built."""
    names = ("namespaces", "private root", "pid namespace") + (("unprivileged user",) if drop else ())
    rows: dict[str, dict[str, Any]] = {name: {"layer": name, "active": False} for name in names}
    libc = _libc()
    as_root = drop is not None and root and os.geteuid() == 0
    if drop is not None:
        rows["unprivileged user"]["detail"] = "not applied: the private root could not be built"
    common = _BASIC & ~CLONE_NEWUSER if as_root else _BASIC
    flags = common | (CLONE_NEWNS if root else 0) | (CLONE_NEWPID if pid else 0)
    if libc is None:
        for row in rows.values():
            row["detail"] = "not available on this platform"
        return list(rows.values())
    ids = (os.geteuid(), os.getegid())  # in the new namespace they read as unmapped (65534)
    if libc.unshare(flags) != 0:
        reason = _error()
        basic = enter()  # maybe the kernel allows the plain set (a PID or mount namespace refused)
        rows["namespaces"] = basic
        for name in ("private root", "pid namespace"):
            rows[name]["detail"] = f"not available: unshare failed ({reason})"
        return list(rows.values())
    if as_root:
        assert drop is not None
        rows["namespaces"].update(active=True, detail=(
            f"network namespace (no interface up) and IPC namespace; no user namespace: none is needed, the "
            f"worker runs as uid {drop[0]} with no capability"))
        if _build_root(rows["private root"], read_only, read_write, workdir, libc, ids, tmpfs, owner=drop):
            _become(*drop, libc)
            rows["unprivileged user"].update(active=True, detail=(
                f"the host runs as root; the worker runs as uid {drop[0]}, gid {drop[1]}, no supplementary "
                "groups and no capability, from before it is confined"))
        elif libc.unshare(CLONE_NEWUSER) != 0:  # no root to drop into: at least no capability over the host
            raise OSError(f"unshare(CLONE_NEWUSER) in the worker's namespace failed: {_error()}")
        mapped = False
    else:
        rows["namespaces"].update(active=True, detail=(
            "new user namespace (no ids mapped), network namespace (no interface up) and IPC namespace"))
        mapped = root and _build_root(rows["private root"], read_only, read_write, workdir, libc, ids, tmpfs)
    if not root:
        rows["private root"]["detail"] = "not applied"
    # The set-up's id mapping gave root in here a hold on root's files: drop it, for good,
    # in a nested namespace that maps no id. (Without a mapping there is nothing to drop.)
    if mapped and libc.unshare(CLONE_NEWUSER) != 0:
        raise OSError(f"unshare(CLONE_NEWUSER) in the worker's namespace failed: {_error()}")
    if pid:
        rows["pid namespace"].update(active=True, detail=(
            "its own PID namespace (pid 2 under its own init): no other process can be seen, "
            "named, signalled or reniced; everything the cell starts dies with the worker"))
        from codemode.sandbox import _pidns

        _pidns.split(channel_fds, libc)
    else:
        rows["pid namespace"]["detail"] = "not applied"
    return list(rows.values())


def _build_root(row: dict[str, Any], read_only: Sequence[str], read_write: Sequence[str], workdir: str,
                libc: Any, ids: tuple[int, int], tmpfs: tuple[int, int] | None = None,
                owner: tuple[int, int] | None = None) -> bool:
    """Build the private root into `row`. In a user namespace (`owner` None): True once the
    set-up's own id is mapped. As root (`owner`: who the work dir's tmpfs belongs to): True
    once the root is built."""
    import ctypes

    from codemode.sandbox import _root

    if owner is None:
        try:
            _map_own_ids(*ids)
        except OSError as exc:
            row["detail"] = f"not available: mapping the set-up's own id failed: {exc}"
            return False
    try:
        count = _root.build(read_only, read_write, workdir, libc, ctypes, tmpfs, owner)
    except _root.RootUnavailable as exc:  # later failures leave no usable root: they raise
        row["detail"] = f"not available: {exc}"
        return owner is None
    work = (f"the work dir (a tmpfs of its own: {tmpfs[0] // 1024**2:,} MiB and {tmpfs[1]:,} entries at most)"
            if tmpfs else "the work dir")
    row.update(active=True, detail=(
        f"a private root holding only {count} granted trees (read-only), {work} and /dev/null: "
        "no other path of the host exists for stat, handles or listings; no /proc"))
    return True


def _become(uid: int, gid: int, libc: Any) -> None:
    """Drop root for `uid` and `gid`, no supplementary groups, no capability left."""
    parent = os.getppid()
    os.setgroups([])
    os.setresgid(gid, gid, gid)
    os.setresuid(uid, uid, uid)
    # A change of ids clears the parent-death signal (`_lifeline`): set it again, and end
    # here if the host went meanwhile.
    libc.prctl(1, 9, 0, 0, 0)  # PR_SET_PDEATHSIG, SIGKILL
    if os.getppid() != parent:
        os._exit(1)


def _map_own_ids(uid: int, gid: int) -> None:
    for name, text in (("setgroups", "deny"), ("uid_map", f"0 {uid} 1\n"), ("gid_map", f"0 {gid} 1\n")):
        fd = os.open(f"/proc/self/{name}", os.O_WRONLY)
        try:
            os.write(fd, text.encode())
        finally:
            os.close(fd)


def _libc() -> Any:
    if not hasattr(os, "sched_getaffinity") or not os.path.exists("/proc/self/ns/net"):
        return None
    import ctypes

    return ctypes.CDLL(None, use_errno=True)


def _error() -> str:
    import ctypes

    return os.strerror(ctypes.get_errno())
