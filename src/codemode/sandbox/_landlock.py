"""Linux Landlock for the sandbox worker: a small ctypes binding over syscalls 444-446.

The worker calls `restrict()` once, early, to confine its own file system, TCP and IPC reach.
Invariants, which callers must keep because the kernel will not check them for us:

- Per thread. Landlock restricts the calling thread (and what it later spawns); threads that
  already exist keep their freedom. Call `restrict()` before any thread is started.
- Irreversible. A domain can only be narrowed further, never lifted, so import everything
  the process will need before calling it; tests run it in a fresh subprocess each time.
- No `/proc` and no `$HOME` in the rule set: `/proc/<pid>/environ` of another process was
  readable as root with capabilities kept, and the home directory holds credentials.
- Nothing is executable unless listed in `allow_execute`: the interpreter is already running.

Standard library only; `ctypes` (about 5 ms) is imported on first use, so importing this
module is free. Constants come from the kernel's `include/uapi/linux/landlock.h`.
"""

from __future__ import annotations

import os
import stat
import sys

TYPE_CHECKING = False  # `typing` costs ~10 ms of worker start-up; type checkers see True
if TYPE_CHECKING:
    from collections.abc import Sequence
    from typing import Any

__all__ = ["LandlockError", "LandlockReport", "abi_version", "restrict"]

# Syscall numbers: the same on x86_64 and aarch64 (added after the tables were unified).
_SYS_CREATE_RULESET = 444
_SYS_ADD_RULE = 445
_SYS_RESTRICT_SELF = 446

_CREATE_RULESET_VERSION = 1 << 0  # with a NULL attr: return the ABI version, make nothing
_RULE_PATH_BENEATH = 1
_PR_SET_NO_NEW_PRIVS = 38  # required before restrict_self without CAP_SYS_ADMIN
_ENOSYS = 38  # kernel built without Landlock (the same number on x86_64 and aarch64)
_EOPNOTSUPP = 95  # built in, but disabled at boot (`lsm=` without landlock)

# File system rights (LANDLOCK_ACCESS_FS_*), and the ABI that introduced each.
FS_EXECUTE = 1 << 0
FS_WRITE_FILE = 1 << 1
FS_READ_FILE = 1 << 2
FS_READ_DIR = 1 << 3
FS_REMOVE_DIR = 1 << 4
FS_REMOVE_FILE = 1 << 5
FS_MAKE_CHAR = 1 << 6
FS_MAKE_DIR = 1 << 7
FS_MAKE_REG = 1 << 8
FS_MAKE_SOCK = 1 << 9
FS_MAKE_FIFO = 1 << 10
FS_MAKE_BLOCK = 1 << 11
FS_MAKE_SYM = 1 << 12
FS_REFER = 1 << 13  # ABI 2: link/rename across directories (under ABI 1 always denied)
FS_TRUNCATE = 1 << 14  # ABI 3
FS_IOCTL_DEV = 1 << 15  # ABI 5: ioctl on character and block devices
_FS_BY_ABI = {1: (1 << 13) - 1, 2: (1 << 14) - 1, 3: (1 << 15) - 1, 4: (1 << 15) - 1}
_FS_LATEST = (1 << 16) - 1  # ABI 5 and later (6 and 7 added no file system right)
# Rights that mean something on a regular file; a rule on a file with any other is EINVAL.
_FS_FILE_RIGHTS = FS_EXECUTE | FS_WRITE_FILE | FS_READ_FILE | FS_TRUNCATE | FS_IOCTL_DEV
_FS_READ = FS_READ_FILE | FS_READ_DIR

# Network rights (LANDLOCK_ACCESS_NET_*), ABI 4: handled with no rule means always denied.
NET_BIND_TCP = 1 << 0
NET_CONNECT_TCP = 1 << 1
_NET_ABI = 4

# Scopes (LANDLOCK_SCOPE_*), ABI 6: refuse reaching out of the domain.
SCOPE_ABSTRACT_UNIX_SOCKET = 1 << 0
SCOPE_SIGNAL = 1 << 1
_SCOPE_ABI = 6


