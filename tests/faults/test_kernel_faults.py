"""A kernel interrupted while its first cell connects, shut down hard, or killed: one line
for the cell, one set of servers, and no process left."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import configs
import pytest
from _helpers import wait_until
from kernels import Kernel
from proctable import cmdline, descendants, left_after, snapshot

WAIT = 60.0


@pytest.fixture
def kernel(tmp_path: Path) -> Iterator[Kernel]:
    configs.write(tmp_path / "mcp.json", {"slow": configs.rogue("slow-init"), "demo": configs.demo()})
    kernel = Kernel(tmp_path, kernel_name="codemode")
    try:
        yield kernel
    finally:
        kernel.client.stop_channels()
        if kernel.manager.has_kernel:
            kernel.manager.shutdown_kernel(now=True)


def kernel_pid(kernel: Kernel) -> int:
    return int(kernel.manager.provisioner.process.pid)  # type: ignore[union-attr]


def servers_named(pid: int, mark: str) -> list[int]:
    """The server processes (not their tethers) under `pid` whose command line has `mark`."""
    return [child for child in descendants(pid) if mark in cmdline(child) and "_tether.py" not in cmdline(child)]


def test_a_kernel_interrupt_during_the_first_connect_answers_in_one_line_and_keeps_one_set_of_servers(
        kernel: Kernel, scenario: str) -> None:
    pid = kernel_pid(kernel)
    msg_id = kernel.client.execute("len(demo.list_notes())")
    wait_until(lambda: servers_named(pid, "slow-init"), "the slow server to be spawned")
    kernel.manager.interrupt_kernel()
    first = kernel.collect(msg_id)
    assert first.reply["status"] == "error" and first.reply["ename"] == "UsageError", first.all_text
    (line,) = first.stderr.strip().splitlines()  # IPython shows a UsageError as one line
    assert line.startswith("UsageError: interrupted while the servers connect"), first.all_text
    assert "concurrent" not in first.all_text and "threading" not in first.all_text, first.all_text
    second = kernel.run("len(demo.list_notes()) > 0")
    assert "True" in second.all_text
    assert len(servers_named(pid, "slow-init")) == 1 and len(servers_named(pid, "codemode.demo")) == 1
    processes = snapshot(descendants(pid))
    fault = time.monotonic()
    kernel.shutdown()
    assert left_after(processes, fault, scenario) == {}


@pytest.mark.parametrize("how", ["shutdown-now", "sigkill"])
def test_a_kernel_ended_hard_during_a_looping_cell_leaves_no_process(kernel: Kernel, how: str,
                                                                     scenario: str) -> None:
    pid = kernel_pid(kernel)
    kernel.run("len(demo.list_notes())")
    kernel.client.execute("print('looping', flush=True)\nwhile True:\n    pass")
    deadline = time.monotonic() + WAIT
    while True:
        msg = kernel.client.get_iopub_msg(timeout=max(0.1, deadline - time.monotonic()))
        if msg["msg_type"] == "stream" and "looping" in msg["content"]["text"]:
            break
    processes = snapshot(descendants(pid))
    fault = time.monotonic()
    if how == "sigkill":
        os.kill(pid, signal.SIGKILL)
    else:
        kernel.manager.shutdown_kernel(now=True)
    assert left_after(processes, fault, scenario) == {}
