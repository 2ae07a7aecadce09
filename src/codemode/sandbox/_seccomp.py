"""A seccomp filter for the worker, built as raw classic BPF with ctypes and struct only.

`install()` sets `PR_SET_NO_NEW_PRIVS`, then loads the filter with
`seccomp(SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_TSYNC, &prog)`. Invariants:

- Irreversible: a filter stays for the life of the process and is inherited by every child;
  another filter can only narrow it. Install it once, after the worker has imported what it
  needs, and only in the worker.
- TSYNC puts the filter on every thread of the process at once (threads started before
  `install()` included), so no thread is left unfiltered; the call fails instead if it cannot.
- It works at the syscall level: `ctypes` calling `syscall(2)` directly meets the same filter.
- Syscalls from another ABI are fatal (SECCOMP_RET_KILL_PROCESS): a foreign `seccomp_data.arch`
  (i386 through int 0x80, arm32 compat) and, on x86_64, x32 numbers (nr >= 0x40000000), which
  would otherwise reach the same kernel code under numbers the tables below do not list.
- Denied with EPERM, always: every new socket (`socket`: the channel is an inherited pipe
  pair). `socketpair` stays allowed: it can only make an anonymous, already-connected
  AF_UNIX pair, reachable by nothing outside the process (a pipe by another name), and
  asyncio's event loop needs one for its self-pipe. Also denied: tracing and reading other
  processes (`ptrace`, `process_vm_readv/writev`), namespaces and mounts (`unshare`,
  `setns`, `mount`, the new mount API, `pivot_root`, `chroot`), kernel attack surface that
  cell code has no use for (`bpf`, keyrings, `io_uring_*`, `userfaultfd`,
  `perf_event_open`), machine-wide actions (modules, kexec, swap, `reboot`), `personality`
  (it can switch off ASLR for later execs), `ioctl(TIOCSTI)` (pushing keystrokes into a
  terminal's input), and `clone` with any namespace flag.
- Denied with EPERM unless `allow_subprocess`: `execve`, `execveat`, `fork`, `vfork` (x86_64
  only; aarch64 has neither), and `clone` without CLONE_THREAD. Threads keep working.
- With `refuse_fallocate` (a disk bound: a work dir the host counts would be passed in
  milliseconds): `fallocate` gets EOPNOTSUPP, so nothing is allocated faster than it is
  written (glibc's `posix_fallocate` then falls back to writing each block).
- `clone3` always gets ENOSYS: it passes its flags in a struct behind a pointer, which a
  seccomp filter cannot read. glibc (2.34+) takes ENOSYS to mean an old kernel and falls back
  to `clone`, whose flags are in a register the filter checks.
- Argument checks read the low 32 bits of a 64-bit argument (little-endian: the low word sits
  at the argument's own offset). That is exact for `ioctl`'s command and `clone`'s flags,
  which the kernel truncates to 32 bits itself.
- Everything else is allowed. Anything path-based is Landlock's job, not this filter's.

Architectures: x86_64 and aarch64, each with a table of exactly the syscalls filtered here.
Elsewhere `install()` raises `SeccompUnsupported` and the worker reports the layer missing.
"""

from __future__ import annotations

import ctypes
import os
import struct

from codemode.sandbox._syscalls import (
    AARCH64,
    ALWAYS_DENIED,
    CLONE_NEW_ANY,
    CLONE_THREAD,
    DENIED_IOCTLS,
    SUBPROCESS_DENIED,
    X32_SYSCALL_BIT,
    X86_64,
)

__all__ = ["SeccompReport", "SeccompUnsupported", "build_filter", "install"]

TYPE_CHECKING = False  # `typing` costs ~10 ms at worker start; type checkers see True
if TYPE_CHECKING:
    from typing import Any

# prctl(2) and seccomp(2) constants, from <linux/prctl.h> and <linux/seccomp.h>.
PR_SET_NO_NEW_PRIVS = 38
SECCOMP_SET_MODE_FILTER = 1
SECCOMP_FILTER_FLAG_TSYNC = 1
SECCOMP_RET_KILL_PROCESS = 0x80000000
SECCOMP_RET_ERRNO = 0x00050000
SECCOMP_RET_ALLOW = 0x7FFF0000
EPERM = 1
ENOSYS = 38
EOPNOTSUPP = 95