class LandlockError(OSError):
    """A Landlock (or prctl) call failed; `call` names it and `errno` says why."""

    def __init__(self, call: str, errno: int, path: str | None = None) -> None:
        where = f" for {path!r}" if path else ""
        super().__init__(errno, f"{call}{where} failed: {os.strerror(errno)}")
        self.call = call
        self.path = path


class LandlockReport:
    """What `restrict()` applied: the ABI seen, each layer enforced, the paths skipped."""

    __slots__ = ("abi", "filesystem", "tcp", "scoped", "skipped")

    abi: int
    filesystem: bool
    tcp: bool
    scoped: bool
    skipped: tuple[str, ...]

    def __init__(self, abi: int, filesystem: bool, tcp: bool, scoped: bool, skipped: tuple[str, ...] = ()) -> None:
        for name, value in zip(self.__slots__, (abi, filesystem, tcp, scoped, tuple(skipped))):
            object.__setattr__(self, name, value)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"LandlockReport is frozen; cannot set {name!r}")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"LandlockReport is frozen; cannot delete {name!r}")

    def as_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__slots__}

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, LandlockReport):
            return NotImplemented
        return self.as_dict() == other.as_dict()

    def __hash__(self) -> int:
        return hash(tuple(self.as_dict().values()))

    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={getattr(self, name)!r}" for name in self.__slots__)
        return f"LandlockReport({fields})"


