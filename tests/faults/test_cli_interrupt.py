"""Ctrl-C at any moment of `codemode exec`: one line, status 130, nothing left behind.

Each scenario waits for a moment it can see (the CLI reading its code from stdin, a server
process that exists, a line the cell printed, a marker the lingering server wrote when its
input closed), sends SIGINT to the CLI as a terminal's Ctrl-C would (its children run in
sessions of their own, so only the CLI gets it), and checks the exit, stderr and /proc.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import configs
import pytest
from _helpers import reap, wait_until
from proctable import cmdline, descendants, left_after, snapshot

WAIT = 60.0  # the moment must come within this; a hang fails instead of stalling
EXIT_WAIT = 30.0  # generous: the figure recorded is the real one


@pytest.fixture
def cli() -> Iterator[Callable[..., subprocess.Popen[str]]]:
    started: list[subprocess.Popen[str]] = []

    def start(*args: str, stdin: int = subprocess.DEVNULL) -> subprocess.Popen[str]:
        process = subprocess.Popen([sys.executable, "-m", "codemode", *args], stdin=stdin, stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, text=True, env=configs.cli_env())
        started.append(process)
        return process

    yield start
    for process in started:
        reap(process)


def reading_stdin(pid: int) -> bool:
    """Whether the process is blocked in read(0, ...) (from /proc/PID/syscall)."""
    try:
        fields = Path(f"/proc/{pid}/syscall").read_text().split()
    except OSError:
        return False
    return len(fields) > 1 and fields[0] == "0" and int(fields[1], 16) == 0


def has_child(pid: int, mark: str) -> bool:
    """Whether a process under `pid` (the server itself, not its tether) has `mark`."""
    return any(mark in cmdline(child) and "_tether.py" not in cmdline(child) for child in descendants(pid))


def read_line_with(process: subprocess.Popen[str], text: str) -> None:
    assert process.stdout is not None
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        assert line, f"the CLI ended before it printed {text!r}"
        if text in line:
            return
    raise AssertionError(f"no {text!r} in time")


def interrupt(process: subprocess.Popen[str], scenario: str) -> tuple[str, float]:
    """Ctrl-C the CLI; check it exits 130 with one line and leaves no process. Returns its
    stderr and how long it took to exit."""
    processes = snapshot(descendants(process.pid))
    fault = time.monotonic()
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=EXIT_WAIT)
    took = time.monotonic() - fault
    assert process.returncode == 130, stderr
    assert stderr.rstrip().splitlines()[-1] == "codemode: interrupted", stderr
    assert "Traceback" not in stderr and "Exception ignored" not in stderr, stderr
    assert left_after(processes, fault, scenario) == {}
    print(f"{scenario}: exit {took * 1000:.0f} ms after SIGINT")
    return stderr, took


def test_ctrl_c_before_connect(cli: Callable[..., subprocess.Popen[str]], tmp_path: Path, scenario: str) -> None:
    config = configs.write(tmp_path / "mcp.json", {"demo": configs.demo()})
    process = cli("exec", "--config", str(config), "-", stdin=subprocess.PIPE)
    wait_until(lambda: reading_stdin(process.pid), "the CLI to read its code")
    assert not descendants(process.pid)
    interrupt(process, scenario)


def test_ctrl_c_while_servers_connect(cli: Callable[..., subprocess.Popen[str]], tmp_path: Path,
                                      scenario: str) -> None:
    config = configs.write(tmp_path / "mcp.json", {"demo": configs.demo(), "stuck": configs.rogue("hang-init")})
    process = cli("exec", "--config", str(config), "-c", "print(1)")
    wait_until(lambda: has_child(process.pid, "hang-init") and has_child(process.pid, "codemode.demo"),
               "the servers to be spawned")
    interrupt(process, scenario)


def test_ctrl_c_during_a_looping_cell(cli: Callable[..., subprocess.Popen[str]], tmp_path: Path,
                                      scenario: str) -> None:
    config = configs.write(tmp_path / "mcp.json", {"demo": configs.demo()})
    process = cli("exec", "--config", str(config), "-c", "print('looping', flush=True)\nwhile True:\n    pass")
    read_line_with(process, "looping")
    interrupt(process, scenario)


def test_ctrl_c_during_a_call(cli: Callable[..., subprocess.Popen[str]], tmp_path: Path, scenario: str) -> None:
    config = configs.write(tmp_path / "mcp.json", {"silent": configs.rogue("silent-call")})
    process = cli("exec", "--config", str(config), "-c", "print('calling', flush=True)\nsilent.wait()")
    read_line_with(process, "calling")
    interrupt(process, scenario)


def test_ctrl_c_during_close(cli: Callable[..., subprocess.Popen[str]], tmp_path: Path, scenario: str) -> None:
    marker = tmp_path / "input-closed"
    config = configs.write(tmp_path / "mcp.json", {"lingering": configs.rogue("linger", str(marker))})
    process = cli("exec", "--config", str(config), "-c", "print('done')")
    wait_until(marker.exists, "the session to close the lingering server's input")
    interrupt(process, scenario)