# Classic BPF opcodes, from <linux/filter.h>.
BPF_LD_W_ABS = 0x00 | 0x00 | 0x20  # BPF_LD | BPF_W | BPF_ABS: A = 32-bit word at offset k
BPF_JEQ_K = 0x05 | 0x10 | 0x00  # BPF_JMP | BPF_JEQ | BPF_K: A == k
BPF_JGE_K = 0x05 | 0x30 | 0x00  # BPF_JMP | BPF_JGE | BPF_K: A >= k
BPF_JSET_K = 0x05 | 0x40 | 0x00  # BPF_JMP | BPF_JSET | BPF_K: A & k
BPF_RET_K = 0x06 | 0x00  # BPF_RET | BPF_K: return k
BPF_MAXINSNS = 4096  # the kernel refuses longer programs
SOCK_FILTER = struct.Struct("=HBBI")  # struct sock_filter { u16 code; u8 jt; u8 jf; u32 k; }

# Offsets into struct seccomp_data { int nr; u32 arch; u64 instruction_pointer; u64 args[6]; }.
DATA_NR = 0
DATA_ARCH = 4


def _arg_low(index: int) -> int:
    """Offset of the low 32 bits of syscall argument `index` (little-endian)."""
    return 16 + 8 * index


def _arg_high(index: int) -> int:
    """Offset of the high 32 bits of syscall argument `index` (little-endian)."""
    return 20 + 8 * index


class SeccompUnsupported(Exception):
    """No filter for this machine (architecture, kernel or Python): the layer is missing.

    Named as the worker expects rather than with an `Error` suffix: it is a condition to
    report, not a failure. `reason` says which.
    """

    def __init__(self, reason: str) -> None:
        super().__init__(f"seccomp filter unavailable: {reason}")
        self.reason = reason


class _Arch:
    """What the filter needs to know about one architecture."""

    __slots__ = ("name", "audit_arch", "numbers", "x32_bit")

    def __init__(self, name: str, audit_arch: int, numbers: dict[str, int], x32_bit: bool) -> None:
        self.name = name
        self.audit_arch = audit_arch  # AUDIT_ARCH_* from <linux/audit.h>
        self.numbers = numbers
        self.x32_bit = x32_bit


_ARCHES = {
    "x86_64": _Arch("x86_64", 0xC000003E, X86_64, x32_bit=True),
    "aarch64": _Arch("aarch64", 0xC00000B7, AARCH64, x32_bit=False),
}


class SeccompReport:
    """What `install()` put in place."""

    __slots__ = ("arch", "denied", "allow_subprocess")

    def __init__(self, arch: str, denied: tuple[str, ...], allow_subprocess: bool) -> None:
        self.arch = arch
        self.denied = denied  # syscall names; conditional ones as "name(condition)"
        self.allow_subprocess = allow_subprocess

    def as_dict(self) -> dict[str, Any]:
        return {"arch": self.arch, "denied": list(self.denied), "allow_subprocess": self.allow_subprocess}

    def __repr__(self) -> str:
        return (
            f"SeccompReport(arch={self.arch!r}, denied={len(self.denied)} rules,"
            f" allow_subprocess={self.allow_subprocess})"
        )


def _arch_for(machine: str) -> _Arch:
    """The architecture record for `os.uname().machine`, or SeccompUnsupported."""
    arch = _ARCHES.get("aarch64" if machine == "arm64" else machine)
    if arch is None:
        raise SeccompUnsupported(f"no syscall table for architecture {machine!r}")
    if struct.calcsize("P") != 8:  # a 32-bit Python on a 64-bit kernel speaks another ABI
        raise SeccompUnsupported(f"32-bit Python on {machine}")
    return arch


def _insn(code: int, k: int, jt: int = 0, jf: int = 0) -> bytes:
    return SOCK_FILTER.pack(code, jt, jf, k)


def _ret(action: int) -> bytes:
    return _insn(BPF_RET_K, action)


def _deny_nr(nr: int, action: int) -> list[bytes]:
    """`if nr == <nr>: return action`, with A holding the syscall number."""
    return [_insn(BPF_JEQ_K, nr, 0, 1), _ret(action)]


def _ioctl_block(nr: int) -> list[bytes]:
    """ioctl: EPERM for DENIED_IOCTLS, allow any other command. Leaves A alone when nr differs."""
    count = len(DENIED_IOCTLS)
    block = [_insn(BPF_JEQ_K, nr, 0, count + 3), _insn(BPF_LD_W_ABS, _arg_low(1))]  # not ioctl: skip it all
    for index, command in enumerate(DENIED_IOCTLS):
        block.append(_insn(BPF_JEQ_K, command, count - index, 0))  # a match jumps to the EPERM
    return block + [_ret(SECCOMP_RET_ALLOW), _ret(SECCOMP_RET_ERRNO | EPERM)]


