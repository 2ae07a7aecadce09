"""The host dies, by any signal, while a cell loops: the worker, what the cell started, and
the servers all go, with nobody closing anything."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from _helpers import reap, wait_until
from proctable import descendants, left_after, snapshot

HOST = str(Path(__file__).with_name("host.py"))
SRC = str(Path(__file__).resolve().parents[2] / "src")
READY_TIMEOUT = 60.0


@pytest.fixture
def spawn() -> Iterator[object]:
    started: list[subprocess.Popen[str]] = []

    def start(code: str, *flags: str) -> subprocess.Popen[str]:
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [SRC, os.environ.get("PYTHONPATH")]))}
        process = subprocess.Popen([sys.executable, HOST, code, *flags], stdout=subprocess.PIPE, text=True, env=env,
                                   stdin=subprocess.DEVNULL)
        started.append(process)
        return process

    yield start
    for process in started:
        reap(process)


def wait_for_line(process: subprocess.Popen[str], text: str) -> None:
    assert process.stdout is not None
    deadline = time.monotonic() + READY_TIMEOUT
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        assert line, f"the host ended before it printed {text!r}"
        if line.strip() == text:
            return
    raise AssertionError(f"the host did not print {text!r} in time")


LOOP = "print('looping', flush=True)\nwhile True:\n    pass"
C_LOOP = "print('looping', flush=True)\nsum(range(10**13))"


@pytest.mark.parametrize(("how", "code"), [
    (signal.SIGKILL, LOOP), (signal.SIGTERM, LOOP), (signal.SIGHUP, LOOP), (signal.SIGKILL, C_LOOP),
], ids=["sigkill", "sigterm", "sighup", "sigkill-c-loop"])
def test_the_host_killed_during_a_looping_cell_leaves_no_process(spawn: object, how: signal.Signals, code: str,
                                                                   scenario: str) -> None:
    host = spawn(code)  # type: ignore[operator]
    wait_for_line(host, "started")
    wait_for_line(host, "looping")
    processes = snapshot(descendants(host.pid))
    assert len(processes) >= 3, processes  # the demo server (and its tether), the worker and its guard
    fault = time.monotonic()
    host.send_signal(how)
    host.wait()
    assert left_after(processes, fault, scenario) == {}


DETACH = """
import subprocess, os
# A grandchild that leaves its parent: double fork, the middle one exits at once.
subprocess.Popen(['/bin/sh', '-c', '(sleep 600 &) ; sleep 600 & exit 0'])
subprocess.Popen(['sleep', '600'])
print('looping', flush=True)
while True:
    pass
"""


def test_the_host_killed_between_cells_leaves_no_process(spawn: object, scenario: str) -> None:
    # Between cells the worker's group is paused (SIGSTOP) but its guard is not: it still
    # sees the host go and kills the group, the paused members included.
    host = spawn("print('ran', flush=True)", "--linger")  # type: ignore[operator]
    wait_for_line(host, "started")
    wait_for_line(host, "finished True")
    processes = snapshot(descendants(host.pid))

    def paused() -> bool:  # SIGSTOP takes effect when the worker is next scheduled: wait for it to show
        states = {pid: Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] for pid in processes}
        return "T" in states.values()

    wait_until(paused, "the worker's group paused between cells")
    fault = time.monotonic()
    host.kill()
    host.wait()
    assert left_after(processes, fault, scenario) == {}


@pytest.mark.parametrize("how", ["sigkill", "close"])
def test_subprocesses_that_fork_and_detach_end_with_the_worker(spawn: object, how: str, scenario: str) -> None:
    host = spawn(DETACH if how == "sigkill" else DETACH.replace("while True:\n    pass", "")
                 , "--allow-subprocess")  # type: ignore[operator]
    wait_for_line(host, "started")
    wait_for_line(host, "looping")
    processes = snapshot(descendants(host.pid))
    sleeps = [pid for pid in processes if Path(f"/proc/{pid}/comm").read_text().strip() == "sleep"]
    fault = time.monotonic()
    if how == "sigkill":
        host.kill()
    host.wait()
    assert left_after(processes, fault, scenario) == {}
    assert sleeps or how == "close"


WRITES_AND_LOOPS = """
import os
open('left.bin', 'wb').write(b'x' * 65536)
print(os.getcwd(), flush=True)
print('looping', flush=True)
while True:
    pass
"""


def work_dir_of(process: subprocess.Popen[str]) -> Path:
    """The worker's work dir, as the cell printed it after `started`."""
    wait_for_line(process, "started")
    assert process.stdout is not None
    path = Path(process.stdout.readline().strip())
    wait_for_line(process, "looping")
    return path


def test_a_killed_hosts_work_dir_goes_with_the_next_host_and_a_living_ones_stays(spawn: object) -> None:
    """A host killed outright cannot remove its worker's work dir (what the cell wrote there
    was in the worker's own tmpfs, and went with it). The next host to make a work dir sweeps
    the dir; one whose host lives is left alone, however old it is."""
    dead = spawn(WRITES_AND_LOOPS)  # type: ignore[operator]
    living = spawn(WRITES_AND_LOOPS)  # type: ignore[operator]
    dead_dir, living_dir = work_dir_of(dead), work_dir_of(living)
    try:
        assert dead_dir != living_dir and dead_dir.name.startswith("codemode-work-")
        dead.kill()
        dead.wait()
        assert dead_dir.exists()  # nobody could remove it
        # What the cell wrote was in the worker's own tmpfs (over the dir), gone with the worker.
        assert not (dead_dir / "left.bin").exists()
        long_ago = time.time() - 3600  # past the sweep's grace for a dir its host has not locked yet
        for path in (dead_dir, living_dir):
            os.utime(path, (long_ago, long_ago))
        following = spawn("print('hello')")  # type: ignore[operator]
        wait_for_line(following, "started")
        wait_until(lambda: not dead_dir.exists(), "the next host to sweep the dead host's work dir", timeout=30)
        assert living_dir.exists(), "the sweep removed a living host's work dir"
        assert living.poll() is None
    finally:
        reap(living)
        shutil.rmtree(living_dir, ignore_errors=True)
