"""Resource limits the worker applies to itself, seen from cells, and the isolation report."""

from __future__ import annotations

import functools
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from anyio.from_thread import BlockingPortal

from codemode.sandbox import CallRequest, CellOutcome, Limits, Sandbox, _landlock

WAIT = 60.0
SETUP: dict[str, Any] = {"servers": {}, "sys_path": []}


async def no_tools(request: CallRequest) -> dict[str, Any]:
    return {"ok": False, "error": {"code": "UNKNOWN_TOOL", "message": "no tools here"}}


@pytest.fixture
def limited(portal: BlockingPortal, tmp_path: Path) -> Iterator[Sandbox]:
    box = Sandbox(SETUP, workdir=tmp_path,
                  limits=Limits(memory=512 * 1024**2, open_files=64, file_size=1024**2))
    portal.call(box.start)
    try:
        yield box
    finally:
        portal.call(box.aclose)


def run(portal: BlockingPortal, sandbox: Sandbox, code: str) -> CellOutcome:
    return portal.call(functools.partial(sandbox.run, code, on_call=no_tools, on_stream=lambda *_: None, timeout=WAIT))


@pytest.mark.escape("resources")
def test_a_huge_allocation_is_a_memory_error_and_the_worker_lives_on(portal: BlockingPortal, limited: Sandbox) -> None:
    assert run(portal, limited, "kept = 41").ok
    outcome = run(portal, limited, "x = bytearray(2 * 1024**3)")
    assert not outcome.ok and outcome.error is not None and outcome.error["type"] == "MemoryError"
    assert not outcome.state_lost
    assert run(portal, limited, "kept + 1").result == {"kind": "json", "value": 42}


@pytest.mark.escape("resources")
def test_a_growing_memory_bomb_stops_with_memory_error(portal: BlockingPortal, limited: Sandbox) -> None:
    outcome = run(portal, limited, "chunks = []\nwhile True:\n    chunks.append(bytearray(64 * 1024**2))")
    assert outcome.error is not None and outcome.error["type"] == "MemoryError"
    assert run(portal, limited, "del chunks\n1").ok


@pytest.fixture
def small(portal: BlockingPortal, tmp_path: Path) -> Iterator[Sandbox]:
    box = Sandbox(SETUP, workdir=tmp_path, limits=Limits(memory=128 * 1024**2))
    portal.call(box.start)
    try:
        yield box
    finally:
        portal.call(box.aclose)


@pytest.mark.escape("resources")
@pytest.mark.parametrize("bomb", ["held = []\nfor i in range(10**9):\n    held.append(str(i))",
                                  "held = [str(i) for i in range(10**9)]"])
def test_small_objects_filling_the_limit_are_a_memory_error_and_the_worker_lives_on(
    portal: BlockingPortal, small: Sandbox, bomb: str
) -> None:
    # Millions of small objects leave no room at all: the report of the MemoryError, and
    # the next cell's print, must still fit (the worker's reserve, its one flusher thread).
    assert run(portal, small, "kept = 41").ok
    outcome = run(portal, small, bomb)
    assert outcome.error is not None and outcome.error.get("code") == "MEMORY", outcome.error
    assert not outcome.state_lost
    printed: list[str] = []
    after = portal.call(functools.partial(small.run, "print('still here'); print(kept + 1); kept + 1", on_call=no_tools,
                                          on_stream=lambda _, text: printed.append(text), timeout=WAIT))
    assert after.ok and after.result == {"kind": "json", "value": 42}, after.error
    assert "".join(printed) == "still here\n42\n"
    assert run(portal, small, "held = None\nlen(str(list(range(10**5))))").ok


@pytest.mark.escape("resources")
def test_opening_files_past_the_limit_fails_with_emfile(portal: BlockingPortal, limited: Sandbox) -> None:
    outcome = run(portal, limited, "import os\nfds = [os.open('.', os.O_RDONLY) for _ in range(200)]")
    assert outcome.error is not None and outcome.error["type"] == "OSError"
    assert "Too many open files" in outcome.error["message"]


