"""Landlock through our ctypes binding, each test in a fresh `python -I -S` child.

Landlock is irreversible for a process, so every test starts a child that restricts itself
(the interpreter's stdlib and our src dir read-only, one tmp dir read-write), tries things,
and prints what happened as JSON. The tests assert on that and on the host's side effects:
a file the child tried to make outside must not exist afterwards.
"""

from __future__ import annotations

import errno
import json
import os
import socket
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

import codemode
from codemode.sandbox import _landlock

SRC = str(Path(codemode.__file__).resolve().parent.parent)
WAIT = 30.0
"""Seconds a child may take before the test gives up: generous, never reached."""
ABI = _landlock.abi_version()  # only asks the kernel; restricts nothing in this process

pytestmark = pytest.mark.skipif(ABI == 0, reason="Landlock is unavailable on this kernel (ABI 0)")

PRELUDE = """
import json, os, socket, sys, sysconfig
cfg = json.loads(sys.argv[1])
sys.path.insert(0, cfg["src"])
from codemode.sandbox import _landlock
results = {}
def attempt(name, action):
    try:
        value = action()
    except OSError as exc:
        results[name] = {"error": type(exc).__name__, "errno": exc.errno}
    else:
        results[name] = {"ok": True, "value": value}
paths = sysconfig.get_paths()
report = _landlock.restrict(
    read_only=[paths["stdlib"], paths["platstdlib"], cfg["src"]] + cfg["extra_read_only"],
    read_write=[cfg["rw"]],
    allow_execute=cfg["allow_execute"],
    deny_tcp=cfg["deny_tcp"],
)
results["report"] = report.as_dict()
"""


@pytest.fixture
def dirs(tmp_path: Path) -> dict[str, Path]:
    """A read-write dir for the child, a secret dir it must not see, and an outside dir."""
    made = {name: tmp_path / name for name in ("rw", "secret", "outside")}
    for path in made.values():
        path.mkdir()
    (made["secret"] / "token.txt").write_text("hunter2")
    return made


def run_child(body: str, dirs: dict[str, Path], *, extra_read_only: list[str] | None = None,
              allow_execute: list[str] | None = None, deny_tcp: bool = True, **extra: Any) -> dict[str, Any]:
    """Run PRELUDE + body in a fresh restricted child; return its results dict."""
    cfg = {"src": SRC, "rw": str(dirs["rw"]), "secret": str(dirs["secret"] / "token.txt"),
           "outside": str(dirs["outside"]), "extra_read_only": extra_read_only or [],
           "allow_execute": allow_execute or [], "deny_tcp": deny_tcp, **extra}
    script = PRELUDE + textwrap.dedent(body) + "\nprint(json.dumps(results))\n"
    done = subprocess.run([sys.executable, "-I", "-S", "-c", script, json.dumps(cfg)],
                          capture_output=True, text=True, timeout=WAIT, stdin=subprocess.DEVNULL)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def refused(result: dict[str, Any], *codes: int) -> bool:
    return result.get("errno") in (codes or (errno.EACCES, errno.EPERM))


def test_the_kernel_reports_a_landlock_abi() -> None:
    assert ABI >= 1


def test_restrict_reports_every_layer_enforced(dirs: dict[str, Path]) -> None:
    report = run_child("", dirs)["report"]
    assert report == {"abi": ABI, "filesystem": True, "tcp": ABI >= 4, "scoped": ABI >= 6, "skipped": []}


def test_paths_that_do_not_exist_are_skipped_and_reported(dirs: dict[str, Path]) -> None:
    missing = str(dirs["outside"] / "nope")
    results = run_child("attempt('listing', lambda: os.listdir(cfg['rw']))", dirs, extra_read_only=[missing, ""])
    assert results["report"]["skipped"] == [missing, ""]
    assert results["listing"] == {"ok": True, "value": []}


def test_reading_etc_passwd_is_refused(dirs: dict[str, Path]) -> None:
    results = run_child("attempt('read', lambda: open('/etc/passwd').read())", dirs)
    assert results["read"]["error"] == "PermissionError"


def test_reading_a_secret_in_another_dir_is_refused(dirs: dict[str, Path]) -> None:
    results = run_child("""
        attempt('read', lambda: open(cfg['secret']).read())
        attempt('list', lambda: os.listdir(os.path.dirname(cfg['secret'])))
    """, dirs)
    assert results["read"]["error"] == "PermissionError"
    assert results["list"]["error"] == "PermissionError"


