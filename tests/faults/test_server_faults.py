"""Servers that misbehave (hang, garble, exit, never answer) and a worker that is stopped:
each fails plainly, the rest of the session works, and nothing is left after close."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import configs
import pytest
from proctable import descendants, left_after, snapshot

from codemode.config import load_config
from codemode.engine import Session

WAIT = 60.0


@pytest.fixture
def open_session(tmp_path: Path, scenario: str) -> Iterator[Callable[..., Session]]:
    """`open_session(servers)`: a started session on those servers. At the end it is closed
    and every process it started must be gone (the time that took is recorded)."""
    before = descendants(os.getpid())
    sessions: list[Session] = []

    def start(servers: dict[str, dict[str, Any]], **settings: Any) -> Session:
        session = Session(load_config(configs.write(tmp_path / "mcp.json", servers, **settings)))
        sessions.append(session)
        session.start()
        return session

    yield start
    processes = snapshot(descendants(os.getpid()) - before)
    fault = time.monotonic()
    for session in sessions:
        session.close()
    assert left_after(processes, fault, f"{scenario} (close)") == {}


def test_a_server_that_hangs_in_initialize_fails_by_name_after_its_connect_timeout(
        open_session: Callable[..., Session]) -> None:
    # 4 s: long enough for the rogue server to start and say its mode on a loaded machine.
    session = open_session({"demo": configs.demo(), "stuck": configs.rogue("hang-init", connectTimeout=4)})
    problem = session.failed["stuck"]
    assert "did not finish connecting within 4 s" in problem and "rogue server: mode hang-init" in problem
    report = session.run("stuck.wait()")
    assert report.error is not None and report.error["code"] == "SERVER_UNAVAILABLE", report.error
    assert "did not finish connecting" in report.error["message"]
    assert session.run("len(demo.list_notes()) > 0").value is True


def test_a_server_that_writes_garbage_fails_with_its_cause(open_session: Callable[..., Session]) -> None:
    session = open_session({"garbled": configs.rogue("garbage", connectTimeout=5), "demo": configs.demo()})
    assert "rogue server: mode garbage" in session.failed["garbled"]
    report = session.run("try:\n    garbled.wait()\n    code = None\nexcept ToolError as e:\n    code = e.code\ncode")
    assert report.value == "SERVER_UNAVAILABLE"


def test_a_server_that_exits_during_tools_list_fails_with_its_last_words(
        open_session: Callable[..., Session]) -> None:
    session = open_session({"quitter": configs.rogue("exit-on-list")})
    assert "exiting during tools/list, on purpose" in session.failed["quitter"]
    assert "unavailable" in str(session.run("repr(quitter)").value)


def test_a_server_that_never_answers_a_call_times_out_by_name(open_session: Callable[..., Session]) -> None:
    session = open_session({"silent": configs.rogue("silent-call", timeout=1)})
    report = session.run("silent.wait()")
    assert report.error is not None and report.error["code"] == "TIMEOUT", report.error
    assert "silent" in report.error["message"] or report.error.get("server") == "silent"


def test_a_flood_of_notifications_with_a_bad_line_in_it_reaches_the_call_whole_and_in_order(
        open_session: Callable[..., Session]) -> None:
    # 3,001 lines in one write: the hub's stdio transport stops reading past its read-ahead
    # and starts again as the session catches up; the bad line is skipped, not fatal.
    session = open_session({"noisy": configs.rogue("flood")})
    report = session.run("noisy.wait()")
    assert report.ok and report.value == "flooded", report.error
    logs = [log["data"] for log in report.calls[0].logs]
    assert logs == [f"line {i}" for i in range(3000)]
    assert session.run("noisy.wait()").value == "flooded"  # the link is still good


def test_a_server_that_dies_in_the_middle_of_a_long_answer_fails_the_call_by_name(
        open_session: Callable[..., Session]) -> None:
    # The transport holds the unfinished line's chunks; at the end of stdout they are
    # dropped and the call fails as a crash, with the server's last words.
    session = open_session({"halting": configs.rogue("half-line"), "demo": configs.demo()})
    report = session.run("halting.wait()")
    assert report.error is not None and report.error["code"] == "SERVER_CRASHED", report.error
    assert "in the middle of an answer" in report.error["message"]
    assert session.run("len(demo.list_notes()) > 0").value is True


def test_a_server_that_writes_a_lot_as_it_exits_is_read_to_its_end_and_exits_by_itself(
        open_session: Callable[..., Session], tmp_path: Path) -> None:
    # Once the session has stopped reading, the transport still reads the pipe (and drops
    # it): a server blocked writing could not exit by itself, and would be signalled.
    marker = tmp_path / "said-goodbye"
    session = open_session({"chatty": configs.rogue("chatty-exit", str(marker))})
    assert session.run("1").ok
    session.close()
    assert marker.exists()


def test_a_stopped_worker_is_still_ended_by_the_cell_timeout(open_session: Callable[..., Session],
                                                             scenario: str) -> None:
    session = open_session({"demo": configs.demo()})
    session.run("x = 1")
    sandbox = session._sandbox
    assert sandbox is not None and sandbox.pid is not None
    group = sandbox.pid
    reports: dict[str, Any] = {}
    runner = threading.Thread(target=lambda: reports.setdefault("r", session.run("while True:\n    pass", timeout=2)))
    runner.start()
    deadline = time.monotonic() + WAIT
    while sandbox._cell is None:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    stopped = snapshot({pid for pid in descendants(os.getpid()) if os.getpgid(pid) == group})
    fault = time.monotonic()
    os.killpg(group, signal.SIGSTOP)
    runner.join(WAIT)
    assert left_after(stopped, fault, scenario) == {}
    report = reports["r"]
    assert report.timed_out and report.state_lost
    assert session.run("1 + 1").value == 2  # a fresh worker
