"""The second wall, attempt by attempt: memory by every route, other processes, what can be
learned, native code from memory, and the host's trust of frames.

Each attempt runs as cell code in a real worker with every layer active (as root here) and
checks the host, not only the error: the victim process keeps its priority, the report stays
small and printable, the next cell works.
"""

from __future__ import annotations

import errno
import functools
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from anyio.from_thread import BlockingPortal

from codemode.sandbox import (
    CallRequest,
    CellOutcome,
    Limits,
    Sandbox,
    _landlock,
    _proctable,
    _watch,
)

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux") or _landlock.abi_version() < 6,
    reason="the second wall needs Linux with Landlock ABI 6 or later (and seccomp and namespaces)",
)

WAIT = 60.0
LIBC = "import ctypes, os\nlibc = ctypes.CDLL(None, use_errno=True)\nX86 = os.uname().machine == 'x86_64'\n"


async def no_tools(request: CallRequest) -> dict[str, Any]:
    return {"ok": False, "error": {"code": "UNKNOWN_TOOL", "message": "no tools here"}}


def _box(portal: BlockingPortal, workdir: Path, **options: Any) -> Iterator[Sandbox]:
    box = Sandbox({"servers": {}, "sys_path": []}, workdir=workdir, **options)
    portal.call(box.start)
    for layer in ("namespaces", "private root", "pid namespace", "landlock", "seccomp"):
        if not any(row["layer"] == layer and row["active"] for row in box.isolation):
            portal.call(box.aclose)
            pytest.skip(f"the {layer} layer is not available here")
    try:
        yield box
    finally:
        portal.call(box.aclose)


