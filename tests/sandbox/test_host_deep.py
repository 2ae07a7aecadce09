"""Deep values degrade, never kill (issue 25, item 12): a tool result, a cell's own value or
call arguments nested past what a frame carries (100 levels) arrive cut or as a repr, with a
note, and the worker lives on with its variables.

Real parts: a real session and worker, a real MCP server over stdio (`hostile_server.py`, the
SDK's MCPServer) for results up to what the SDK serialises, and `rogue_server.py deep` for a
result deeper than the SDK's own parser takes (the call used to hang until its timeout).
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from codemode.config import parse_config
from codemode.engine import Session

FAULTS = Path(__file__).parent.parent / "faults"
CONFIG = {"mcpServers": {
    "hostile": {"command": sys.executable, "args": [str(FAULTS / "hostile_server.py")]},
    "rogue": {"command": sys.executable, "args": [str(FAULTS / "rogue_server.py"), "deep"]},
}}
# Long enough that only a hang reaches it: the test waits for the report, never for a time.
HANG = 600


@pytest.fixture(scope="module")
def session() -> Iterator[Session]:
    with Session(parse_config(CONFIG)) as session:
        yield session


def _worker_kept(session: Session) -> None:
    session.run("kept = 41")
    after = session.run("kept + 1")
    assert after.result == {"kind": "json", "value": 42} and not after.worker_restarted, after


def _depth(value: object) -> int:
    levels = 0
    while isinstance(value, list):
        value, levels = value[0], levels + 1
    return levels


@pytest.mark.escape("host-trust")
def test_a_result_nested_150_deep_is_cut_with_a_note_and_the_worker_lives(session: Session) -> None:
    session.run("kept = 41")
    report = session.run("value = hostile.deep(depth=150)['value']\nvalue", timeout=HANG)
    assert report.ok and not report.state_lost, report.error
    assert "nests deeper than 64 levels" in report.stderr
    value = report.result["value"]  # the cell returned what it got: a frame carries it
    assert isinstance(value, list) and _depth(value) == 63
    cut = value
    while isinstance(cut, list):
        cut = cut[0]
    assert isinstance(cut, str) and cut.startswith("[[[") and cut.count("[") == 150 - 63
    after = session.run("kept + 1")
    assert after.result == {"kind": "json", "value": 42} and not after.worker_restarted


@pytest.mark.escape("host-trust")
@pytest.mark.parametrize("depth", [400, 900])
def test_a_result_deeper_than_the_sdk_parses_arrives_cut_not_at_the_timeout(session: Session, depth: int) -> None:
    report = session.run(f"value = rogue.deep(depth={depth})['value']\ntype(value).__name__", timeout=HANG)
    assert report.ok and not report.timed_out, report.error
    assert report.result == {"kind": "json", "value": "list"}
    _worker_kept(session)


@pytest.mark.escape("host-trust")
def test_a_cells_own_deep_value_comes_back_as_its_repr(session: Session) -> None:
    session.run("kept = 41")
    report = session.run("deep = 0\nfor _ in range(150):\n    deep = [deep]\ndeep")
    assert report.ok, report.error
    assert report.result is not None and report.result["kind"] == "repr"
    assert report.result["text"] == "[" * 150 + "0" + "]" * 150
    assert "more than a frame carries" in report.stderr
    after = session.run("kept + 1")
    assert after.result == {"kind": "json", "value": 42} and not after.worker_restarted


@pytest.mark.escape("host-trust")
def test_call_arguments_too_deep_for_a_frame_are_a_tool_error(session: Session) -> None:
    session.run("kept = 41")
    report = session.run("deep = 'x'\nfor _ in range(150):\n    deep = [deep]\n"
                         "try:\n    hostile.length(items=deep)\nexcept ToolError as exc:\n    print(exc.code)")
    assert report.ok and report.stdout.strip() == "INVALID_ARGUMENTS", report
    after = session.run("kept + 1")
    assert after.result == {"kind": "json", "value": 42} and not after.worker_restarted
