"""The seccomp filter, tried from real child processes.

The filter cannot be removed once installed, so every behaviour test runs a fresh
`python -I -S -c` child that installs it, tries things and prints its results as one JSON
line. Syscall numbers the children use come from a table here, not from the module under test.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import statistics
import struct
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

import codemode
from codemode.sandbox import _seccomp

WAIT = 30.0
"""Seconds a child may take before a test gives up: generous, never reached."""
SRC = str(Path(codemode.__file__).resolve().parent.parent)
MACHINE = os.uname().machine
SUPPORTED = MACHINE in ("x86_64", "aarch64")
needs_seccomp = pytest.mark.skipif(not SUPPORTED, reason=f"no seccomp table for {MACHINE}")

# The syscalls the children call directly, per architecture, from <asm/unistd.h>.
NUMBERS = {
    "x86_64": {"ioctl": 16, "getpid": 39, "socket": 41, "clone": 56, "ptrace": 101,
               "unshare": 272, "process_vm_readv": 310, "io_uring_setup": 425, "clone3": 435},
    "aarch64": {"ioctl": 29, "getpid": 172, "socket": 198, "clone": 220, "ptrace": 117,
                "unshare": 97, "process_vm_readv": 270, "io_uring_setup": 425, "clone3": 435},
}  # fmt: skip

PRELUDE = """\
import ctypes, json, os, sys
sys.path.insert(0, {src!r})
from codemode.sandbox import _seccomp

NR = {numbers!r}
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long

def raw(name, *args):
    # A syscall straight through libc's syscall(2): returns (result, errno).
    ctypes.set_errno(0)
    nr = NR[name] if isinstance(name, str) else name
    result = libc.syscall(ctypes.c_long(nr), *[ctypes.c_ulong(a) for a in args])
    return result, ctypes.get_errno() if result == -1 else 0

def errno_of(fn, *args):
    # 0 if fn(*args) succeeds, else the errno of the OSError it raises.
    try:
        fn(*args)
    except OSError as exc:
        return exc.errno
    return 0