@pytest.fixture(scope="module")
def worker(portal: BlockingPortal, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    yield from _box(portal, tmp_path_factory.mktemp("wall"))


@pytest.fixture(scope="module")
def forker(portal: BlockingPortal, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    yield from _box(portal, tmp_path_factory.mktemp("wall-subprocess"), allow_subprocess=True)


@pytest.fixture
def victim() -> Iterator[subprocess.Popen[bytes]]:
    """A process outside the sandbox, of the same uid (root here), at the default priority."""
    process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    try:
        yield process
    finally:
        process.kill()
        process.wait()


def cell(portal: BlockingPortal, box: Sandbox, code: str) -> CellOutcome:
    """One cell, however it ends."""
    return portal.call(functools.partial(box.run, code, on_call=no_tools, on_stream=lambda *_: None, timeout=WAIT))


def run(portal: BlockingPortal, box: Sandbox, code: str) -> CellOutcome:
    outcome = cell(portal, box, code)
    after = cell(portal, box, "1 + 1")
    assert after.result == {"kind": "json", "value": 2}, "the worker must answer the next cell"
    return outcome


def value(outcome: CellOutcome) -> Any:
    assert outcome.ok and outcome.result is not None, outcome.error
    return outcome.result["value"]


def error_type(outcome: CellOutcome) -> str | None:
    return None if outcome.ok or outcome.error is None else outcome.error["type"]


# -- resources: memory by every route -------------------------------------------------------------


@pytest.mark.escape("resources")
def test_a_shared_anonymous_mapping_is_refused(portal: BlockingPortal, worker: Sandbox) -> None:
    assert error_type(run(portal, worker, "import mmap\nm = mmap.mmap(-1, 1 << 30)\nm[::4096] = b'x' * (1 << 18)")) \
        == "PermissionError"
    assert value(run(portal, worker, "import mmap\nlen(mmap.mmap(-1, 1 << 20, flags=mmap.MAP_PRIVATE))")) == 1 << 20


@pytest.mark.escape("resources")
def test_memfd_create_is_refused_so_no_memory_hides_outside_every_process(portal: BlockingPortal, worker: Sandbox) -> None:
    code = "import os\nfd = os.memfd_create('hoard')\nos.posix_fallocate(fd, 0, 1 << 30)"
    assert error_type(run(portal, worker, code)) == "PermissionError"


@pytest.mark.escape("resources")
@pytest.mark.parametrize(("name", "x86", "arm", "arguments"), [
    ("shmget", 29, 194, "0, 1 << 30, 0o1600"),  # IPC_PRIVATE, 1 GiB, IPC_CREAT | 0600
    ("msgget", 68, 186, "0, 0o1600"),
    ("semget", 64, 190, "0, 1, 0o1600"),
    ("mq_open", 240, 180, "ctypes.c_char_p(b'hoard'), 0o100 | 2, 0o600, 0"),
    ("mmap shared anonymous", 9, 222, "0, 1 << 30, 3, 0x21, -1, 0"),  # MAP_SHARED | MAP_ANONYMOUS
    ("mmap shared-validate anonymous", 9, 222, "0, 1 << 20, 3, 0x23, -1, 0"),
    ("memfd_secret", 447, 447, "0"),
])
def test_memory_outside_every_limit_cannot_be_made_through_raw_syscalls(
    portal: BlockingPortal, worker: Sandbox, name: str, x86: int, arm: int, arguments: str
) -> None:
    code = (LIBC + "libc.syscall.restype = ctypes.c_long\n"
            f"args = [a if isinstance(a, ctypes.c_char_p) else ctypes.c_long(a) for a in [{arguments}]]\n"
            f"r = libc.syscall({x86} if X86 else {arm}, *args)\n[r, ctypes.get_errno()]")
    assert value(run(portal, worker, code)) == [-1, 1]


# -- other processes ----------------------------------------------------------------------------------


@pytest.mark.escape("other-processes")
def test_only_the_worker_and_its_init_exist_for_it(portal: BlockingPortal, worker: Sandbox) -> None:
    # kill(2) takes a thread's id too: the worker's own threads (its stream flusher) are
    # itself, and left out.
    code = ("import os, threading\nown = {t.native_id for t in threading.enumerate()} - {os.getpid()}\n"
            "alive = []\nfor pid in range(1, 4096):\n    try:\n        os.kill(pid, 0)\n"
            "        alive.append(pid)\n    except ProcessLookupError:\n        pass\n    except PermissionError:\n"
            "        alive.append(pid)\n[os.getpid(), os.getppid(), [pid for pid in alive if pid not in own], bool(own)]")
    assert value(run(portal, worker, code)) == [2, 1, [1, 2], True]


@pytest.mark.escape("other-processes")
def test_another_process_cannot_be_reniced_pinned_or_descheduled(
    portal: BlockingPortal, worker: Sandbox, victim: subprocess.Popen[bytes]
) -> None:
    before = (os.getpriority(os.PRIO_PROCESS, victim.pid), os.sched_getaffinity(victim.pid),
              os.sched_getscheduler(victim.pid))
    for code in (f"import os\nos.setpriority(os.PRIO_PROCESS, {victim.pid}, 19)",
                 f"import os\nos.sched_setaffinity({victim.pid}, {{0}})",
                 f"import os\nos.sched_setscheduler({victim.pid}, os.SCHED_IDLE, os.sched_param(0))",
                 "import os\nos.setpriority(os.PRIO_PROCESS, 1, 19)",  # the namespace's init
                 "import os\nos.sched_setaffinity(1, {0})",
                 "import os\nos.sched_setscheduler(1, os.SCHED_IDLE, os.sched_param(0))"):
        assert error_type(run(portal, worker, code)) in ("PermissionError", "ProcessLookupError"), code
    assert (os.getpriority(os.PRIO_PROCESS, victim.pid), os.sched_getaffinity(victim.pid),
            os.sched_getscheduler(victim.pid)) == before


@pytest.mark.escape("other-processes")
@pytest.mark.parametrize("which", ["PRIO_USER", "PRIO_PGRP"])
def test_renicing_every_process_of_a_user_or_group_is_refused(portal: BlockingPortal, worker: Sandbox,
                                                               which: str) -> None:
    mine = os.getpriority(os.PRIO_PROCESS, 0)
    assert error_type(run(portal, worker, f"import os\nos.setpriority(os.{which}, 0, 19)")) == "PermissionError"
    assert os.getpriority(os.PRIO_PROCESS, 0) == mine
    assert worker.pid is not None and os.getpriority(os.PRIO_PROCESS, worker.pid) == 0


@pytest.mark.escape("other-processes")
def test_the_worker_may_still_lower_its_own_priority(portal: BlockingPortal, tmp_path: Path) -> None:
    for box in _box(portal, tmp_path):
        assert value(run(portal, box, "import os\nos.setpriority(os.PRIO_PROCESS, 0, 5)\nos.nice(0)")) == 5


@pytest.mark.escape("other-processes")
@pytest.mark.parametrize(("name", "x86", "arm", "arguments"), [
    ("ioprio_set of init", 251, 30, "1, 1, (3 << 13)"),  # IOPRIO_WHO_PROCESS, pid 1, IDLE class
    ("ioprio_set of the whole user", 251, 30, "3, 0, (3 << 13)"),  # IOPRIO_WHO_USER
    ("ioprio_set of the group", 251, 30, "2, 0, (3 << 13)"),  # IOPRIO_WHO_PGRP
    ("sched_setattr of init", 314, 274, "1, ctypes.create_string_buffer(56), 0"),
    ("sched_setparam of init", 142, 118, "1, ctypes.create_string_buffer(4)"),
    ("prlimit64 reading init's limits", 302, 261, "1, 7, 0, ctypes.create_string_buffer(16)"),
    ("migrate_pages", 256, 238, "1, 8, 0, 0"),
    ("kcmp", 312, 272, "1, 2, 0, 0, 0"),
])
def test_raw_scheduling_and_limits_calls_on_another_process_are_refused(
    portal: BlockingPortal, worker: Sandbox, name: str, x86: int, arm: int, arguments: str
) -> None:
    code = (LIBC + "libc.syscall.restype = ctypes.c_long\n"
            f"args = [a if not isinstance(a, int) else ctypes.c_long(a) for a in [{arguments}]]\n"
            f"r = libc.syscall({x86} if X86 else {arm}, *args)\n[r, ctypes.get_errno()]")
    assert value(run(portal, worker, code)) == [-1, 1]


@pytest.mark.escape("other-processes")
def test_the_worker_reads_its_own_limits_but_no_one_elses(portal: BlockingPortal, worker: Sandbox) -> None:
    code = "import resource\nresource.getrlimit(resource.RLIMIT_NOFILE)[0]"
    assert value(run(portal, worker, code)) == worker.limits.open_files
    assert error_type(run(portal, worker, "import resource\nresource.prlimit(1, resource.RLIMIT_NOFILE)")) \
        == "PermissionError"


# -- information -----------------------------------------------------------------------------------


@pytest.mark.escape("information")
def test_stat_learns_nothing_of_the_hosts_files(portal: BlockingPortal, worker: Sandbox) -> None:
    home = os.path.expanduser("~")
    code = ("import os\n[os.path.exists(p) for p in "
            f"['/etc/shadow', '/etc/passwd', {home + '/.ssh'!r}, {home + '/.bashrc'!r}, '/var', '/home', '/run']]")
    assert value(run(portal, worker, code)) == [False] * 7
    assert error_type(run(portal, worker, "import os\nos.stat('/etc/shadow')")) == "FileNotFoundError"


@pytest.mark.escape("information")
def test_the_root_holds_only_the_granted_trees(portal: BlockingPortal, worker: Sandbox) -> None:
    code = ("import os\n[os.path.exists(p) for p in ('/dev/null', '/dev/zero', '/dev/vda', '/dev/shm', '.', "
            "'/etc/localtime', '/etc/hostname', '/boot', '/srv', '/opt/../home')]")
    assert value(run(portal, worker, code)) == [True, False, False, False, True, True, False, False, False, False]


@pytest.mark.escape("information")
def test_proc_is_not_there(portal: BlockingPortal, worker: Sandbox) -> None:
    code = "import os\n[os.path.exists(p) for p in ('/proc/self', '/proc/1/fd', '/proc/meminfo', '/sys')]"
    assert value(run(portal, worker, code)) == [False] * 4


@pytest.mark.escape("information")
def test_name_to_handle_at_is_refused(portal: BlockingPortal, worker: Sandbox) -> None:
    code = (LIBC + "handle = ctypes.create_string_buffer(136)\nctypes.c_uint.from_buffer(handle).value = 128\n"
            "mount_id = ctypes.c_int()\n"
            "r = libc.syscall(303 if X86 else 264, -100, b'/usr', handle, ctypes.byref(mount_id), 0)\n"
            "[r, ctypes.get_errno()]")
    assert value(run(portal, worker, code)) == [-1, 1]


@pytest.mark.escape("information")
def test_the_granted_trees_are_read_only_at_the_mount_too(portal: BlockingPortal, worker: Sandbox) -> None:
    stdlib = os.path.dirname(os.__file__)
    outcome = run(portal, worker, f"open({stdlib + '/planted.py'!r}, 'w')")
    assert error_type(outcome) in ("PermissionError", "OSError")
    assert not os.path.exists(stdlib + "/planted.py")


# -- native code ----------------------------------------------------------------------------------


@pytest.mark.escape("native-code")
def test_a_program_from_the_read_only_trees_still_runs(portal: BlockingPortal, forker: Sandbox) -> None:
    assert value(run(portal, forker, "import subprocess\nsubprocess.run(['/bin/true']).returncode")) == 0


@pytest.mark.escape("native-code")
def test_a_program_written_to_memory_cannot_be_made(portal: BlockingPortal, forker: Sandbox) -> None:
    code = ("import os\nfd = os.memfd_create('x', 0)\nos.write(fd, open('/bin/true', 'rb').read())\n"
            "os.execv(f'/proc/self/fd/{fd}', ['x'])")
    assert error_type(run(portal, forker, code)) == "PermissionError"


@pytest.mark.escape("native-code")
def test_execveat_of_a_descriptor_is_refused(portal: BlockingPortal, forker: Sandbox) -> None:
    code = (LIBC + "open('copy', 'wb').write(open('/bin/true', 'rb').read())\n"
            "fd = os.open('copy', os.O_RDONLY)\nargv = (ctypes.c_char_p * 2)(b'copy', None)\n"
            "envp = (ctypes.c_char_p * 1)(None)\n"
            "r = libc.syscall(322 if X86 else 281, fd, b'', argv, envp, 0x1000)\n[r, ctypes.get_errno()]")
    assert value(run(portal, forker, code)) == [-1, 1]


@pytest.mark.escape("native-code")
def test_a_program_copied_into_the_work_dir_does_not_run(portal: BlockingPortal, forker: Sandbox) -> None:
    code = ("import os, subprocess\nopen('mine', 'wb').write(open('/bin/true', 'rb').read())\n"
            "subprocess.run(['./mine']).returncode")
    assert error_type(run(portal, forker, code)) == "PermissionError"


# -- the host's trust of frames --------------------------------------------------------------------

FORGE = ("import sys, os, struct, time\nwfd = sys.modules['codemode.sandbox._api']._channel._wfd\n"
         "def forge(body):\n    os.write(wfd, struct.pack('>I', len(body)) + body)\n")


@pytest.mark.escape("host-trust")
@pytest.mark.parametrize("body", [
    pytest.param(b'{"op": "done", "id": ID, "ok": true, "result": {"kind": "image", "mimeType": "image/png", "data": 5}}',
                 id="image-data-a-number"),
    pytest.param(b'{"op": "done", "id": ID, "ok": false, "error": {"type": "E", "message": "m", "traceback": ["a"]}}',
                 id="traceback-a-list"),
    pytest.param(b'{"op": "done", "id": ID, "ok": "yes"}', id="ok-a-string"),
    pytest.param(b'{"op": "done", "id": ID, "ok": true, "result": {"kind": "mystery"}}', id="unknown-result-kind"),
    pytest.param(b'{"op": "done", "id": ID, "ok": true, "result": [1, 2]}', id="result-a-list"),
    pytest.param(b'{"op": "call", "id": true, "server": "x", "tool": "y", "arguments": {}}', id="id-a-boolean"),
    pytest.param(b'{"op": "call", "id": 1, "server": "' + b"s" * 300 + b'", "tool": "y", "arguments": {}}',
                 id="a-name-too-long"),
    pytest.param(b'{"op": "call", "id": 1, "server": "x", "tool": "y", "arguments": {"a": ' + b"[" * 150
                 + b"]" * 150 + b"}}", id="nested-too-deep"),
    pytest.param(b'{"op": "setup_done", "isolation": [{"layer": 1}]}', id="isolation-rows-malformed"),
])
def test_a_frame_of_the_wrong_shape_stops_the_worker_and_the_host_lives(
    portal: BlockingPortal, tmp_path: Path, body: bytes
) -> None:
    for box in _box(portal, tmp_path):
        code = FORGE + f"forge({body!r}.replace(b'ID', str({box._cell_ids + 1}).encode()))\ntime.sleep(30)"
        outcome = cell(portal, box, code)
        assert not outcome.ok and outcome.state_lost and "bad frame" in (outcome.error or {}).get("message", "")
        assert value(run(portal, box, "3")) == 3


@pytest.mark.escape("host-trust")
def test_a_forged_done_ends_the_cell_but_the_code_runs_no_further(portal: BlockingPortal, tmp_path: Path) -> None:
    # The code writes `done` itself and goes on burning CPU and writing past --disk. The host
    # pauses the worker's group as it reads the frame: the code runs again only inside the
    # next cell, under that cell's watch (which stops it at the disk bound).
    done = b'{"op": "done", "id": ID, "ok": true, "result": {"kind": "json", "value": "forged"}}'
    for box in _box(portal, tmp_path, limits=Limits(disk=20 << 20)):
        code = (FORGE + f"forge({done!r}.replace(b'ID', str({box._cell_ids + 1}).encode()))\n"
                "n = 0\nwhile True:\n    open(f'fill{n}', 'wb').write(b'x' * (1 << 20))\n    n += 1\n")
        outcome = cell(portal, box, code)
        assert outcome.ok and value(outcome) == "forged"
        assert box.pid is not None and box.worker_pid is not None
        assert _state(box.worker_pid, "T") == "T"
        guard = box._guard
        assert guard is not None and _state(guard, "S") == "S"  # the guard watches on
        size, before = _watch.workdir_size(tmp_path), _group_cpu(box)
        time.sleep(0.5)  # a running loop would write hundreds of MiB and use half a CPU second here
        assert _watch.workdir_size(tmp_path) == size and _group_cpu(box) - before < 0.05
        after = cell(portal, box, "'next'")  # thawed: the loop goes on, inside this cell's watch
        assert not after.ok and (after.error or {}).get("code") == "DISK", after.error
        assert value(run(portal, box, "3")) == 3


@pytest.mark.escape("host-trust")
def test_a_lone_surrogate_in_a_stream_reaches_the_report_as_a_replacement(demo_session: Any) -> None:
    body = json.dumps({"op": "stream", "name": "stdout", "text": "hi \ud800 there"}).encode()
    report = demo_session.run(FORGE + f"forge({body!r})\ntime.sleep(0.2)\n'after'")
    assert report.ok and report.value == "after"
    assert "hi \ufffd there" in report.stdout
    repr(report).encode("utf-8")  # printable, whatever the terminal's encoding allows


@pytest.mark.escape("host-trust")
def test_codemode_exec_prints_a_surrogate_without_crashing(tmp_path: Path) -> None:
    body = json.dumps({"op": "stream", "name": "stdout", "text": "hi \ud800\n"}).encode()
    code = FORGE + f"forge({body!r})\ntime.sleep(0.2)\nprint('next line')"
    src = str(Path(__file__).resolve().parents[2] / "src")
    done = subprocess.run([sys.executable, "-m", "codemode", "exec", "-c", code], capture_output=True,
                          env={**os.environ, "PYTHONPATH": src, "PYTHONIOENCODING": "ascii"}, timeout=120,
                          cwd=tmp_path)
    assert done.returncode == 0, done.stderr.decode(errors="replace")
    assert b"hi " in done.stdout and b"next line" in done.stdout


@pytest.mark.escape("host-trust")
def test_terminal_escapes_in_forged_names_and_output_are_shown_not_obeyed(demo_session: Any) -> None:
    code = ("import sys\nchannel = sys.modules['codemode.sandbox._api']._channel\n"
            "try:\n    channel.call('demo\\x1b[1A\\x1b[2K', 'x\\rok \\u00b7 0 tool calls', {})\n"
            "except Exception as exc:\n    print('refused', exc.code)\n"
            "print('\\x1b]0;title\\x07\\x1b[2Jcleared?\\u202eevil')")
    report = demo_session.run(code)
    text = repr(report)
    assert "\x1b" not in text and "\r" not in text and "\x07" not in text and "\u202e" not in text
    assert "\\x1b[1A" in text and "\\x0d" in text and "\\u202e" in text
    assert report.calls[0].error_code == "UNKNOWN_TOOL"


@pytest.mark.escape("host-trust")
def test_huge_arguments_leave_only_a_bounded_preview_on_the_host(demo_session: Any) -> None:
    code = ("big = 'A' * (1 << 20)\nfor _ in range(12):\n    try:\n        demo.read_note(name=big)\n"
            "    except ToolError:\n        pass\n'done'")
    report = demo_session.run(code)
    assert report.value == "done" and len(report.calls) == 12
    for call in report.calls:
        assert len(json.dumps(call.arguments)) < 1000 and "1,048,576 characters" in call.arguments["name"]
    assert len(json.dumps(report.payload())) < 50_000 and len(repr(report)) < 50_000


@pytest.mark.escape("host-trust")
def test_refused_calls_past_the_cap_are_counted_not_kept(demo_session: Any) -> None:
    code = ("import sys\nchannel = sys.modules['codemode.sandbox._api']._channel\nrefused = 0\n"
            "for i in range(400):\n    try:\n        channel.call('nowhere', 'x', {'i': i})\n"
            "    except Exception:\n        refused += 1\nrefused")
    report = demo_session.run(code)
    assert report.value == 400
    assert len(report.calls) == 100 and report.refused_dropped == 300
    assert report.payload()["refusedCallsDropped"] == 300 and "300 more refused calls" in repr(report)


@pytest.mark.escape("host-trust")
def test_null_is_refused_where_the_schema_does_not_allow_it(demo_session: Any) -> None:
    code = ("import sys\nchannel = sys.modules['codemode.sandbox._api']._channel\n"
            "try:\n    channel.call('demo', 'list_orders', {'limit': None})\nexcept Exception as exc:\n"
            "    code = exc.code\ncode")
    assert demo_session.run(code).value == "INVALID_ARGUMENTS"
    assert demo_session.run("len(demo.list_orders(status=None, limit=2))").value == 2  # nullable: fine


@pytest.mark.escape("host-trust")
def test_search_lists_only_the_tools_the_run_may_call(demo_session: Any) -> None:
    found = demo_session.run("codemode.search('order', detail='names', limit=50)", tools=["demo.get_order"]).value
    assert found.split() == ["demo.get_order"]
    assert "demo.cancel_order" in demo_session.run("codemode.search('order', detail='names', limit=50)").value


# -- resources: CPU only inside a cell, and the work dir's total --------------------------------------


def _group_cpu(box: Sandbox) -> float:
    assert box.pid is not None
    return _proctable.cpu_seconds(box.pid)


def _state(pid: int, wanted: str, wait: float = 5.0) -> str:
    """The process's state once it is `wanted` or `wait` seconds have passed (a signal takes
    effect asynchronously; there is no event to wait on)."""
    deadline = time.monotonic() + wait
    while (state := Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]) != wanted:
        if time.monotonic() > deadline:
            break
        time.sleep(0.01)
    return state


HASHERS = ("import hashlib, threading\ndef spin():\n    while True:\n        hashlib.sha256(b'x' * 1000).digest()\n"
           "for _ in range(2):\n    threading.Thread(target=spin, daemon=True).start()\n")


@pytest.mark.escape("resources")
def test_threads_a_cell_leaves_running_are_stopped_when_it_ends(portal: BlockingPortal, tmp_path: Path) -> None:
    for box in _box(portal, tmp_path):
        outcome = cell(portal, box, HASHERS + "'started'")
        assert outcome.ok and outcome.threads is not None and len(outcome.threads["stopped"]) == 2
        assert any("were stopped" in notice for notice in outcome.notices)
        left = "import threading\n[t.name for t in threading.enumerate() if t is not threading.main_thread()]"
        assert value(run(portal, box, left)) == ["codemode-stream-flush"]  # the worker's own
        before = _group_cpu(box)
        time.sleep(0.5)  # two spinning threads would use about a CPU second here
        assert _group_cpu(box) - before < 0.2


@pytest.mark.escape("resources")
def test_a_thread_that_will_not_stop_is_paused_until_the_next_cell(portal: BlockingPortal, tmp_path: Path) -> None:
    # C code without the GIL for many seconds per call (PBKDF2 releases the GIL for all its rounds),
    # however fast the machine: no Python instruction to stop at while the cell ends.
    code = ("import hashlib, threading, time\ndef spin():\n    while True:\n"
            "        hashlib.pbkdf2_hmac('sha256', b'x', b'y', 50_000_000)\n"
            "threading.Thread(target=spin, name='stubborn', daemon=True).start()\ntime.sleep(0.2)\n'started'")
    for box in _box(portal, tmp_path):
        outcome = cell(portal, box, code)
        assert outcome.ok and outcome.threads is not None and outcome.threads["running"] == ["stubborn"]
        assert any("paused" in notice for notice in outcome.notices)
        worker = box.worker_pid
        assert worker is not None and _state(worker, "T") == "T"
        before = _group_cpu(box)
        time.sleep(0.5)
        assert _group_cpu(box) - before < 0.05
        after = cell(portal, box, "import threading\nthreading.active_count()")
        assert after.ok  # thawed for the cell; the pending SystemExit ends the thread once it runs


@pytest.mark.escape("resources")
def test_an_idle_thread_pool_is_left_alone_paused_between_cells_and_works_in_the_next(
    portal: BlockingPortal, tmp_path: Path
) -> None:
    for box in _box(portal, tmp_path):
        first = portal.call(functools.partial(
            box.run, "from concurrent.futures import ThreadPoolExecutor\npool = ThreadPoolExecutor(2)\n"
                     "pool.submit(sum, [1, 2]).result()", on_call=no_tools, on_stream=lambda *_: None, timeout=WAIT))
        assert first.ok and first.threads is not None and first.threads["idle"] and not first.threads["stopped"]
        worker = box.worker_pid
        assert worker is not None and _state(worker, "T") == "T"  # paused: an idle thread may wake
        assert value(run(portal, box, "pool.submit(sum, [3, 4]).result()")) == 7
        assert value(run(portal, box, "import asyncio\nawait asyncio.to_thread(sum, [5, 6])")) == 11


@pytest.mark.escape("resources")
def test_a_cell_past_its_cpu_budget_is_stopped(portal: BlockingPortal, tmp_path: Path) -> None:
    code = HASHERS + "import time\nwhile True:\n    time.sleep(0.05)"
    for box in _box(portal, tmp_path, limits=Limits(cell_cpu_seconds=1)):
        outcome = cell(portal, box, code)
        assert not outcome.ok and outcome.state_lost and (outcome.error or {}).get("code") == "CPU_LIMIT"
        assert value(run(portal, box, "2")) == 2


@pytest.mark.escape("resources")
def test_files_past_the_disk_bound_end_the_cell_with_disk(portal: BlockingPortal, tmp_path: Path) -> None:
    code = "for n in range(3):\n    open(f'part{n}', 'wb').write(b'x' * (30 << 20))"
    for box in _box(portal, tmp_path, limits=Limits(disk=50 << 20)):
        outcome = cell(portal, box, code)
        # At the cell's end (the worker lives on), or caught while writing (it is stopped).
        assert not outcome.ok and (outcome.error or {}).get("code") == "DISK", outcome.error
        assert value(run(portal, box, "import glob, os\nfor p in glob.glob('part*'):\n    os.remove(p)\n'cleared'")) \
            == "cleared"


@pytest.mark.escape("resources")
def test_a_disk_filler_is_stopped_while_it_runs(portal: BlockingPortal, tmp_path: Path) -> None:
    code = "n = 0\nwhile True:\n    open(f'fill{n}', 'wb').write(b'x' * (8 << 20))\n    n += 1"
    for box in _box(portal, tmp_path, limits=Limits(disk=64 << 20)):
        outcome = cell(portal, box, code)
        assert not outcome.ok and outcome.state_lost and (outcome.error or {}).get("code") == "DISK"
        assert _watch.workdir_size(tmp_path) < 1 << 30  # stopped within a tick, not at the disk's end
        assert value(run(portal, box, "1")) == 1


FALLOCATE = """
import os
made, err = 0, None
try:
    for n in range(10):
        fd = os.open(f'f{n}', os.O_CREAT | os.O_WRONLY)
        try:
            os.posix_fallocate(fd, 0, 99 << 20)
        finally:
            os.close(fd)
        made += 1
except OSError as exc:
    err = exc.errno
made, err
"""


@pytest.mark.escape("resources")
def test_a_private_work_dir_allocates_no_more_than_its_bound_by_any_route(portal: BlockingPortal) -> None:
    # fallocate allocates without writing, faster than any watcher looks; empty files cost
    # inodes, not bytes; hard links and sparse files are other routes. The private work dir
    # is a tmpfs of the worker's own, of --disk's size and `entries` inodes: ENOSPC at the bound.
    box = Sandbox({"servers": {}, "sys_path": []}, limits=Limits(disk=100 << 20, entries=1000))
    try:
        portal.call(box.start)
        if not box.disk_quota:
            pytest.skip("the private root (and so the work dir's own tmpfs) is not available here")
        assert value(run(portal, box, FALLOCATE)) == [1, errno.ENOSPC]  # 99 MiB, then nothing more
        # A sparse file allocates nothing (and is no larger than the bound: RLIMIT_FSIZE);
        # each hard link takes an inode of the tmpfs, so links end at the entry bound.
        links = ("import os\nos.truncate('sparse', 99 << 20)\nn = 0\ntry:\n    while True:\n"
                 "        os.link('f0', f'link{n}')\n        n += 1\nexcept OSError as exc:\n    err = exc.errno\n"
                 "for i in range(n):\n    os.remove(f'link{i}')\n[n < 1000, err]")
        assert value(run(portal, box, "open('sparse', 'w').close()\n" + links)) == [True, errno.ENOSPC]
        outcome = cell(portal, box, "for i in range(5000):\n    open(f'empty{i}', 'w').close()")
        assert not outcome.ok and (outcome.error or {}).get("code") == "DISK", outcome.error
        seen = os.statvfs(box.files_path)  # the host's view of the worker's own tmpfs
        assert (seen.f_blocks - seen.f_bfree) * seen.f_frsize <= 100 << 20 and seen.f_files == 1000
        assert len(os.listdir(box.files_path)) < 1000
        assert value(run(portal, box, "3")) == 3  # the worker lives on
        assert any(row["layer"] == "disk" and "tmpfs of the worker's own" in row["detail"] for row in box.isolation)
    finally:
        portal.call(box.aclose)


@pytest.mark.escape("resources")
def test_empty_files_in_a_given_work_dir_count_against_its_entries(portal: BlockingPortal, tmp_path: Path) -> None:
    # A work dir the user gives cannot be a tmpfs: the host counts its entries (off its loop).
    for box in _box(portal, tmp_path, limits=Limits(disk=50 << 20, entries=500)):
        outcome = cell(portal, box, "for i in range(2000):\n    open(f'empty{i}', 'w').close()")
        assert not outcome.ok and (outcome.error or {}).get("code") == "DISK", outcome.error
        assert "entries" in (outcome.error or {})["message"]


@pytest.mark.escape("resources")
def test_fallocate_is_refused_where_a_disk_bound_is_counted(portal: BlockingPortal, tmp_path: Path) -> None:
    # fallocate allocated 10 x 99 MiB against a 100 MiB bound in 40 ms, far under a watcher's
    # tick. It gets EOPNOTSUPP (glibc's posix_fallocate then writes each block: write speed).
    code = (LIBC + "fd = os.open('big', os.O_CREAT | os.O_WRONLY)\n"
            "r = libc.fallocate(fd, 0, ctypes.c_long(0), ctypes.c_long(99 << 20))\n"
            "[r, ctypes.get_errno(), os.fstat(fd).st_blocks]")
    for box in _box(portal, tmp_path, limits=Limits(disk=100 << 20)):
        assert value(run(portal, box, code)) == [-1, errno.EOPNOTSUPP, 0]
        assert any(row["layer"] == "seccomp" and "no fallocate" in row["detail"] for row in box.isolation)


@pytest.mark.escape("resources")
def test_one_file_cannot_be_larger_than_the_disk_bound(portal: BlockingPortal, tmp_path: Path) -> None:
    for box in _box(portal, tmp_path, limits=Limits(disk=32 << 20)):
        outcome = run(portal, box, "open('big', 'wb').write(b'x' * (64 << 20))")
        assert error_type(outcome) == "OSError" and "File too large" in (outcome.error or {})["message"]
        assert (tmp_path / "big").stat().st_size <= 32 << 20


@pytest.mark.escape("resources")
def test_the_disk_option_reaches_the_worker_from_the_config_and_the_flag() -> None:
    from codemode.config import demo_config
    from codemode.engine import Session
    from codemode.errors import CodemodeError

    with Session(demo_config().model_copy(update={"disk_mb": 30})) as session:
        assert session.sandbox_options.disk_mb == 30
        options = session.sandbox_options.with_flags(disk="40M")
        assert options.disk_mb == 40
        with pytest.raises(CodemodeError):
            session.sandbox_options.with_flags(disk="lots")
        report = session.run("for n in range(3):\n    open(f'p{n}', 'wb').write(b'x' * (20 << 20))", sandbox=options)
        assert not report.ok and report.error is not None and report.error["code"] == "DISK"
        assert any(row["layer"] == "disk" and "40 MiB" in row["detail"] for row in report.isolation)


def _ids(pid: int) -> dict[str, str]:
    """The Uid, Gid, Groups and CapEff lines of a process, as the host sees them."""
    lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    return {line.split(":")[0]: " ".join(line.split()[1:]) for line in lines
            if line.startswith(("Uid:", "Gid:", "Groups:", "CapEff:"))}


@pytest.mark.escape("files")
@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0, reason="a worker drops root only when the host runs as root")
def test_a_root_host_runs_its_worker_as_an_unprivileged_user(portal: BlockingPortal, tmp_path: Path) -> None:
    # In the cell a user namespace shows 65534 for an unmapped root too: the host's view is the evidence.
    code = ("import os, decimal, json\nopen('mine', 'w').write('x')\n"
            "[os.getuid(), os.getgid(), os.getgroups(), open('mine').read()]")
    given = tmp_path / "given"
    given.mkdir()
    os.chown(given, 1234, 1234)
    for workdir, ids in ((None, 65534), (given, 1234)):
        box = Sandbox({"servers": {}, "sys_path": []}, workdir=workdir)
        try:
            portal.call(box.start)
            if not any(row["layer"] == "private root" and row["active"] for row in box.isolation):
                pytest.skip("the private root is not available here")
            assert value(run(portal, box, code))[1:] == [ids, [], "x"]
            assert box.worker_pid is not None and box.pid is not None
            for pid in (box.worker_pid, box.pid):  # the worker, and the supervisor the host started
                assert _ids(pid) == {"Uid": f"{ids} {ids} {ids} {ids}", "Gid": f"{ids} {ids} {ids} {ids}",
                                     "Groups": "", "CapEff": "0000000000000000"}
            assert any(row["layer"] == "unprivileged user" and row["active"] and f"uid {ids}" in row["detail"]
                       for row in box.isolation)
        finally:
            portal.call(box.aclose)
    assert (given / "mine").stat().st_uid == 1234  # a work dir the user gave keeps its owner
    for box in _box(portal, tmp_path):  # root's own work dir: the worker must write it, and the report says why not
        row = next(row for row in box.isolation if row["layer"] == "unprivileged user")
        assert not row["active"] and "belongs to root" in row["detail"]


