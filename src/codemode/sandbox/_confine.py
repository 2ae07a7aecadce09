"""The worker confines itself: namespaces, Landlock, then seccomp, once, before any thread exists.

Runs inside the worker, standard library only, when the first `setup` frame arrives (the
first cell comes after it, and the worker starts no thread before a cell writes output).
Each layer is applied where the platform has it and reported where it has not; the host
refuses to go on when a layer the user required is missing. The modules that do the work
(`_landlock`, `_seccomp`) import ctypes, so they are imported only here.
"""

from __future__ import annotations

import os

TYPE_CHECKING = False  # `typing` costs ~10 ms of worker start-up
if TYPE_CHECKING:
    from typing import Any


def confine(spec: dict[str, Any], channel_fds: tuple[int, ...] = ()) -> list[dict[str, Any]]:
    """Apply the layers `spec` asks for; one report row per layer.

    With the PID namespace this forks: it returns only in the worker proper, the one
    process that keeps `channel_fds` (see `_pidns`).
    """
    rows = []
    if spec.get("namespaces"):
        from codemode.sandbox import _namespaces

        rows += _namespaces.isolate(
            [str(p) for p in [*spec.get("read_only", []), *spec.get("allow_execute", [])]],
            [str(p) for p in spec.get("read_write", [])], str(spec.get("workdir") or os.getcwd()), channel_fds,
            root=bool(spec.get("private_root", True)), pid=bool(spec.get("pid_namespace", True)),
            tmpfs=_pair(spec.get("workdir_tmpfs")), drop=_pair(spec.get("drop_to")))
    if spec.get("landlock"):
        rows.append(_landlock_row(spec))
    if spec.get("seccomp"):
        rows.append(_seccomp_row(bool(spec.get("allow_subprocess")), bool(spec.get("refuse_fallocate"))))
    return rows


def _pair(value: object) -> tuple[int, int] | None:
    """A pair of positive numbers from the spec: the work dir's tmpfs `[bytes, inodes]`, or
    the `[uid, gid]` a worker started as root becomes."""
    if isinstance(value, list) and len(value) == 2 and all(isinstance(v, int) and v > 0 for v in value):
        return value[0], value[1]
    return None


def _landlock_row(spec: dict[str, Any]) -> dict[str, Any]:
    from codemode.sandbox import _landlock

    row: dict[str, Any] = {"layer": "landlock", "active": False}
    try:
        abi = _landlock.abi_version()
        if abi == 0:
            row["detail"] = "not available on this kernel (Linux 5.13 or later, with Landlock enabled)"
            return row
        report = _landlock.restrict(
            read_only=[str(p) for p in spec.get("read_only", [])],
            read_write=[str(p) for p in spec.get("read_write", [])],
            allow_execute=[str(p) for p in spec.get("allow_execute", [])],
        )
    except OSError as exc:
        row["detail"] = f"could not be applied: {exc}"
        return row
    tcp = "TCP denied" if report.tcp else "TCP not covered (ABI < 4)"
    scoped = "signals and abstract sockets scoped" if report.scoped else "signals not scoped (ABI < 6)"
    execute = "execute only in the interpreter's trees" if spec.get("allow_execute") else "no execute"
    row.update(active=report.filesystem, detail=(
        f"ABI {abi}: read-only interpreter and libraries, read-write work dir, nothing else; {execute}; "
        f"{tcp}; {scoped}"
    ))
    return row


def _seccomp_row(allow_subprocess: bool, refuse_fallocate: bool = False) -> dict[str, Any]:
    from codemode.sandbox import _seccomp

    row: dict[str, Any] = {"layer": "seccomp", "active": False}
    try:
        report = _seccomp.install(allow_subprocess=allow_subprocess, refuse_fallocate=refuse_fallocate)
    except _seccomp.SeccompUnsupported as exc:
        row["detail"] = f"not available: {exc.reason}"
        return row
    except OSError as exc:
        row["detail"] = f"could not be installed: {exc}"
        return row
    processes = "fork and exec allowed (policy)" if allow_subprocess else "no fork or exec"
    space = "no fallocate (nothing is allocated faster than it is written); " if refuse_fallocate else ""
    row.update(active=True, detail=(
        f"{report.arch}: no new sockets, no ptrace or process_vm_*, no mount, unshare, setns, bpf, keyctl, "
        f"io_uring, userfaultfd or TIOCSTI; {processes}; {space}{len(report.denied)} rules"
    ))
    return row