results = {{}}
"""
INSTALL = "report = _seccomp.install(allow_subprocess={allow})\n"
EPILOGUE = "\nprint(json.dumps(results))\n"


def run_child(
    body: str, *, allow_subprocess: bool = False, before: str = "", install: bool = True
) -> subprocess.CompletedProcess[str]:
    """Run `body` in a fresh child, after `before` and the filter; return the process."""
    script = PRELUDE.format(src=SRC, numbers=NUMBERS.get(MACHINE, {}))
    script += textwrap.dedent(before)
    if install:
        script += INSTALL.format(allow=allow_subprocess)
    script += textwrap.dedent(body) + EPILOGUE
    return subprocess.run(
        [sys.executable, "-I", "-S", "-c", script], capture_output=True, text=True, timeout=WAIT
    )


def results_of(body: str, **options: Any) -> dict[str, Any]:
    """Run `body` in a filtered child and return the `results` it printed."""
    done = run_child(body, **options)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.splitlines()[-1])


@needs_seccomp
def test_every_socket_family_is_refused() -> None:
    results = results_of("""
        import socket
        for name in ("AF_INET", "AF_INET6", "AF_UNIX"):
            results[name] = errno_of(socket.socket, getattr(socket, name), socket.SOCK_STREAM)
        results["AF_NETLINK"] = errno_of(socket.socket, socket.AF_NETLINK, socket.SOCK_RAW, 0)
        results["socketpair"] = errno_of(socket.socketpair)
        try:
            socket.socket()
        except PermissionError:
            results["type"] = "PermissionError"
    """)
    # socketpair is allowed: an anonymous connected pair reaches nothing (asyncio's self-pipe).
    assert results == {"AF_INET": 1, "AF_INET6": 1, "AF_UNIX": 1, "AF_NETLINK": 1, "socketpair": 0,
                       "type": "PermissionError"}  # fmt: skip


@needs_seccomp
def test_a_raw_socket_syscall_through_ctypes_is_refused_too() -> None:
    results = results_of("""
        results["socket"] = raw("socket", 2, 1, 0)  # AF_INET, SOCK_STREAM
    """)
    assert results["socket"] == [-1, 1]


@needs_seccomp
@pytest.mark.parametrize("filtered", [True, False], ids=["filtered", "control"])
def test_a_connect_to_a_loopback_listener_never_arrives(filtered: bool) -> None:
    with socket.create_server(("127.0.0.1", 0)) as listener:
        port = listener.getsockname()[1]
        results = results_of(
            f"""
            import socket
            try:
                socket.create_connection(("127.0.0.1", {port}), timeout={WAIT}).close()
                results["errno"] = 0
            except OSError as exc:
                results["errno"] = exc.errno
            """,
            install=filtered,
        )
        # The child has exited: a connection it made would be waiting in the accept queue.
        listener.setblocking(False)
        try:
            listener.accept()[0].close()
            arrived = True
        except BlockingIOError:
            arrived = False
    assert (results["errno"], arrived) == ((1, False) if filtered else (0, True))


@needs_seccomp
def test_fork_and_exec_are_refused_without_allow_subprocess() -> None:
    results = results_of("""
        import subprocess
        results["fork"] = errno_of(os.fork)
        results["execv"] = errno_of(os.execv, "/bin/true", ["/bin/true"])
        try:
            results["run"] = subprocess.run(["/bin/true"]).returncode
        except OSError as exc:
            results["run"] = exc.errno
    """)
    assert results == {"fork": 1, "execv": 1, "run": 1}


@needs_seccomp
def test_fork_and_subprocess_work_with_allow_subprocess_and_children_inherit_the_filter() -> None:
    results = results_of(
        """
        import subprocess
        pid = os.fork()
        if pid == 0:
            os._exit(7)
        results["fork_status"] = os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
        results["true"] = subprocess.run(["/bin/true"]).returncode
        child = "import socket\\ntry:\\n socket.socket()\\nexcept PermissionError:\\n raise SystemExit(3)"
        results["child_socket"] = subprocess.run([sys.executable, "-I", "-S", "-c", child]).returncode
        """,
        allow_subprocess=True,
    )
    assert results == {"fork_status": 7, "true": 0, "child_socket": 3}


@needs_seccomp
def test_threads_and_thread_pools_keep_working() -> None:
    results = results_of("""
        import threading
        from concurrent.futures import ThreadPoolExecutor
        box = []
        thread = threading.Thread(target=box.append, args=(42,))
        thread.start()
        thread.join()
        results["thread"] = box
        with ThreadPoolExecutor(max_workers=4) as pool:
            results["pool"] = list(pool.map(lambda n: n * n, range(8)))
    """)
    assert results == {"thread": [42], "pool": [n * n for n in range(8)]}


@needs_seccomp
def test_a_thread_started_before_install_is_filtered_too() -> None:
    before = """
        import socket, threading
        go, done = threading.Event(), threading.Event()
        seen = []
        def later():
            go.wait()
            seen.append(errno_of(socket.socket))
            done.set()
        threading.Thread(target=later, daemon=True).start()
    """
    results = results_of(
        f"""
        go.set()
        results["finished"] = done.wait({WAIT})
        results["errno"] = seen
        """,
        before=before,
    )
    assert results == {"finished": True, "errno": [1]}


@needs_seccomp
def test_ptrace_process_vm_readv_unshare_and_io_uring_are_refused() -> None:
    results = results_of("""
        results["ptrace"] = raw("ptrace", 0, 0, 0, 0)  # PTRACE_TRACEME
        buf = ctypes.create_string_buffer(64)
        local = (ctypes.c_void_p * 2)(ctypes.addressof(buf), 64)  # struct iovec
        remote = (ctypes.c_void_p * 2)(id(None), 64)
        results["process_vm_readv"] = raw(
            "process_vm_readv", os.getppid(), ctypes.addressof(local), 1, ctypes.addressof(remote), 1, 0)
        results["unshare"] = raw("unshare", 0x10000000)  # CLONE_NEWUSER
        params = ctypes.create_string_buffer(120)  # struct io_uring_params, zeroed
        results["io_uring_setup"] = raw("io_uring_setup", 8, ctypes.addressof(params))
    """)
    refused = [-1, 1]
    assert results == {"ptrace": refused, "process_vm_readv": refused, "unshare": refused,
                       "io_uring_setup": refused}  # fmt: skip


@needs_seccomp
def test_clone_with_a_namespace_flag_is_refused_even_with_allow_subprocess() -> None:
    results = results_of(
        """
        result = raw("clone", 0x10000000 | 17, 0, 0, 0, 0)  # CLONE_NEWUSER | SIGCHLD
        if result[0] == 0:
            os._exit(0)  # the filter failed and this is the new process: leave quietly
        results["clone"] = result
        """,
        allow_subprocess=True,
    )
    assert results == {"clone": [-1, 1]}


@needs_seccomp
def test_clone3_gets_enosys_so_glibc_falls_back_to_clone() -> None:
    results = results_of("""
        results["clone3"] = raw("clone3", 0, 0)
    """)
    assert results == {"clone3": [-1, 38]}


@needs_seccomp
def test_tiocsti_is_refused_while_other_ioctls_work() -> None:
    results = results_of("""
        import fcntl, struct, termios
        master, slave = os.openpty()
        results["TIOCSTI"] = errno_of(fcntl.ioctl, slave, termios.TIOCSTI, b"x")
        # The kernel truncates the command to 32 bits; so does the filter's comparison.
        char = ctypes.create_string_buffer(b"x")
        results["TIOCSTI_high_bits"] = raw("ioctl", slave, (1 << 32) | termios.TIOCSTI, ctypes.addressof(char))
        size = fcntl.ioctl(slave, termios.TIOCGWINSZ, struct.pack("HHHH", 0, 0, 0, 0))
        results["TIOCGWINSZ"] = len(size)
    """)
    assert results == {"TIOCSTI": 1, "TIOCSTI_high_bits": [-1, 1], "TIOCGWINSZ": 8}


@needs_seccomp
def test_file_io_json_and_time_still_work(tmp_path: Path) -> None:
    target = tmp_path / "out.json"
    results = results_of(f"""
        import time
        start = time.monotonic()
        with open({str(target)!r}, "w") as f:
            json.dump({{"a": [1, 2]}}, f)
        with open({str(target)!r}) as f:
            results["read_back"] = json.load(f)
        os.rename({str(target)!r}, {str(target) + ".moved"!r})
        results["listed"] = sorted(os.listdir({str(tmp_path)!r}))
        results["clock_moves"] = time.monotonic() >= start and time.time() > 0
        results["getpid"] = raw("getpid")[0] == os.getpid()
    """)
    assert results == {"read_back": {"a": [1, 2]}, "listed": ["out.json.moved"], "clock_moves": True,
                       "getpid": True}  # fmt: skip
    assert (tmp_path / "out.json.moved").exists()


@pytest.mark.skipif(MACHINE != "x86_64", reason="x32 is an x86_64 ABI")
def test_an_x32_syscall_kills_the_process() -> None:
    done = run_child("""
        raw(0x40000000 | NR["getpid"])
        results["survived"] = True
    """)
    assert done.returncode == -signal.SIGSYS
    assert done.stdout == ""


def test_install_on_an_unknown_architecture_raises_and_installs_nothing() -> None:
    before = """
        import socket
        real = os.uname()
        _seccomp.os = type("FakeOs", (), {"uname": staticmethod(lambda: type(real)(
            (real.sysname, real.nodename, real.release, real.version, "riscv64")))})
        try:
            _seccomp.install()
        except _seccomp.SeccompUnsupported as exc:
            results["reason"] = exc.reason
        results["socket"] = errno_of(lambda: socket.socket().close())
    """
    results = results_of("", before=before, install=False)
    assert results == {"reason": "no syscall table for architecture 'riscv64'", "socket": 0}


def test_build_filter_refuses_an_unknown_architecture() -> None:
    with pytest.raises(_seccomp.SeccompUnsupported) as caught:
        _seccomp.build_filter("s390x")
    assert caught.value.reason == "no syscall table for architecture 's390x'"


@pytest.mark.parametrize("arch", ["x86_64", "aarch64"])
@pytest.mark.parametrize("allow_subprocess", [False, True])
def test_every_jump_of_the_program_lands_inside_it(arch: str, allow_subprocess: bool) -> None:
    program, _ = _seccomp.build_filter(arch, allow_subprocess=allow_subprocess)
    insns = [struct.unpack_from("=HBBI", program, offset) for offset in range(0, len(program), 8)]
    assert len(program) % 8 == 0 and len(insns) <= _seccomp.BPF_MAXINSNS
    for index, (code, jt, jf, _k) in enumerate(insns):
        if code & 0x07 == 0x05:  # BPF_JMP
            assert index + 1 + max(jt, jf) < len(insns)
    assert insns[0] == (0x20, 0, 0, 4)  # first, load seccomp_data.arch
    assert insns[-1] == (0x06, 0, 0, _seccomp.SECCOMP_RET_ALLOW)


def test_the_report_lists_what_is_denied() -> None:
    _, strict = _seccomp.build_filter("aarch64")
    _, lenient = _seccomp.build_filter("aarch64", allow_subprocess=True)
    assert {"socket", "execve", "clone(without CLONE_THREAD)"} <= set(strict)
    assert "socketpair" not in strict
    assert "fork" not in strict  # aarch64 has no fork syscall
    assert "execve" not in lenient and "clone(without CLONE_THREAD)" not in lenient
    report = _seccomp.SeccompReport("aarch64", lenient, True)
    assert report.as_dict() == {"arch": "aarch64", "denied": list(lenient), "allow_subprocess": True}


@needs_seccomp
def test_install_cost_is_measured(record_property: Any) -> None:
    body = """
        import time
        start = time.perf_counter()
        _seccomp.install()
        results["seconds"] = time.perf_counter() - start
    """
    costs = [results_of(body, install=False)["seconds"] for _ in range(7)]
    median_ms = statistics.median(costs) * 1000
    record_property("install_ms_median", median_ms)
    print(f"seccomp install() on {MACHINE}: median {median_ms:.3f} ms over {len(costs)} runs")
    assert all(cost > 0 for cost in costs)