@pytest.mark.escape("resources")
def test_a_file_past_the_size_limit_fails_and_stays_at_the_limit(
    portal: BlockingPortal, limited: Sandbox, tmp_path: Path
) -> None:
    outcome = run(portal, limited, "open('big.bin', 'wb').write(b'x' * (2 * 1024**2))")
    assert outcome.error is not None and outcome.error["type"] == "OSError"
    assert "File too large" in outcome.error["message"]
    assert outcome.error["code"] == "DISK"  # the code a work dir over its bound reports too
    assert (tmp_path / "big.bin").stat().st_size <= 1024**2


@pytest.mark.skipif(not sys.platform.startswith("linux") or _landlock.abi_version() < 6,
                    reason="the full report needs Linux with Landlock ABI 6 or later")
def test_the_isolation_report_says_what_is_active_and_what_is_not(limited: Sandbox) -> None:
    rows = {row["layer"]: row for row in limited.isolation}
    assert rows["rlimit memory"]["active"] and "RLIMIT_DATA" in rows["rlimit memory"]["detail"]
    assert rows["rlimit open_files"]["active"] and rows["rlimit file_size"]["active"]
    assert not rows["rlimit cpu_seconds"]["active"]
    assert rows["environment"]["active"] and rows["process"]["active"]
    assert rows["landlock"]["active"] and "TCP denied" in rows["landlock"]["detail"]
    assert rows["seccomp"]["active"] and "no fork or exec" in rows["seccomp"]["detail"]


def test_a_required_layer_that_is_missing_refuses_to_start(portal: BlockingPortal) -> None:
    from codemode.errors import IsolationError

    box = Sandbox(SETUP, confine=False, require=("landlock",))
    try:
        with pytest.raises(IsolationError) as caught:
            portal.call(box.start)
    finally:
        portal.call(box.aclose)
    assert caught.value.missing == ["landlock"] and caught.value.code == "ISOLATION"
    assert not box.alive


def test_a_forked_child_s_print_arrives_though_the_parent_s_flusher_is_not_in_it(
    portal: BlockingPortal, tmp_path: Path
) -> None:
    # The worker's stream flusher is a thread, which a fork does not copy: a child's writes
    # are sent at once, including one the parent had left for its flusher to send.
    box = Sandbox(SETUP, workdir=tmp_path, allow_subprocess=True)
    portal.call(box.start)
    try:
        printed: list[str] = []
        code = ("import os\nprint('parent', end='')\nprint(' waits')\npid = os.fork()\nif pid == 0:\n"
                "    print('child says hi')\n    os._exit(0)\nos.waitpid(pid, 0)\n'done'")
        outcome = portal.call(functools.partial(box.run, code, on_call=no_tools,
                                                on_stream=lambda _, text: printed.append(text), timeout=WAIT))
        assert outcome.ok, outcome.error
        assert "child says hi\n" in "".join(printed)
        assert "".join(printed).count("parent waits\n") == 1
    finally:
        portal.call(box.aclose)


def test_each_printed_line_after_a_pause_is_one_stream_frame(portal: BlockingPortal, limited: Sandbox) -> None:
    # print() writes its text and its newline apart; sent at once, each line was two frames
    # (two stream messages, two log notifications in `codemode serve`).
    frames: list[str] = []
    code = "import time\nfor word in ('one', 'two', 'three'):\n    print(word)\n    time.sleep(0.1)\nprint('no newline', end='')"
    outcome = portal.call(functools.partial(limited.run, code, on_call=no_tools,
                                            on_stream=lambda _, text: frames.append(text), timeout=WAIT))
    assert outcome.ok, outcome.error
    assert frames == ["one\n", "two\n", "three\n", "no newline"]