class _Native:
    """libc and the two kernel structs, built on first use (`ctypes` costs ~5 ms to import)."""

    def __init__(self) -> None:
        import ctypes

        self.ctypes = ctypes
        self.libc = ctypes.CDLL(None, use_errno=True)
        self.libc.syscall.restype = ctypes.c_long
        self.libc.prctl.restype = ctypes.c_int

        class RulesetAttr(ctypes.Structure):  # struct landlock_ruleset_attr
            _fields_ = [("handled_access_fs", ctypes.c_uint64),
                        ("handled_access_net", ctypes.c_uint64),
                        ("scoped", ctypes.c_uint64)]

        class PathBeneathAttr(ctypes.Structure):  # struct landlock_path_beneath_attr
            _pack_ = 1  # packed in the uapi header: 12 bytes, no tail padding
            _fields_ = [("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]

        self.RulesetAttr = RulesetAttr
        self.PathBeneathAttr = PathBeneathAttr

    def call(self, name: str, function: Any, *args: Any, path: str | None = None) -> int:
        """Run one libc call; on failure raise LandlockError with the errno of this call."""
        result = function(*args)
        if result < 0:
            raise LandlockError(name, self.ctypes.get_errno(), path)  # read at once, nothing between
        return int(result)

    def syscall(self, name: str, number: int, *args: Any, path: str | None = None) -> int:
        return self.call(name, self.libc.syscall, self.ctypes.c_long(number), *args, path=path)


_native: _Native | None = None


def _load() -> _Native:
    global _native
    if _native is None:
        _native = _Native()
    return _native


def abi_version() -> int:
    """The Landlock ABI version of the running kernel, or 0 when Landlock is unavailable."""
    if not sys.platform.startswith("linux"):
        return 0  # syscall 444 means something else elsewhere
    native = _load()
    c = native.ctypes
    try:
        return native.syscall("landlock_create_ruleset", _SYS_CREATE_RULESET,
                              c.c_void_p(None), c.c_size_t(0), c.c_uint32(_CREATE_RULESET_VERSION))
    except LandlockError as exc:
        if exc.errno in (_ENOSYS, _EOPNOTSUPP):
            return 0
        raise


def _create_ruleset(native: _Native, fs: int, net: int, scoped: int) -> int:
    c = native.ctypes
    attr = native.RulesetAttr(fs, net, scoped)
    # Older kernels accept the larger struct as long as the fields they do not know are zero.
    return native.syscall("landlock_create_ruleset", _SYS_CREATE_RULESET,
                          c.byref(attr), c.c_size_t(c.sizeof(attr)), c.c_uint32(0))


def _add_path_rule(native: _Native, ruleset_fd: int, path: str, access: int) -> bool:
    """Allow `access` beneath `path` (masked to file rights for a file); False if missing."""
    c = native.ctypes
    try:
        fd = os.open(path, os.O_PATH | os.O_CLOEXEC)  # O_PATH: no read right needed to name it
    except (FileNotFoundError, NotADirectoryError):
        return False
    try:
        if not stat.S_ISDIR(os.fstat(fd).st_mode):
            access &= _FS_FILE_RIGHTS
        if access:
            attr = native.PathBeneathAttr(access, fd)
            native.syscall("landlock_add_rule", _SYS_ADD_RULE, c.c_int(ruleset_fd),
                           c.c_int(_RULE_PATH_BENEATH), c.byref(attr), c.c_uint32(0), path=path)
    finally:
        os.close(fd)
    return True


def _handled(abi: int, deny_tcp: bool, scope: bool) -> tuple[int, int, int]:
    """The rights and scopes to handle under this ABI: (file system, network, scopes)."""
    fs = _FS_BY_ABI.get(abi, _FS_LATEST)
    net = NET_BIND_TCP | NET_CONNECT_TCP if deny_tcp and abi >= _NET_ABI else 0
    scoped = SCOPE_ABSTRACT_UNIX_SOCKET | SCOPE_SIGNAL if scope and abi >= _SCOPE_ABI else 0
    return fs, net, scoped


def restrict(
    *,
    read_only: Sequence[str],
    read_write: Sequence[str],
    allow_execute: Sequence[str] = (),
    deny_tcp: bool = True,
    scope: bool = True,
) -> LandlockReport:
    """Confine the calling thread, for good, to the given paths; deny TCP and outside IPC.

    Every file system right the kernel knows is handled, so whatever is not granted here is
    denied: reading beneath `read_only` (and executing beneath `allow_execute`), everything
    but execute beneath `read_write`. Call it before any thread starts.

    Args:
        read_only: files and directories to allow reading (files and listings).
        read_write: files and directories to allow reading, writing, making and removing.
        allow_execute: files and directories whose programs may be executed.
        deny_tcp: deny every TCP bind and connect (ABI 4 or later).
        scope: refuse signals and abstract unix sockets out of the domain (ABI 6 or later).

    Returns:
        What was enforced; `abi` 0 and nothing enforced when Landlock is unavailable.
        Paths that do not exist are left out and listed in `skipped`.

    Raises:
        LandlockError: a call failed (the kernel refused a rule, or restrict_self).
    """
    if not sys.platform.startswith("linux"):
        return LandlockReport(0, False, False, False)
    native = _load()
    c = native.ctypes
    native.call("prctl(PR_SET_NO_NEW_PRIVS)", native.libc.prctl, c.c_int(_PR_SET_NO_NEW_PRIVS),
                c.c_ulong(1), c.c_ulong(0), c.c_ulong(0), c.c_ulong(0))
    abi = abi_version()
    if abi == 0:
        return LandlockReport(0, False, False, False)
    fs, net, scoped = _handled(abi, deny_tcp, scope)
    grants = [(p, _FS_READ) for p in read_only]
    grants += [(p, fs & ~FS_EXECUTE) for p in read_write]
    grants += [(p, _FS_READ | FS_EXECUTE) for p in allow_execute]  # the loader reads what it runs
    skipped: list[str] = []
    ruleset_fd = _create_ruleset(native, fs, net, scoped)
    try:
        for path, access in grants:
            if not path or not _add_path_rule(native, ruleset_fd, path, access & fs):
                if path not in skipped:
                    skipped.append(path)
        native.syscall("landlock_restrict_self", _SYS_RESTRICT_SELF, c.c_int(ruleset_fd), c.c_uint32(0))
    finally:
        os.close(ruleset_fd)
    return LandlockReport(abi, True, bool(net), bool(scoped), tuple(skipped))
