"""What the worker's seccomp filter denies, and the syscall numbers it needs to say so.

The tables of `_seccomp`'s filter, apart from the code that builds it: argument values the
filter looks at, the calls denied always and those denied unless subprocesses are allowed
(names as in <asm/unistd.h>), and each architecture's numbers for them. Standard library
only; nothing here runs anything.
"""

from __future__ import annotations

# Argument values the filter looks at.
TIOCSTI = 0x5412  # ioctl: fake input on a terminal
DENIED_IOCTLS = (
    TIOCSTI,
    0x40086602,  # FS_IOC_SETFLAGS: chattr on a file the worker may only read
    0x40046602,  # FS_IOC32_SETFLAGS
    0x401C5820,  # FS_IOC_FSSETXATTR
)
CLONE_THREAD = 0x00010000
CLONE_NEW_ANY = (  # every namespace flag clone(2) takes; unshare(2) and setns(2) are denied too
    0x00000080  # CLONE_NEWTIME (only unshare/clone3 honour it; cheap to include)
    | 0x00020000  # CLONE_NEWNS
    | 0x02000000  # CLONE_NEWCGROUP
    | 0x04000000  # CLONE_NEWUTS
    | 0x08000000  # CLONE_NEWIPC
    | 0x10000000  # CLONE_NEWUSER
    | 0x20000000  # CLONE_NEWPID
    | 0x40000000  # CLONE_NEWNET
)
X32_SYSCALL_BIT = 0x40000000  # x86_64: syscalls of the x32 ABI carry this bit

# Denied with EPERM whatever the options; names as in <asm/unistd.h>.
ALWAYS_DENIED = (
    "socket",
    "ptrace", "process_vm_readv", "process_vm_writev",
    "unshare", "setns", "mount", "umount2", "pivot_root", "chroot",
    "open_tree", "open_tree_attr", "move_mount", "fsopen", "fsconfig", "fsmount", "fspick",
    "mount_setattr",
    "bpf", "keyctl", "add_key", "request_key",
    "io_uring_setup", "io_uring_enter", "io_uring_register",
    "userfaultfd", "perf_event_open",
    "kexec_load", "kexec_file_load", "init_module", "finit_module", "delete_module",
    "swapon", "swapoff", "reboot", "personality",
    # The worker set its own limits before this filter; root could raise them again.
    "setrlimit",
    # Every process the cell starts stays in the worker's process group, which the host
    # counts (a fork bomb) and kills whole: a new session or group would escape both.
    "setsid", "setpgid",
    # Landlock does not cover a file's metadata, and root in the worker owns the host's files:
    # modes, owners, times and extended attributes stay as they are, everywhere.
    "chmod", "fchmod", "fchmodat", "fchmodat2", "chown", "fchown", "lchown", "fchownat",
    "utime", "utimes", "futimesat", "utimensat",
    "setxattr", "lsetxattr", "fsetxattr", "removexattr", "lremovexattr", "fremovexattr",
    "setxattrat", "removexattrat",
    # Memory no limit counts: a memfd holds pages in no process's RSS (the OOM killer then
    # picks the host), and SysV and POSIX IPC objects outlive their maker. memfd is also the
    # way to run native code from memory (execveat of the descriptor).
    "memfd_create", "memfd_secret", "shmget", "shmat", "msgget", "semget", "mq_open",
    # Other processes: pages moved between NUMA nodes, descriptors copied, kernel objects
    # compared, inodes named by handle (which works on any path Landlock would refuse).
    "migrate_pages", "move_pages", "pidfd_getfd", "kcmp", "name_to_handle_at", "open_by_handle_at",
)  # fmt: skip
# Denied with EPERM unless allow_subprocess; a name missing from an arch's table is skipped.
SUBPROCESS_DENIED = ("execve", "execveat", "fork", "vfork")

