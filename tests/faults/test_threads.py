"""One session, many callers: runs from several threads queue, each gets its own report,
and an interrupt or a timeout touches only its own run."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator

import pytest
from _helpers import wait_until
from proctable import descendants, left_after, snapshot

from codemode.config import demo_config
from codemode.engine import Session

WAIT = 60.0  # bound on every wait: a hang fails the test instead of stalling the suite


@pytest.fixture
def preexisting() -> set[int]:
    """What this test process already runs (other modules' servers and sessions), which the
    check of what a closed session leaves must not count."""
    return descendants(os.getpid())


@pytest.fixture
def session(preexisting: set[int]) -> Iterator[Session]:
    with Session(demo_config()) as session:
        yield session


def _waiting(session: Session) -> int:
    async def count() -> int:
        return session._turns.waiting

    from codemode.hub import get_portal

    return get_portal().call(count)


def _hold_worker(session: Session) -> tuple[threading.Thread, dict[str, object]]:
    """A first run that holds the worker until a file named `go` appears in its work dir."""
    out: dict[str, object] = {}
    session.run("import os, time\norder = []")

    def first() -> None:
        out["report"] = session.run(
            "while not os.path.exists('go'):\n    time.sleep(0.005)\norder.append(0)\norder[:]", timeout=WAIT)

    thread = threading.Thread(target=first)
    thread.start()
    wait_until(lambda: _waiting(session) == 0 and session._sandbox is not None and session._sandbox._cell is not None,
              "the first run to hold the worker")
    return thread, out


def _release(session: Session) -> None:
    assert session._sandbox is not None
    (session._sandbox.files_path / "go").touch()


@pytest.mark.parametrize("threads", [2, 8])
def test_runs_from_many_threads_queue_first_come_first_served_each_with_its_own_report(
        session: Session, threads: int, scenario: str, preexisting: set[int]) -> None:
    first, out = _hold_worker(session)
    reports: dict[int, object] = {}

    def caller(i: int) -> None:
        reports[i] = session.run(f"print('from', {i})\norder.append({i})\norder[:]", timeout=WAIT)

    callers = []
    for i in range(1, threads):
        thread = threading.Thread(target=caller, args=(i,))
        thread.start()
        callers.append(thread)
        wait_until(lambda i=i: _waiting(session) == i, f"run {i} to queue")
    _release(session)
    for thread in [first, *callers]:
        thread.join(WAIT)
        assert not thread.is_alive()
    assert out["report"].ok and out["report"].value == [0]  # type: ignore[attr-defined]
    for i in range(1, threads):
        report = reports[i]
        assert report.ok, report.error  # type: ignore[attr-defined]
        assert report.stdout == f"from {i}\n"  # type: ignore[attr-defined]
        assert report.value == list(range(i + 1))  # type: ignore[attr-defined]
    processes = snapshot(descendants(os.getpid()) - preexisting)
    fault = time.monotonic()
    session.close()
    assert left_after(processes, fault, scenario) == {}


def test_interrupting_a_queued_run_leaves_the_running_one_and_the_next_alone(session: Session) -> None:
    first, out = _hold_worker(session)
    cancel = threading.Event()
    reports: dict[str, object] = {}

    def queued(name: str, event: threading.Event | None) -> None:
        reports[name] = session.run(f"order.append({name!r})\norder[:]", cancel=event, timeout=WAIT)

    second = threading.Thread(target=queued, args=("second", cancel))
    second.start()
    wait_until(lambda: _waiting(session) == 1, "the second run to queue")
    third = threading.Thread(target=queued, args=("third", None))
    third.start()
    wait_until(lambda: _waiting(session) == 2, "the third run to queue")
    cancel.set()
    second.join(WAIT)
    assert reports["second"].error["code"] == "INTERRUPTED"  # type: ignore[attr-defined]
    _release(session)
    first.join(WAIT)
    third.join(WAIT)
    assert out["report"].value == [0]  # type: ignore[attr-defined]
    assert reports["third"].value == [0, "third"]  # type: ignore[attr-defined]


def test_a_run_that_times_out_leaves_the_queued_run_its_turn_and_the_variables(session: Session) -> None:
    session.run("kept = 41")
    reports: dict[str, object] = {}

    def looping() -> None:
        reports["loop"] = session.run("while True:\n    pass", timeout=0.5)

    loop = threading.Thread(target=looping)
    loop.start()
    wait_until(lambda: session._sandbox is not None and session._sandbox._cell is not None, "the loop to run")
    after = session.run("kept + 1", timeout=WAIT)
    loop.join(WAIT)
    assert reports["loop"].timed_out and not reports["loop"].state_lost  # type: ignore[attr-defined]
    assert after.ok and after.value == 42


def test_cancelling_a_running_run_interrupts_only_it(session: Session) -> None:
    cancel = threading.Event()
    reports: dict[str, object] = {}

    def looping() -> None:
        code = "import pathlib\nn = 0\npathlib.Path('looping').touch()\nwhile True:\n    n += 1"
        reports["loop"] = session.run(code, cancel=cancel, timeout=WAIT)

    loop = threading.Thread(target=looping)
    loop.start()
    # Into the loop, not just sent: an interrupt that comes before the cell's first line is
    # the cell's all the same (it raises as the cell starts), and `n` would never be set.
    wait_until(lambda: session._sandbox is not None and (session._sandbox.files_path / "looping").exists(),
               "the loop to run")
    cancel.set()
    loop.join(WAIT)
    report = reports["loop"]
    assert report.error["type"] == "KeyboardInterrupt"  # type: ignore[attr-defined]
    assert session.run("n > 0").value is True  # the worker and its variables stay


def test_closing_the_session_turns_away_the_runs_still_waiting(session: Session) -> None:
    first, out = _hold_worker(session)
    reports: dict[str, object] = {}
    waiting = threading.Thread(target=lambda: reports.setdefault("w", session.run("1", timeout=WAIT)))
    waiting.start()
    wait_until(lambda: _waiting(session) == 1, "the run to queue")
    session.close()
    waiting.join(WAIT)
    first.join(WAIT)
    assert reports["w"].error["code"] == "SESSION_CLOSED"  # type: ignore[attr-defined]
    assert out["report"].state_lost  # type: ignore[attr-defined]
