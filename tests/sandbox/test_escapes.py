"""Escape attempts from a cell of the real, confined worker.

Each attempt runs as cell code and must fail; where it would leave a trace on the host
(a file, a connection, a signal), the test checks the host, not only the error. After each
attempt the worker answers the next cell. Layers: see `%codemode isolation`; tests that need
a Linux feature skip with the reason where it is missing.
"""

from __future__ import annotations

import functools
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from anyio.from_thread import BlockingPortal

from codemode.sandbox import CallRequest, CellOutcome, Sandbox, _landlock

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux") or _landlock.abi_version() < 6,
    reason="the escape suite needs Linux with Landlock ABI 6 or later (and seccomp)",
)

WAIT = 60.0
SECRET = "codemode-test-secret-7f3a"


async def no_tools(request: CallRequest) -> dict[str, Any]:
    return {"ok": False, "error": {"code": "UNKNOWN_TOOL", "message": "no tools here"}}


@pytest.fixture(scope="module")
def outside(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A host directory outside the work dir, holding a secret file."""
    place = tmp_path_factory.mktemp("outside")
    (place / "secret.txt").write_text(SECRET)
    return place


@pytest.fixture(scope="module")
def worker(portal: BlockingPortal, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    os.environ["CODEMODE_TEST_SECRET"] = SECRET
    box = Sandbox({"servers": {}, "sys_path": []}, workdir=tmp_path_factory.mktemp("work"))
    try:
        portal.call(box.start)
    finally:
        del os.environ["CODEMODE_TEST_SECRET"]
    yield box
    portal.call(box.aclose)


def run(portal: BlockingPortal, worker: Sandbox, code: str) -> CellOutcome:
    outcome = portal.call(functools.partial(worker.run, code, on_call=no_tools, on_stream=lambda *_: None,
                                            timeout=WAIT))
    assert portal.call(functools.partial(worker.run, "1 + 1", on_call=no_tools, on_stream=lambda *_: None,
                                         timeout=WAIT)).result == {"kind": "json", "value": 2}
    return outcome


def refused(outcome: CellOutcome, *types: str) -> bool:
    return not outcome.ok and outcome.error is not None and outcome.error["type"] in (types or ("PermissionError",))


# -- secrets ------------------------------------------------------------------------------------


def test_the_hosts_environment_is_not_inherited(portal: BlockingPortal, worker: Sandbox) -> None:
    outcome = run(portal, worker, "import os\n[k for k, v in os.environ.items() if 'secret' in (k + v).lower()]")
    assert outcome.result == {"kind": "json", "value": []}


def test_the_parents_environ_in_proc_is_unreadable(portal: BlockingPortal, worker: Sandbox) -> None:
    assert refused(run(portal, worker, "import os\nopen(f'/proc/{os.getppid()}/environ', 'rb').read()"))


def test_the_parents_memory_is_unreadable(portal: BlockingPortal, worker: Sandbox) -> None:
    assert refused(run(portal, worker, "import os\nopen(f'/proc/{os.getppid()}/mem', 'rb').read(1)"))


def test_a_secret_file_outside_the_work_dir_is_unreadable(portal: BlockingPortal, worker: Sandbox, outside: Path) -> None:
    assert refused(run(portal, worker, f"open({str(outside / 'secret.txt')!r}).read()"))


def test_system_files_and_home_are_unreadable(portal: BlockingPortal, worker: Sandbox) -> None:
    assert refused(run(portal, worker, "open('/etc/passwd').read()"))
    assert refused(run(portal, worker, f"import os\nos.listdir({os.path.expanduser('~')!r})"))


def test_jupyter_runtime_files_are_unreadable(portal: BlockingPortal, worker: Sandbox) -> None:
    from jupyter_core.paths import jupyter_runtime_dir

    assert refused(run(portal, worker, f"import os\nos.listdir({jupyter_runtime_dir()!r})"),
                   "PermissionError", "FileNotFoundError")


def test_no_descriptor_is_inherited_but_the_channel(portal: BlockingPortal, worker: Sandbox) -> None:
    code = ("import os\nopen_fds = []\nfor fd in range(3, 1024):\n    try:\n        os.fstat(fd)\n"
            "        open_fds.append(fd)\n    except OSError:\n        pass\nlen(open_fds)")
    outcome = run(portal, worker, code)
    assert outcome.ok and outcome.result is not None and outcome.result["value"] <= 2


# -- files --------------------------------------------------------------------------------------


def test_writing_outside_fails_and_leaves_nothing(portal: BlockingPortal, worker: Sandbox, outside: Path) -> None:
    assert refused(run(portal, worker, f"open({str(outside / 'planted.txt')!r}, 'w').write('x')"))
    assert not (outside / "planted.txt").exists()


def test_a_symlink_to_the_secret_does_not_read_it(portal: BlockingPortal, worker: Sandbox, outside: Path) -> None:
    code = f"import os\nos.symlink({str(outside / 'secret.txt')!r}, 'link')\nopen('link').read()"
    assert refused(run(portal, worker, code))


def test_a_hard_link_out_and_a_rename_out_fail(portal: BlockingPortal, worker: Sandbox, outside: Path) -> None:
    assert refused(run(portal, worker, f"import os\nopen('mine', 'w').write('m')\nos.link('mine', {str(outside / 'l')!r})"))
    assert refused(run(portal, worker, f"import os\nos.rename('mine', {str(outside / 'moved')!r})"))
    assert not (outside / "l").exists() and not (outside / "moved").exists()


def test_a_fifo_outside_cannot_be_made(portal: BlockingPortal, worker: Sandbox, outside: Path) -> None:
    assert refused(run(portal, worker, f"import os\nos.mkfifo({str(outside / 'fifo')!r})"))
    assert not (outside / "fifo").exists()


def test_files_inside_the_work_dir_work(portal: BlockingPortal, worker: Sandbox) -> None:
    outcome = run(portal, worker, "open('notes.txt', 'w').write('hi')\nopen('notes.txt').read()")
    assert outcome.result == {"kind": "json", "value": "hi"}


# -- processes ----------------------------------------------------------------------------------


def test_exec_fails_and_its_command_never_runs(portal: BlockingPortal, worker: Sandbox, outside: Path) -> None:
    code = f"import subprocess\nsubprocess.run(['/bin/sh', '-c', 'touch {outside / 'ran'}'])"
    assert refused(run(portal, worker, code))
    assert not (outside / "ran").exists()


def test_fork_fails(portal: BlockingPortal, worker: Sandbox) -> None:
    assert refused(run(portal, worker, "import os\nos.fork()"))


def test_signals_to_the_host_fail_and_the_host_lives(portal: BlockingPortal, worker: Sandbox) -> None:
    assert refused(run(portal, worker, "import os, signal\nos.kill(os.getppid(), signal.SIGTERM)"))



def test_kill_minus_one_reaches_no_process_outside(portal: BlockingPortal, worker: Sandbox) -> None:
    # Linux may report success for kill(-1); what matters is that nothing outside died.
    victim = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    try:
        run(portal, worker, "import os, signal\ntry:\n    os.kill(-1, signal.SIGKILL)\nexcept OSError:\n    pass")
        assert victim.poll() is None
    finally:
        victim.kill()
        victim.wait()


def test_ptrace_and_unshare_through_raw_syscalls_fail(portal: BlockingPortal, worker: Sandbox) -> None:
    code = ("import ctypes, os\nlibc = ctypes.CDLL(None, use_errno=True)\n"
            "PTRACE = {'x86_64': 101, 'aarch64': 117}[os.uname().machine]\n"
            "UNSHARE = {'x86_64': 272, 'aarch64': 97}[os.uname().machine]\n"
            "r1 = libc.syscall(PTRACE, 16, os.getppid(), 0, 0); e1 = ctypes.get_errno()\n"
            "r2 = libc.syscall(UNSHARE, 0x10000000); e2 = ctypes.get_errno()\n"
            "[r1, e1, r2, e2]")
    outcome = run(portal, worker, code)
    assert outcome.result == {"kind": "json", "value": [-1, 1, -1, 1]}


# -- network ------------------------------------------------------------------------------------


def test_tcp_to_a_loopback_listener_never_arrives(portal: BlockingPortal, worker: Sandbox) -> None:
    with socket.create_server(("127.0.0.1", 0)) as listener:
        port = listener.getsockname()[1]
        code = f"import socket\nsocket.create_connection(('127.0.0.1', {port}), timeout=2)"
        assert refused(run(portal, worker, code))
        listener.setblocking(False)
        with pytest.raises(BlockingIOError):
            listener.accept()


def test_udp_ipv6_unix_and_netlink_sockets_cannot_be_made(portal: BlockingPortal, worker: Sandbox) -> None:
    for family, kind in (("AF_INET", "SOCK_DGRAM"), ("AF_INET6", "SOCK_STREAM"), ("AF_UNIX", "SOCK_STREAM"),
                         ("AF_NETLINK", "SOCK_RAW")):
        assert refused(run(portal, worker, f"import socket\nsocket.socket(socket.{family}, socket.{kind})"))


def test_dns_lookups_fail(portal: BlockingPortal, worker: Sandbox) -> None:
    assert refused(run(portal, worker, "import socket\nsocket.getaddrinfo('localhost', 80)"),
                   "PermissionError", "gaierror", "OSError")


def test_the_resource_limits_cannot_be_raised_even_as_root(portal: BlockingPortal, worker: Sandbox) -> None:
    code = ("import resource\nsoft, hard = resource.getrlimit(resource.RLIMIT_DATA)\n"
            "resource.setrlimit(resource.RLIMIT_DATA, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))")
    assert refused(run(portal, worker, code), "ValueError", "PermissionError")  # Python says EPERM as ValueError
    still = run(portal, worker, "import resource\nresource.getrlimit(resource.RLIMIT_DATA)[0]")
    assert still.result is not None and still.result["value"] == worker.limits.memory