# Syscalls numbered alike on both architectures (the unified numbering from 424 on).
COMMON = {
    "io_uring_setup": 425, "io_uring_enter": 426, "io_uring_register": 427,
    "open_tree": 428, "move_mount": 429, "fsopen": 430, "fsconfig": 431, "fsmount": 432,
    "fspick": 433, "clone3": 435, "pidfd_getfd": 438, "mount_setattr": 442, "memfd_secret": 447,
    "fchmodat2": 452, "setxattrat": 463,
    "removexattrat": 466, "open_tree_attr": 467,
}  # fmt: skip
X86_64 = {
    "ioctl": 16, "socket": 41, "socketpair": 53, "clone": 56, "fork": 57, "vfork": 58,
    "execve": 59, "ptrace": 101, "setpgid": 109, "setsid": 112, "setrlimit": 160, "prlimit64": 302, "personality": 135, "pivot_root": 155, "chroot": 161,
    "chmod": 90, "fchmod": 91, "chown": 92, "fchown": 93, "lchown": 94, "utime": 132,
    "setxattr": 188, "lsetxattr": 189, "fsetxattr": 190, "removexattr": 197, "lremovexattr": 198,
    "fremovexattr": 199, "utimes": 235, "fchownat": 260, "futimesat": 261, "fchmodat": 268, "utimensat": 280,
    "mount": 165, "umount2": 166, "swapon": 167, "swapoff": 168, "reboot": 169,
    "init_module": 175, "delete_module": 176, "kexec_load": 246, "add_key": 248,
    "request_key": 249, "keyctl": 250, "unshare": 272, "perf_event_open": 298, "setns": 308,
    "process_vm_readv": 310, "process_vm_writev": 311, "finit_module": 313, "seccomp": 317,
    "kexec_file_load": 320, "bpf": 321, "execveat": 322, "userfaultfd": 323,
    "mmap": 9, "shmget": 29, "shmat": 30, "semget": 64, "msgget": 68, "setpriority": 141,
    "sched_setparam": 142, "sched_setscheduler": 144, "sched_setaffinity": 203, "mq_open": 240,
    "ioprio_set": 251, "migrate_pages": 256, "move_pages": 279, "name_to_handle_at": 303,
    "open_by_handle_at": 304, "kcmp": 312, "sched_setattr": 314, "memfd_create": 319, "fallocate": 285, **COMMON,
}  # fmt: skip
AARCH64 = {
    "setxattr": 5, "lsetxattr": 6, "fsetxattr": 7, "removexattr": 14, "lremovexattr": 15, "fremovexattr": 16,
    "fchmod": 52, "fchmodat": 53, "fchownat": 54, "fchown": 55, "utimensat": 88,
    "ioctl": 29, "umount2": 39, "mount": 40, "pivot_root": 41, "chroot": 51,
    "personality": 92, "unshare": 97, "kexec_load": 104, "init_module": 105,
    "delete_module": 106, "ptrace": 117, "reboot": 142, "setpgid": 154, "setsid": 157, "setrlimit": 164, "prlimit64": 261, "socket": 198, "socketpair": 199,
    "add_key": 217, "request_key": 218, "keyctl": 219, "clone": 220, "execve": 221,
    "swapon": 224, "swapoff": 225, "perf_event_open": 241, "setns": 268,
    "process_vm_readv": 270, "process_vm_writev": 271, "finit_module": 273, "seccomp": 277,
    "bpf": 280, "execveat": 281, "userfaultfd": 282, "kexec_file_load": 294,
    "ioprio_set": 30, "sched_setparam": 118, "sched_setscheduler": 119, "sched_setaffinity": 122,
    "setpriority": 140, "mq_open": 180, "msgget": 186, "semget": 190, "shmget": 194, "shmat": 196,
    "mmap": 222, "migrate_pages": 238, "move_pages": 239, "name_to_handle_at": 264,
    "open_by_handle_at": 265, "kcmp": 272, "sched_setattr": 274, "memfd_create": 279, "fallocate": 47, **COMMON,
}  # fmt: skip