@pytest.mark.parametrize(("root", "pid"), [(False, False), (True, False), (False, True)])
def test_each_namespace_layer_works_alone_and_root_keeps_no_hold_on_files(
    portal: BlockingPortal, tmp_path: Path, root: bool, pid: bool
) -> None:
    class Partial(Sandbox):
        def _confine_spec(self) -> dict[str, Any]:
            return {**super()._confine_spec(), "private_root": root, "pid_namespace": pid}

    box = Partial({"servers": {}, "sys_path": []}, workdir=tmp_path)
    portal.call(box.start)
    try:
        rows = {row["layer"]: row["active"] for row in box.isolation}
        if not rows.get("namespaces"):
            pytest.skip("user namespaces are not available here")
        assert rows["private root"] is root and rows["pid namespace"] is pid
        assert value(run(portal, box, "import os\nos.getuid()")) == 65534  # no id mapped for the cells
    finally:
        portal.call(box.aclose)


@pytest.mark.escape("resources")
def test_a_work_dir_in_memory_shares_the_memory_bound(portal: BlockingPortal) -> None:
    if not os.path.isdir("/dev/shm") or not _watch.in_memory(Path("/dev/shm")):
        pytest.skip("no tmpfs at /dev/shm")
    import tempfile

    place = Path(tempfile.mkdtemp(prefix="codemode-wall-", dir="/dev/shm"))
    try:
        for box in _box(portal, place, limits=Limits(memory=512 << 20, disk=1 << 30)):
            assert box.limits.memory == 256 << 20 and box.limits.disk == 256 << 20
            assert value(run(portal, box, "import resource\nresource.getrlimit(resource.RLIMIT_DATA)[0]")) == 256 << 20
            outcome = portal.call(functools.partial(
                box.run, "for n in range(4):\n    open(f'm{n}', 'wb').write(b'x' * (100 << 20))",
                on_call=no_tools, on_stream=lambda *_: None, timeout=WAIT))
            assert (outcome.error or {}).get("code") == "DISK"
            assert _watch.workdir_size(place) < 512 << 20
    finally:
        import shutil

        shutil.rmtree(place, ignore_errors=True)