def test_writing_outside_is_refused_and_creates_nothing(dirs: dict[str, Path]) -> None:
    results = run_child("""
        attempt('write', lambda: open(os.path.join(cfg['outside'], 'x.txt'), 'w').write('x'))
        attempt('mkdir', lambda: os.mkdir(os.path.join(cfg['outside'], 'd')))
        attempt('overwrite', lambda: open(cfg['secret'], 'w').write('x'))
    """, dirs)
    assert all(results[name]["error"] == "PermissionError" for name in ("write", "mkdir", "overwrite"))
    assert list(dirs["outside"].iterdir()) == []
    assert (dirs["secret"] / "token.txt").read_text() == "hunter2"


def test_writing_and_reading_inside_the_work_dir_works(dirs: dict[str, Path]) -> None:
    results = run_child("""
        def round_trip():
            path = os.path.join(cfg['rw'], 'sub', 'note.txt')
            os.makedirs(os.path.dirname(path))
            with open(path, 'w') as f:
                f.write('hello')
            os.truncate(path, 4)
            os.rename(path, path + '.bak')
            return open(path + '.bak').read()
        attempt('round_trip', round_trip)
    """, dirs)
    assert results["round_trip"] == {"ok": True, "value": "hell"}
    assert (dirs["rw"] / "sub" / "note.txt.bak").read_text() == "hell"


def test_a_symlink_inside_to_the_secret_cannot_be_read(dirs: dict[str, Path]) -> None:
    (dirs["rw"] / "link").symlink_to(dirs["secret"] / "token.txt")
    results = run_child("""
        attempt('via_host_link', lambda: open(os.path.join(cfg['rw'], 'link')).read())
        os.symlink(cfg['secret'], os.path.join(cfg['rw'], 'own_link'))
        attempt('via_own_link', lambda: open(os.path.join(cfg['rw'], 'own_link')).read())
    """, dirs)
    assert results["via_host_link"]["error"] == "PermissionError"
    assert results["via_own_link"]["error"] == "PermissionError"


def test_renaming_a_file_out_of_the_work_dir_is_refused(dirs: dict[str, Path]) -> None:
    (dirs["rw"] / "data.txt").write_text("data")
    results = run_child(
        "attempt('rename', lambda: os.rename(os.path.join(cfg['rw'], 'data.txt'),"
        " os.path.join(cfg['outside'], 'data.txt')))", dirs)
    assert refused(results["rename"], errno.EACCES, errno.EPERM, errno.EXDEV)
    assert (dirs["rw"] / "data.txt").read_text() == "data"
    assert list(dirs["outside"].iterdir()) == []


def test_hard_linking_out_of_the_work_dir_is_refused(dirs: dict[str, Path]) -> None:
    (dirs["rw"] / "data.txt").write_text("data")
    results = run_child("""
        attempt('link_out', lambda: os.link(os.path.join(cfg['rw'], 'data.txt'),
                                            os.path.join(cfg['outside'], 'data.txt')))
        attempt('link_secret_in', lambda: os.link(cfg['secret'], os.path.join(cfg['rw'], 'stolen')))
    """, dirs)
    assert refused(results["link_out"], errno.EACCES, errno.EPERM, errno.EXDEV)
    assert refused(results["link_secret_in"], errno.EACCES, errno.EPERM, errno.EXDEV)
    assert list(dirs["outside"].iterdir()) == []
    assert not (dirs["rw"] / "stolen").exists()


def test_executing_a_program_is_refused(dirs: dict[str, Path]) -> None:
    # If exec succeeded, the child would become /bin/true and print nothing: JSON would fail.
    results = run_child("attempt('exec', lambda: os.execv('/bin/true', ['true']))", dirs)
    assert results["exec"]["error"] == "PermissionError"


@pytest.mark.skipif(ABI < 4, reason=f"TCP rules need Landlock ABI 4; this kernel has {ABI}")
def test_tcp_connect_and_bind_are_refused(dirs: dict[str, Path]) -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        listener.setblocking(False)
        results = run_child("""
            def connect():
                with socket.create_connection(('127.0.0.1', cfg['port']), timeout=5):
                    return 'connected'
            def bind():
                with socket.socket() as s:
                    s.bind(('127.0.0.1', 0))
                    return s.getsockname()[1]
            attempt('connect', connect)
            attempt('bind', bind)
        """, dirs, port=listener.getsockname()[1])
        with pytest.raises(BlockingIOError):  # nothing ever reached the listener
            listener.accept()
    assert results["connect"]["error"] == "PermissionError"
    assert results["bind"]["error"] == "PermissionError"