def _require_block(nr: int, checks: list[tuple[int, int]]) -> list[bytes]:
    """EPERM for syscall `nr` unless every (argument offset, value) in `checks` holds.

    Leaves A alone when the number differs: loads happen only on the syscall's own branch,
    which always ends in a return.
    """
    count = len(checks)
    block = [_insn(BPF_JEQ_K, nr, 0, 2 * count + 2)]  # not this syscall: skip the whole block
    for index, (offset, value) in enumerate(checks):
        later = 2 * (count - index - 1)  # instructions of the checks after this one
        block += [_insn(BPF_LD_W_ABS, offset), _insn(BPF_JEQ_K, value, 0, later + 1)]  # mismatch: to EPERM
    return block + [_ret(SECCOMP_RET_ALLOW), _ret(SECCOMP_RET_ERRNO | EPERM)]


def _flags_block(nr: int, index: int, all_of: tuple[int, ...]) -> list[bytes]:
    """EPERM for syscall `nr` when argument `index` has every bit group in `all_of` set."""
    count = len(all_of)
    block = [_insn(BPF_JEQ_K, nr, 0, count + 3), _insn(BPF_LD_W_ABS, _arg_low(index))]
    for position, bits in enumerate(all_of):
        block.append(_insn(BPF_JSET_K, bits, 0, count - position))  # a bit missing: to ALLOW
    return block + [_ret(SECCOMP_RET_ERRNO | EPERM), _ret(SECCOMP_RET_ALLOW)]


# Calls that act on a process, allowed only on the caller itself (a target of 0). As root
# they would reach every process of the machine's uid: renice, pin, deschedule, starve I/O.
PRIO_PROCESS = 0
IOPRIO_WHO_PROCESS = 1
SELF_ONLY = {
    # prlimit64(pid, resource, new, old): only reading (new NULL), only our own limits.
    "prlimit64": [(_arg_low(0), 0), (_arg_low(2), 0), (_arg_high(2), 0)],
    # setpriority(which, who, prio): PRIO_PROCESS of ourselves; never PRIO_PGRP or PRIO_USER.
    "setpriority": [(_arg_low(0), PRIO_PROCESS), (_arg_low(1), 0)],
    "ioprio_set": [(_arg_low(0), IOPRIO_WHO_PROCESS), (_arg_low(1), 0)],
    "sched_setaffinity": [(_arg_low(0), 0)],
    "sched_setscheduler": [(_arg_low(0), 0)],
    "sched_setparam": [(_arg_low(0), 0)],
    "sched_setattr": [(_arg_low(0), 0)],
}
MAP_SHARED = 0x01  # MAP_SHARED_VALIDATE (0x03) has this bit too; MAP_PRIVATE (0x02) has not
MAP_ANONYMOUS = 0x20
AT_EMPTY_PATH = 0x1000


def _clone_block(nr: int, allow_subprocess: bool) -> list[bytes]:
    """clone: EPERM for namespace flags, and for new processes unless allowed."""
    process_action = SECCOMP_RET_ALLOW if allow_subprocess else SECCOMP_RET_ERRNO | EPERM
    return [
        _insn(BPF_JEQ_K, nr, 0, 6),  # not clone: skip the next six
        _insn(BPF_LD_W_ABS, _arg_low(0)),
        _insn(BPF_JSET_K, CLONE_NEW_ANY, 0, 1),
        _ret(SECCOMP_RET_ERRNO | EPERM),
        _insn(BPF_JSET_K, CLONE_THREAD, 1, 0),  # a thread: allowed
        _ret(process_action),
        _ret(SECCOMP_RET_ALLOW),
    ]


