"""The fault suite: real processes, real faults, and a /proc check after each.

At the end of the run the time each scenario's cleanup took is printed (and appended as
JSON lines to $CODEMODE_FAULT_TIMES when it is set), for the notes that quote them.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/kernels.py and proctable.py, when run alone
from proctable import times  # noqa: E402


@pytest.fixture
def scenario(request: pytest.FixtureRequest) -> str:
    return str(request.node.name)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not times:
        return
    terminalreporter.section("fault suite: time from the fault to the last process gone")
    width = max(len(name) for name, _ in times)
    for name, seconds in times:
        terminalreporter.write_line(f"{name:<{width}}  {seconds * 1000:8.0f} ms")
    path = os.environ.get("CODEMODE_FAULT_TIMES")
    if path:
        with open(path, "a", encoding="utf-8") as out:
            for name, seconds in times:
                out.write(json.dumps({"scenario": name, "seconds": round(seconds, 4)}) + "\n")
