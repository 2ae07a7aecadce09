"""Escape attempts from a cell of the real, confined worker.

Each attempt runs as cell code and must fail; where it would leave a trace on the host
(a file, a connection, a signal), the test checks the host, not only the error. After each
attempt the worker answers the next cell. Layers: see `%codemode isolation`; tests that need
a Linux feature skip with the reason where it is missing.
"""

from __future__ import annotations

import functools
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from anyio.from_thread import BlockingPortal

from codemode.sandbox import CallRequest, CellOutcome, Sandbox, _landlock, _proctable

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
def readonly(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A host directory the worker is granted read-only (`--allow-read`), holding data."""
    place = tmp_path_factory.mktemp("readonly")
    (place / "data.txt").write_text("shared data")
    return place


@pytest.fixture(scope="module")
def worker(portal: BlockingPortal, tmp_path_factory: pytest.TempPathFactory, readonly: Path) -> Iterator[Sandbox]:
    os.environ["CODEMODE_TEST_SECRET"] = SECRET
    box = Sandbox({"servers": {}, "sys_path": []}, workdir=tmp_path_factory.mktemp("work"),
                  allow_read=(str(readonly),))
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


# How the layers say no: Landlock and seccomp with EPERM/EACCES; the private root with ENOENT
# (the path does not exist for the worker) or EROFS; the PID namespace with ESRCH.
REFUSALS = ("PermissionError", "FileNotFoundError", "ProcessLookupError", "OSError")


def refused(outcome: CellOutcome, *types: str) -> bool:
    if outcome.ok or outcome.error is None or outcome.error["type"] not in (types or REFUSALS):
        return False
    return outcome.error["type"] != "OSError" or "Read-only file system" in outcome.error["message"]


# -- secrets ------------------------------------------------------------------------------------


@pytest.mark.escape("secrets")
def test_the_hosts_environment_is_not_inherited(portal: BlockingPortal, worker: Sandbox) -> None:
    outcome = run(portal, worker, "import os\n[k for k, v in os.environ.items() if 'secret' in (k + v).lower()]")
    assert outcome.result == {"kind": "json", "value": []}


@pytest.mark.escape("secrets")
def test_the_parents_environ_in_proc_is_unreadable(portal: BlockingPortal, worker: Sandbox) -> None:
    assert refused(run(portal, worker, "import os\nopen(f'/proc/{os.getppid()}/environ', 'rb').read()"))


@pytest.mark.escape("secrets")
def test_the_parents_memory_is_unreadable(portal: BlockingPortal, worker: Sandbox) -> None:
    assert refused(run(portal, worker, "import os\nopen(f'/proc/{os.getppid()}/mem', 'rb').read(1)"))


@pytest.mark.escape("secrets")
def test_a_secret_file_outside_the_work_dir_is_unreadable(portal: BlockingPortal, worker: Sandbox, outside: Path) -> None:
    assert refused(run(portal, worker, f"open({str(outside / 'secret.txt')!r}).read()"))


FLUSHER_READS = """
import sys, threading, time
got = []
cls = type(sys.stdout)
original = cls.flush
def spy(self):
    if threading.current_thread().name == "codemode-stream-flush" and not got:
        try:
            got.append(open({path!r}).read())
        except OSError as exc:
            got.append(type(exc).__name__)
    return original(self)
cls.flush = spy
try:
    print("a", end="")
    print("b", end="")  # within the flush delay: the worker's own flusher thread sends it
    deadline = time.monotonic() + 10
    while not got and time.monotonic() < deadline:
        time.sleep(0.01)
finally:
    cls.flush = original
got
"""


@pytest.mark.escape("secrets")
def test_code_run_on_the_workers_own_flusher_thread_is_as_confined_as_the_cell(
    portal: BlockingPortal, worker: Sandbox, outside: Path
) -> None:
    # The cell can make the worker's stream-flushing thread run its code (the class is
    # reachable from sys.stdout): that thread must be inside every layer too, which it is
    # only if it was started after the worker was confined.
    outcome = run(portal, worker, FLUSHER_READS.format(path=str(outside / "secret.txt")))
    assert outcome.ok, outcome.error
    assert outcome.result is not None
    [seen] = outcome.result["value"]
    assert seen in REFUSALS, seen


@pytest.mark.escape("secrets")
def test_system_files_and_home_are_unreadable(portal: BlockingPortal, worker: Sandbox) -> None:
    assert refused(run(portal, worker, "open('/etc/passwd').read()"))
    assert refused(run(portal, worker, f"import os\nos.listdir({os.path.expanduser('~')!r})"))


@pytest.mark.escape("secrets")
def test_jupyter_runtime_files_are_unreadable(portal: BlockingPortal, worker: Sandbox) -> None:
    from jupyter_core.paths import jupyter_runtime_dir

    assert refused(run(portal, worker, f"import os\nos.listdir({jupyter_runtime_dir()!r})"),
                   "PermissionError", "FileNotFoundError")


@pytest.mark.escape("secrets")
def test_no_descriptor_is_inherited_but_the_channel(portal: BlockingPortal, worker: Sandbox) -> None:
    code = ("import os\nopen_fds = []\nfor fd in range(3, 1024):\n    try:\n        os.fstat(fd)\n"
            "        open_fds.append(fd)\n    except OSError:\n        pass\nlen(open_fds)")
    outcome = run(portal, worker, code)
    assert outcome.ok and outcome.result is not None and outcome.result["value"] <= 2


# -- files --------------------------------------------------------------------------------------


@pytest.mark.escape("files")
def test_writing_outside_fails_and_leaves_nothing(portal: BlockingPortal, worker: Sandbox, outside: Path) -> None:
    assert refused(run(portal, worker, f"open({str(outside / 'planted.txt')!r}, 'w').write('x')"))
    assert not (outside / "planted.txt").exists()


@pytest.mark.escape("files")
def test_a_symlink_to_the_secret_does_not_read_it(portal: BlockingPortal, worker: Sandbox, outside: Path) -> None:
    code = f"import os\nos.symlink({str(outside / 'secret.txt')!r}, 'link')\nopen('link').read()"
    assert refused(run(portal, worker, code))


@pytest.mark.escape("files")
def test_a_hard_link_out_and_a_rename_out_fail(portal: BlockingPortal, worker: Sandbox, outside: Path) -> None:
    assert refused(run(portal, worker, f"import os\nopen('mine', 'w').write('m')\nos.link('mine', {str(outside / 'l')!r})"))
    assert refused(run(portal, worker, f"import os\nos.rename('mine', {str(outside / 'moved')!r})"))
    assert not (outside / "l").exists() and not (outside / "moved").exists()


@pytest.mark.escape("files")
def test_a_fifo_outside_cannot_be_made(portal: BlockingPortal, worker: Sandbox, outside: Path) -> None:
    assert refused(run(portal, worker, f"import os\nos.mkfifo({str(outside / 'fifo')!r})"))
    assert not (outside / "fifo").exists()


@pytest.mark.escape("files")
def test_files_inside_the_work_dir_work(portal: BlockingPortal, worker: Sandbox) -> None:
    outcome = run(portal, worker, "open('notes.txt', 'w').write('hi')\nopen('notes.txt').read()")
    assert outcome.result == {"kind": "json", "value": "hi"}


# -- processes ----------------------------------------------------------------------------------


@pytest.mark.escape("processes")
def test_exec_fails_and_its_command_never_runs(portal: BlockingPortal, worker: Sandbox, outside: Path) -> None:
    code = f"import subprocess\nsubprocess.run(['/bin/sh', '-c', 'touch {outside / 'ran'}'])"
    assert refused(run(portal, worker, code))
    assert not (outside / "ran").exists()


@pytest.mark.escape("processes")
def test_fork_fails(portal: BlockingPortal, worker: Sandbox) -> None:
    assert refused(run(portal, worker, "import os\nos.fork()"))


@pytest.mark.escape("processes")
def test_signals_to_the_host_fail_and_the_host_lives(portal: BlockingPortal, worker: Sandbox) -> None:
    assert refused(run(portal, worker, "import os, signal\nos.kill(os.getppid(), signal.SIGTERM)"))



@pytest.mark.escape("processes")
def test_kill_minus_one_reaches_no_process_outside(portal: BlockingPortal, worker: Sandbox) -> None:
    # Linux may report success for kill(-1); what matters is that nothing outside died.
    victim = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    try:
        run(portal, worker, "import os, signal\ntry:\n    os.kill(-1, signal.SIGKILL)\nexcept OSError:\n    pass")
        assert victim.poll() is None
    finally:
        victim.kill()
        victim.wait()


@pytest.mark.escape("processes")
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


@pytest.mark.escape("network")
def test_tcp_to_a_loopback_listener_never_arrives(portal: BlockingPortal, worker: Sandbox) -> None:
    with socket.create_server(("127.0.0.1", 0)) as listener:
        port = listener.getsockname()[1]
        code = f"import socket\nsocket.create_connection(('127.0.0.1', {port}), timeout=2)"
        assert refused(run(portal, worker, code))
        listener.setblocking(False)
        with pytest.raises(BlockingIOError):
            listener.accept()


@pytest.mark.escape("network")
@pytest.mark.parametrize(("family", "kind"), [
    ("AF_INET", "SOCK_DGRAM"), ("AF_INET6", "SOCK_STREAM"), ("AF_UNIX", "SOCK_STREAM"), ("AF_UNIX", "SOCK_DGRAM"),
    ("AF_NETLINK", "SOCK_RAW"), ("AF_INET", "SOCK_RAW"), ("AF_PACKET", "SOCK_RAW"),
])
def test_no_socket_of_any_family_can_be_made(portal: BlockingPortal, worker: Sandbox, family: str, kind: str) -> None:
    assert refused(run(portal, worker, f"import socket\nsocket.socket(socket.{family}, socket.{kind})"))


@pytest.mark.escape("network")
def test_dns_lookups_fail(portal: BlockingPortal, worker: Sandbox) -> None:
    assert refused(run(portal, worker, "import socket\nsocket.getaddrinfo('localhost', 80)"),
                   "PermissionError", "gaierror", "OSError")


@pytest.mark.escape("resources")
def test_the_resource_limits_cannot_be_raised_even_as_root(portal: BlockingPortal, worker: Sandbox) -> None:
    code = ("import resource\nsoft, hard = resource.getrlimit(resource.RLIMIT_DATA)\n"
            "resource.setrlimit(resource.RLIMIT_DATA, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))")
    assert refused(run(portal, worker, code), "ValueError", "PermissionError")  # Python says EPERM as ValueError
    still = run(portal, worker, "import resource\nresource.getrlimit(resource.RLIMIT_DATA)[0]")
    assert still.result is not None and still.result["value"] == worker.limits.memory


# -- more secrets -------------------------------------------------------------------------------


@pytest.mark.escape("secrets")
@pytest.mark.parametrize("entry", ["cmdline", "fd", "cwd", "root", "maps"])
def test_the_hosts_proc_entries_are_unreadable(portal: BlockingPortal, worker: Sandbox, entry: str) -> None:
    code = ("import os\npath = f'/proc/{os.getppid()}/" + entry + "'\n"
            "os.listdir(path) if os.path.isdir(path) else open(path, 'rb').read()")
    outcome = run(portal, worker, code)
    assert refused(outcome, "PermissionError", "FileNotFoundError")
    assert SECRET not in str(outcome.result)


@pytest.mark.escape("secrets")
def test_another_processes_environment_is_unreadable(portal: BlockingPortal, worker: Sandbox) -> None:
    victim = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"],
                              env={**os.environ, "VICTIM_TOKEN": SECRET})
    try:
        outcome = run(portal, worker, f"open('/proc/{victim.pid}/environ', 'rb').read()")
        assert refused(outcome, "PermissionError", "FileNotFoundError")
        assert SECRET not in str(outcome.result)
    finally:
        victim.kill()
        victim.wait()


@pytest.mark.escape("secrets")
def test_the_mcp_config_with_its_credentials_is_unreadable(portal: BlockingPortal, worker: Sandbox, outside: Path) -> None:
    config = outside / "mcp.json"
    config.write_text(json.dumps({"mcpServers": {"x": {"url": "https://example.test", "headers": {"Authorization": SECRET}}}}))
    outcome = run(portal, worker, f"open({str(config)!r}).read()")
    assert refused(outcome) and SECRET not in str(outcome.result)


@pytest.mark.escape("secrets")
def test_a_kernel_connection_file_and_its_hmac_key_are_unreadable(
    portal: BlockingPortal, worker: Sandbox, outside: Path
) -> None:
    runtime = outside / "jupyter" / "runtime"
    runtime.mkdir(parents=True)
    connection = runtime / "kernel-1234.json"
    connection.write_text(json.dumps({"key": SECRET, "signature_scheme": "hmac-sha256", "shell_port": 5555}))
    outcome = run(portal, worker, f"import glob\n[open(p).read() for p in glob.glob({str(runtime)!r} + '/*.json')]")
    assert SECRET not in str(outcome.result)
    assert refused(run(portal, worker, f"open({str(connection)!r}).read()"))


@pytest.mark.escape("secrets")
def test_dotfiles_in_a_home_are_unreadable(portal: BlockingPortal, worker: Sandbox, outside: Path) -> None:
    home = outside / "home"
    (home / ".ssh").mkdir(parents=True)
    (home / ".ssh" / "id_ed25519").write_text(SECRET)
    (home / ".netrc").write_text(f"machine example.test password {SECRET}")
    for name in (".ssh/id_ed25519", ".netrc"):
        outcome = run(portal, worker, f"open({str(home / name)!r}).read()")
        assert refused(outcome) and SECRET not in str(outcome.result)


# -- more files ---------------------------------------------------------------------------------


@pytest.mark.escape("files")
def test_a_read_only_grant_reads_but_cannot_be_changed(portal: BlockingPortal, worker: Sandbox, readonly: Path) -> None:
    data = readonly / "data.txt"
    assert run(portal, worker, f"open({str(data)!r}).read()").result == {"kind": "json", "value": "shared data"}
    for code in (f"open({str(data)!r}, 'a').write('x')", f"import os\nos.truncate({str(data)!r}, 0)",
                 f"import os\nos.unlink({str(data)!r})", f"import os\nos.rename({str(data)!r}, {str(data)!r} + '.2')",
                 f"open({str(readonly / 'new.txt')!r}, 'w')"):
        assert refused(run(portal, worker, code)), code
    assert data.read_text() == "shared data" and sorted(p.name for p in readonly.iterdir()) == ["data.txt"]


@pytest.mark.escape("files")
def test_files_outside_cannot_be_changed_deleted_or_chmodded(portal: BlockingPortal, worker: Sandbox, outside: Path) -> None:
    target = outside / "keep.txt"
    target.write_text("keep")
    target.chmod(0o644)
    for code in (f"import os\nos.chmod({str(target)!r}, 0o777)", f"import os\nos.unlink({str(target)!r})",
                 f"import os\nos.utime({str(target)!r}, (0, 0))"):
        assert refused(run(portal, worker, code)), code
    assert target.read_text() == "keep" and target.stat().st_mode & 0o777 == 0o644 and target.stat().st_mtime > 0


@pytest.mark.escape("files")
def test_a_library_file_of_the_interpreter_cannot_be_changed(portal: BlockingPortal, worker: Sandbox) -> None:
    import json as library

    path = library.__file__
    before = Path(path).read_bytes()
    assert refused(run(portal, worker, f"open({path!r}, 'ab').write(b'# planted')"))
    assert Path(path).read_bytes() == before


@pytest.mark.escape("files")
@pytest.mark.parametrize("place", ["/tmp", "/dev/shm", "/var/tmp"])
def test_shared_temporary_directories_are_closed(portal: BlockingPortal, worker: Sandbox, place: str) -> None:
    name = f"codemode-escape-{os.getpid()}"
    assert refused(run(portal, worker, f"open({place + '/' + name!r}, 'w').write('x')"))
    assert not os.path.exists(f"{place}/{name}")


@pytest.mark.escape("files")
def test_a_device_node_cannot_be_made_even_in_the_work_dir(portal: BlockingPortal, worker: Sandbox) -> None:
    code = "import os, stat\nos.mknod('mem', stat.S_IFCHR | 0o666, os.makedev(1, 1))"
    assert refused(run(portal, worker, code))
    assert not (worker.workdir / "mem").exists()


@pytest.mark.escape("files")
def test_a_symlink_the_host_left_in_the_work_dir_leads_nowhere(
    portal: BlockingPortal, worker: Sandbox, outside: Path
) -> None:
    (worker.workdir / "planted").symlink_to(outside)
    assert refused(run(portal, worker, "import os\nos.listdir('planted')"))
    assert refused(run(portal, worker, "open('planted/secret.txt').read()"))
    assert refused(run(portal, worker, "open('planted/new.txt', 'w')"))
    assert not (outside / "new.txt").exists()


# -- more processes ------------------------------------------------------------------------------

_SYSCALLS = {
    # name: (x86_64 number, aarch64 number, arguments, the errno the filter answers)
    "process_vm_readv": (310, 270, "PPID, 0, 0, 0, 0, 0", 1),
    "setns": (308, 268, "0, 0", 1),
    "mount": (165, 40, "0, 0, 0, 0, 0", 1),
    "io_uring_setup": (425, 425, "8, 0", 1),
    "bpf": (321, 280, "0, 0, 0", 1),
    "keyctl": (250, 219, "0, 0", 1),
    "userfaultfd": (323, 282, "0", 1),
    "perf_event_open": (298, 241, "0, 0, -1, -1, 0", 1),
    "kexec_load": (246, 104, "0, 0, 0, 0", 1),
    "init_module": (175, 105, "0, 0, 0", 1),
    "personality": (135, 92, "0xffffffff", 1),
    "setsid": (112, 157, "", 1),
    "socket via syscall": (41, 198, "2, 1, 0", 1),
    "ioctl TIOCSTI": (16, 29, "0, 0x5412, ctypes.c_char_p(b'x')", 1),
    "clone3": (435, 435, "0, 0", 38),
}


@pytest.mark.escape("processes")
@pytest.mark.parametrize("name", list(_SYSCALLS))
def test_a_raw_syscall_through_ctypes_is_refused(portal: BlockingPortal, worker: Sandbox, name: str) -> None:
    x86, arm, arguments, errno = _SYSCALLS[name]
    code = ("import ctypes, os\nlibc = ctypes.CDLL(None, use_errno=True)\nPPID = os.getppid()\n"
            f"nr = {x86} if os.uname().machine == 'x86_64' else {arm}\n"
            f"r = libc.syscall(nr, *[a if isinstance(a, ctypes.c_char_p) else ctypes.c_long(a) for a in [{arguments}]])\n"
            "[r, ctypes.get_errno()]")
    outcome = run(portal, worker, code)
    assert outcome.result == {"kind": "json", "value": [-1, errno]}


@pytest.mark.escape("processes")
def test_os_system_runs_nothing(portal: BlockingPortal, worker: Sandbox, outside: Path) -> None:
    outcome = run(portal, worker, f"import os\nos.system('touch {outside / 'system-ran'}')")
    assert outcome.ok and outcome.result is not None and outcome.result["value"] != 0
    assert not (outside / "system-ran").exists()


@pytest.mark.escape("processes")
def test_signals_to_another_process_and_the_hosts_group_fail(portal: BlockingPortal, worker: Sandbox) -> None:
    victim = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    try:
        assert refused(run(portal, worker, f"import os, signal\nos.kill({victim.pid}, signal.SIGKILL)"))
        assert refused(run(portal, worker, f"import os, signal\nos.killpg({os.getpgid(0)}, signal.SIGKILL)"))
        assert victim.poll() is None
    finally:
        victim.kill()
        victim.wait()


def _live_in_group(pgid: int, wait: float = 10.0) -> int:
    """How many live processes group `pgid` still holds once `wait` seconds have passed or
    it is empty (killed processes take a moment to become zombies)."""
    deadline = time.monotonic() + wait
    while (count := len(_proctable.members(pgid))) and time.monotonic() < deadline:
        time.sleep(0.05)  # polling the process table: there is no event to wait on
    return count


@pytest.mark.escape("processes")
def test_a_fork_bomb_is_stopped_and_leaves_no_process(portal: BlockingPortal, tmp_path: Path) -> None:
    box = Sandbox({"servers": {}, "sys_path": []}, workdir=tmp_path, allow_subprocess=True)
    try:
        portal.call(box.start)
        pid = box.pid
        assert pid is not None
        outcome = run_in(portal, box, "import os\nwhile True:\n    os.fork()")
        assert not outcome.ok and outcome.state_lost and "fork bomb" in (outcome.error or {}).get("message", "")
        assert not _live_in_group(pid)
        assert run_in(portal, box, "1 + 1").result == {"kind": "json", "value": 2}
    finally:
        portal.call(box.aclose)


@pytest.mark.escape("processes")
def test_a_double_forked_daemon_cannot_leave_and_dies_with_the_worker(portal: BlockingPortal, tmp_path: Path) -> None:
    box = Sandbox({"servers": {}, "sys_path": []}, workdir=tmp_path, allow_subprocess=True)
    try:
        portal.call(box.start)
        pid = box.pid
        assert pid is not None
        code = ("import os, time\nr, w = os.pipe()\nif os.fork() == 0:\n"
                "    try:\n        os.setsid()\n        escaped = b'1'\n    except OSError:\n        escaped = b'0'\n"
                "    if os.fork() == 0:\n        os.write(w, escaped + str(os.getpid()).encode())\n        time.sleep(600)\n"
                "    os._exit(0)\n"
                "answer = os.read(r, 64).decode()\n[answer[0], int(answer[1:])]")
        outcome = run_in(portal, box, code)
        assert outcome.ok, outcome.error
        escaped, grandchild = outcome.result["value"]  # type: ignore[index]
        assert escaped == "0"  # setsid is refused: it stays in the worker's group
        assert os.getpgid(host_pid(box, grandchild)) == pid
    finally:
        portal.call(box.aclose)
    assert not _live_in_group(pid)


# -- more network -------------------------------------------------------------------------------


@pytest.mark.escape("network")
def test_udp_to_a_loopback_listener_never_arrives(portal: BlockingPortal, worker: Sandbox) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as listener:
        listener.bind(("127.0.0.1", 0))
        port = listener.getsockname()[1]
        assert refused(run(portal, worker, f"import socket\nsocket.socket(socket.AF_INET, socket.SOCK_DGRAM)"
                                           f".sendto(b'leak', ('127.0.0.1', {port}))"))
        listener.setblocking(False)
        with pytest.raises(BlockingIOError):
            listener.recv(16)


@pytest.mark.escape("network")
def test_ipv6_to_a_loopback_listener_never_arrives(portal: BlockingPortal, worker: Sandbox) -> None:
    if not socket.has_ipv6:
        pytest.skip("no IPv6 on this host")
    try:
        listener = socket.create_server(("::1", 0), family=socket.AF_INET6)
    except OSError as exc:
        pytest.skip(f"no IPv6 loopback here: {exc}")
    with listener:
        port = listener.getsockname()[1]
        assert refused(run(portal, worker, f"import socket\nsocket.create_connection(('::1', {port}), timeout=2)"))
        listener.setblocking(False)
        with pytest.raises(BlockingIOError):
            listener.accept()


@pytest.mark.escape("network")
def test_a_unix_socket_listener_by_path_is_unreachable(portal: BlockingPortal, worker: Sandbox, outside: Path) -> None:
    path = str(outside / "host.sock")
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as listener:
        listener.bind(path)
        listener.listen()
        code = f"import socket\ns = socket.socket(socket.AF_UNIX)\ns.connect({path!r})"
        assert refused(run(portal, worker, code))
        listener.setblocking(False)
        with pytest.raises(BlockingIOError):
            listener.accept()


@pytest.mark.escape("network")
def test_an_abstract_unix_socket_listener_is_unreachable(portal: BlockingPortal, worker: Sandbox) -> None:
    name = f"\0codemode-escape-{os.getpid()}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as listener:
        listener.bind(name)
        listener.listen()
        assert refused(run(portal, worker, f"import socket\ns = socket.socket(socket.AF_UNIX)\ns.connect({name!r})"))
        listener.setblocking(False)
        with pytest.raises(BlockingIOError):
            listener.accept()


@pytest.mark.escape("network")
def test_http_to_a_loopback_server_never_arrives(portal: BlockingPortal, worker: Sandbox) -> None:
    with socket.create_server(("127.0.0.1", 0)) as listener:
        port = listener.getsockname()[1]
        outcome = run(portal, worker, f"import urllib.request\nurllib.request.urlopen('http://127.0.0.1:{port}/', timeout=2)")
        assert not outcome.ok
        listener.setblocking(False)
        with pytest.raises(BlockingIOError):
            listener.accept()


@pytest.mark.escape("network")
def test_socketpair_works_and_reaches_nothing_but_itself(portal: BlockingPortal, worker: Sandbox) -> None:
    code = ("import socket\na, b = socket.socketpair()\na.sendall(b'ping')\nreply = b.recv(4)\n"
            "try:\n    a.connect('\\0codemode-nowhere')\n    reached = True\nexcept OSError:\n    reached = False\n"
            "[reply.decode(), reached, a.family == socket.AF_UNIX]")
    assert run(portal, worker, code).result == {"kind": "json", "value": ["ping", False, True]}


# -- resources ------------------------------------------------------------------------------------


def host_pid(box: Sandbox, inner: int) -> int:
    """The host's pid of a process the cell names by its pid in the worker's PID namespace."""
    assert box.pid is not None
    found = _proctable.host_pid(box.pid, inner)
    assert found is not None, f"no process {inner} in the worker's group"
    return found


def run_in(portal: BlockingPortal, box: Sandbox, code: str, timeout: float = WAIT) -> CellOutcome:
    return portal.call(functools.partial(box.run, code, on_call=no_tools, on_stream=lambda *_: None, timeout=timeout))


@pytest.mark.escape("resources")
def test_a_swallowed_keyboard_interrupt_is_killed_after_the_grace(portal: BlockingPortal, tmp_path: Path) -> None:
    box = Sandbox({"servers": {}, "sys_path": []}, workdir=tmp_path)
    try:
        portal.call(box.start)
        run_in(portal, box, "kept = 1")
        code = ("import time\nwhile True:\n    try:\n        time.sleep(1)\n    except KeyboardInterrupt:\n"
                "        pass")
        outcome = run_in(portal, box, code, timeout=0.5)
        assert outcome.timed_out and outcome.state_lost
        assert (outcome.error or {}).get("code") == "TIMEOUT"
        assert run_in(portal, box, "'kept' in globals()").result == {"kind": "json", "value": False}
    finally:
        portal.call(box.aclose)


@pytest.mark.escape("resources")
def test_a_thread_bomb_stops_at_the_memory_limit_and_the_worker_lives(portal: BlockingPortal, tmp_path: Path) -> None:
    from codemode.sandbox import Limits

    box = Sandbox({"servers": {}, "sys_path": []}, workdir=tmp_path, limits=Limits(memory=512 * 1024**2))
    try:
        portal.call(box.start)
        code = ("import threading, time\nstarted = 0\ntry:\n    for _ in range(100_000):\n"
                "        threading.Thread(target=time.sleep, args=(30,), daemon=True).start()\n        started += 1\n"
                "except (RuntimeError, MemoryError) as exc:\n    failure = type(exc).__name__\nstarted < 100_000")
        outcome = run_in(portal, box, code)
        assert outcome.result == {"kind": "json", "value": True}, outcome.error
        assert run_in(portal, box, "failure").result is not None
    finally:
        portal.call(box.aclose)


@pytest.mark.escape("resources")
@pytest.mark.parametrize("stream", ["stdout", "stderr"])
def test_a_huge_stream_is_capped_on_the_host(demo_session: Any, stream: str) -> None:
    code = f"import sys\nfor _ in range(2000):\n    sys.{stream}.write('x' * 10_000 + '\\n')"
    report = demo_session.run(code, max_output=100_000)
    kept = getattr(report, stream)
    assert len(kept) < 100_000 + 200  # the head, the tail and a marker: not 20 MB
    assert report.output_dropped[stream] > 19_000_000


@pytest.mark.escape("resources")
def test_output_with_no_newline_is_capped_too(demo_session: Any) -> None:
    report = demo_session.run("import sys\nfor _ in range(1000):\n    sys.stdout.write('y' * 10_000)", max_output=50_000)
    assert len(report.stdout) < 50_000 + 200
    assert report.output_dropped["stdout"] == 10_000_000 - 50_000


# -- the channel ------------------------------------------------------------------------------------


def _forge(portal: BlockingPortal, box: Sandbox, body: bytes) -> CellOutcome:
    code = ("import sys, os, struct, time\nwfd = sys.modules['codemode.sandbox._api']._channel._wfd\n"
            f"body = {body!r}\nos.write(wfd, struct.pack('>I', len(body)) + body)\ntime.sleep(60)")
    return run_in(portal, box, code)


@pytest.mark.escape("channel")
@pytest.mark.parametrize("body", [
    pytest.param(b'{"op": "call", "id": 1, "server": "x", "tool": "y", "arguments": ' + b"[" * 200_000 + b"]" * 200_000
                 + b"}", id="deeply-nested-json"),
    pytest.param(b'{"op": "stream", "name": "stdout", "text": "\xff\xfe"}', id="invalid-utf8"),
    pytest.param(b'{"op": "result", "id": 1, "ok": true, "value": {"kind": "json", "value": 1}}', id="worker-sends-a-result"),
])
def test_a_hostile_frame_is_refused_and_the_host_lives(portal: BlockingPortal, tmp_path: Path, body: bytes) -> None:
    box = Sandbox({"servers": {}, "sys_path": []}, workdir=tmp_path)
    try:
        portal.call(box.start)
        outcome = _forge(portal, box, body)
        assert not outcome.ok and outcome.state_lost
        assert "bad frame" in (outcome.error or {}).get("message", "")
        assert run_in(portal, box, "2 + 2").result == {"kind": "json", "value": 4}
    finally:
        portal.call(box.aclose)


@pytest.mark.escape("channel")
def test_a_done_frame_for_another_cell_is_ignored(portal: BlockingPortal, tmp_path: Path) -> None:
    box = Sandbox({"servers": {}, "sys_path": []}, workdir=tmp_path)
    try:
        portal.call(box.start)
        body = b'{"op": "done", "id": 999, "ok": true, "result": {"kind": "json", "value": "forged"}}'
        code = ("import sys, os, struct, time\nwfd = sys.modules['codemode.sandbox._api']._channel._wfd\n"
                f"os.write(wfd, struct.pack('>I', {len(body)}) + {body!r})\ntime.sleep(0.3)\n'genuine'")
        assert run_in(portal, box, code).result == {"kind": "json", "value": "genuine"}
    finally:
        portal.call(box.aclose)


@pytest.mark.escape("channel")
def test_a_flood_of_calls_is_answered_and_the_host_stays_responsive(portal: BlockingPortal, tmp_path: Path) -> None:
    answered: list[int] = []

    async def count(request: CallRequest) -> dict[str, Any]:
        answered.append(request.id)
        return {"ok": False, "error": {"code": "UNKNOWN_TOOL", "message": "no"}}

    box = Sandbox({"servers": {}, "sys_path": []}, workdir=tmp_path)
    try:
        portal.call(box.start)
        code = ("import sys, asyncio\nchannel = sys.modules['codemode.sandbox._api']._channel\n"
                "async def one(i):\n    try:\n        await channel.acall('x', 'y', {'i': i})\n"
                "    except Exception as exc:\n        return type(exc).__name__\n"
                "results = await asyncio.gather(*(one(i) for i in range(5000)))\nlen(results)")
        outcome = portal.call(functools.partial(box.run, code, on_call=count, on_stream=lambda *_: None, timeout=WAIT))
        assert outcome.result == {"kind": "json", "value": 5000}
        assert len(answered) == 5000
    finally:
        portal.call(box.aclose)


@pytest.mark.escape("channel")
def test_forged_duplicate_request_ids_confuse_only_the_worker(portal: BlockingPortal, tmp_path: Path) -> None:
    box = Sandbox({"servers": {}, "sys_path": []}, workdir=tmp_path)
    try:
        portal.call(box.start)
        frame = b'{"op": "call", "id": 7, "server": "x", "tool": "y", "arguments": {}}'
        code = ("import sys, os, struct, time\nwfd = sys.modules['codemode.sandbox._api']._channel._wfd\n"
                f"for _ in range(3):\n    os.write(wfd, struct.pack('>I', {len(frame)}) + {frame!r})\n"
                "time.sleep(0.2)\n'still here'")
        outcome = run_in(portal, box, code)
        assert run_in(portal, box, "3 + 3").result == {"kind": "json", "value": 6}
        assert outcome.ok or outcome.state_lost
    finally:
        portal.call(box.aclose)