def build_filter(arch_name: str, *, allow_subprocess: bool = False,
                 refuse_fallocate: bool = False) -> tuple[bytes, tuple[str, ...]]:
    """The BPF program for `arch_name` as packed sock_filter structs, and the denied names.

    Args:
        arch_name: "x86_64" or "aarch64".
        allow_subprocess: leave fork, exec and process-creating clone allowed.
        refuse_fallocate: `fallocate` gets EOPNOTSUPP.

    Returns:
        The program bytes (8 bytes per instruction) and the names of what it denies.

    Raises:
        SeccompUnsupported: no table for `arch_name`.
    """
    arch = _arch_for(arch_name)
    numbers = arch.numbers
    prog = [
        _insn(BPF_LD_W_ABS, DATA_ARCH),
        _insn(BPF_JEQ_K, arch.audit_arch, 1, 0),
        _ret(SECCOMP_RET_KILL_PROCESS),  # a foreign ABI
        _insn(BPF_LD_W_ABS, DATA_NR),
    ]
    if arch.x32_bit:
        prog += [_insn(BPF_JGE_K, X32_SYSCALL_BIT, 0, 1), _ret(SECCOMP_RET_KILL_PROCESS)]
    names = [name for name in ALWAYS_DENIED if name in numbers]
    if not allow_subprocess:
        names += [name for name in SUBPROCESS_DENIED if name in numbers]
    for name in names:
        prog += _deny_nr(numbers[name], SECCOMP_RET_ERRNO | EPERM)
    prog += _deny_nr(numbers["clone3"], SECCOMP_RET_ERRNO | ENOSYS)
    if refuse_fallocate:
        prog += _deny_nr(numbers["fallocate"], SECCOMP_RET_ERRNO | EOPNOTSUPP)
    # The two argument checks come last: they load an argument into A, and each ends in a
    # return on its own syscall, so the number in A only matters while it is unchanged.
    for name, checks in SELF_ONLY.items():
        prog += _require_block(numbers[name], checks)
    # Shared anonymous memory is shmem: RLIMIT_DATA does not count it.
    prog += _flags_block(numbers["mmap"], 3, (MAP_ANONYMOUS, MAP_SHARED))
    if allow_subprocess:  # execveat(fd, "", AT_EMPTY_PATH): a program from a descriptor
        prog += _flags_block(numbers["execveat"], 4, (AT_EMPTY_PATH,))
    prog += _ioctl_block(numbers["ioctl"])
    prog += _clone_block(numbers["clone"], allow_subprocess)
    prog.append(_ret(SECCOMP_RET_ALLOW))
    denied = (*names, "clone3(ENOSYS)", *(f"{name}(another process)" for name in SELF_ONLY),
              "prlimit64(setting)", "setpriority(PRIO_PGRP, PRIO_USER)", "mmap(MAP_SHARED|MAP_ANONYMOUS)",
              "ioctl(TIOCSTI, file flags and attributes)", "clone(namespace flags)")
    if refuse_fallocate:
        denied += ("fallocate(EOPNOTSUPP)",)
    if allow_subprocess:
        denied += ("execveat(AT_EMPTY_PATH)",)
    if not allow_subprocess:
        denied += ("clone(without CLONE_THREAD)",)
    assert len(prog) <= BPF_MAXINSNS
    return b"".join(prog), denied


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


def install(*, allow_subprocess: bool = False, refuse_fallocate: bool = False) -> SeccompReport:
    """Load the filter into this process, on every thread. There is no undoing it.

    Args:
        allow_subprocess: leave fork, exec and process-creating clone allowed.
        refuse_fallocate: `fallocate` gets EOPNOTSUPP (see the module's docstring).

    Returns:
        What was denied, for the worker to report.

    Raises:
        SeccompUnsupported: no table for this architecture, or a kernel without seccomp
            filters (EINVAL or ENOSYS from the kernel).
        OSError: prctl or seccomp failed otherwise (for instance TSYNC could not sync a
            thread that has a filter of its own).
    """
    arch = _arch_for(os.uname().machine)
    program, denied = build_filter(arch.name, allow_subprocess=allow_subprocess, refuse_fallocate=refuse_fallocate)
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl.restype = ctypes.c_int
    libc.syscall.restype = ctypes.c_long
    ulong = ctypes.c_ulong
    if libc.prctl(ctypes.c_int(PR_SET_NO_NEW_PRIVS), ulong(1), ulong(0), ulong(0), ulong(0)) != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"prctl(PR_SET_NO_NEW_PRIVS): {os.strerror(errno)}")
    buffer = ctypes.create_string_buffer(program, len(program))
    prog = _SockFprog(len(program) // SOCK_FILTER.size, ctypes.addressof(buffer))
    result = libc.syscall(
        ctypes.c_long(arch.numbers["seccomp"]),
        ulong(SECCOMP_SET_MODE_FILTER),
        ulong(SECCOMP_FILTER_FLAG_TSYNC),
        ctypes.byref(prog),
    )
    if result < 0:
        errno = ctypes.get_errno()
        if errno in (22, ENOSYS):  # EINVAL: built without CONFIG_SECCOMP_FILTER
            raise SeccompUnsupported(f"the kernel refused the filter ({os.strerror(errno)})")
        raise OSError(errno, f"seccomp(SECCOMP_SET_MODE_FILTER): {os.strerror(errno)}")
    if result > 0:  # TSYNC names the thread it could not synchronise; nothing was installed
        raise OSError(f"seccomp TSYNC failed: thread {result} has an incompatible filter")
    return SeccompReport(arch.name, denied, allow_subprocess)