@pytest.mark.skipif(ABI < 4, reason=f"TCP rules need Landlock ABI 4; this kernel has {ABI}")
def test_deny_tcp_false_leaves_tcp_alone(dirs: dict[str, Path]) -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        results = run_child("""
            def connect():
                with socket.create_connection(('127.0.0.1', cfg['port']), timeout=5):
                    return 'connected'
            attempt('connect', connect)
        """, dirs, deny_tcp=False, port=listener.getsockname()[1])
    assert results["report"]["tcp"] is False
    assert results["connect"] == {"ok": True, "value": "connected"}


@pytest.mark.skipif(ABI < 6, reason=f"signal scoping needs Landlock ABI 6; this kernel has {ABI}")
def test_signalling_the_parent_is_refused(dirs: dict[str, Path]) -> None:
    results = run_child("attempt('signal', lambda: os.kill(os.getppid(), 0))", dirs)
    assert results["signal"]["error"] == "PermissionError"


def test_reading_the_parent_environ_is_refused(dirs: dict[str, Path]) -> None:
    results = run_child("attempt('environ', lambda: open(f'/proc/{os.getppid()}/environ', 'rb').read())", dirs)
    assert results["environ"]["error"] == "PermissionError"


def test_importing_the_module_does_not_import_ctypes() -> None:
    script = (f"import sys; sys.path.insert(0, {SRC!r}); from codemode.sandbox import _landlock; "
              "print('ctypes' in sys.modules, 'typing' in sys.modules, 'dataclasses' in sys.modules)")
    done = subprocess.run([sys.executable, "-I", "-S", "-c", script], capture_output=True, text=True,
                          timeout=WAIT, check=True)
    assert done.stdout.split() == ["False", "False", "False"]


def test_the_report_is_a_frozen_record() -> None:
    report = _landlock.LandlockReport(7, True, True, False, ("/nope",))
    assert report.as_dict() == {"abi": 7, "filesystem": True, "tcp": True, "scoped": False, "skipped": ("/nope",)}
    assert report == _landlock.LandlockReport(7, True, True, False, ("/nope",))
    assert "abi=7" in repr(report)
    with pytest.raises(AttributeError):
        report.abi = 1  # type: ignore[misc]


def test_a_landlock_error_names_the_call_and_its_errno() -> None:
    error = _landlock.LandlockError("landlock_add_rule", errno.EINVAL, "/some/file")
    assert isinstance(error, OSError)
    assert (error.call, error.errno, error.path) == ("landlock_add_rule", errno.EINVAL, "/some/file")


def test_a_single_file_can_be_granted_read_only(dirs: dict[str, Path]) -> None:
    # A file rule carries only file rights (read_dir on a file is EINVAL): the binding masks it.
    secret = str(dirs["secret"] / "token.txt")
    results = run_child("""
        attempt('read', lambda: open(cfg['secret']).read())
        attempt('list', lambda: os.listdir(os.path.dirname(cfg['secret'])))
        attempt('write', lambda: open(cfg['secret'], 'a').write('x'))
    """, dirs, extra_read_only=[secret])
    assert results["read"] == {"ok": True, "value": "hunter2"}
    assert results["list"]["error"] == "PermissionError"
    assert results["write"]["error"] == "PermissionError"


def test_execute_is_granted_only_where_listed(dirs: dict[str, Path]) -> None:
    system = [p for p in ("/usr", "/bin", "/lib", "/lib64") if os.path.exists(p)]
    copy = dirs["rw"] / "true"
    copy.write_bytes(Path("/bin/true").read_bytes())
    copy.chmod(0o755)
    results = run_child("""
        def spawn(program):
            pid = os.posix_spawn(program, [program], {})
            return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
        attempt('listed', lambda: spawn('/bin/true'))
        attempt('work_dir_copy', lambda: spawn(os.path.join(cfg['rw'], 'true')))
    """, dirs, allow_execute=system)
    assert results["listed"] == {"ok": True, "value": 0}
    assert results["work_dir_copy"]["error"] == "PermissionError"
