"""The escape suite's bookkeeping: every attempt is marked `escape(<class>)`, and the run ends
with a table of how many attempts of each class ran, passed, failed or were skipped (and why)."""

from __future__ import annotations

from collections import Counter, defaultdict

import pytest

CLASSES = ("secrets", "files", "processes", "network", "resources", "channel",
           "other-processes", "information", "native-code", "host-trust")
_kind: dict[str, str] = {}
_outcomes: dict[str, Counter[str]] = defaultdict(Counter)
_skips: dict[str, Counter[str]] = defaultdict(Counter)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", f"escape(kind): a sandbox escape attempt of one class: {', '.join(CLASSES)}")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        marker = item.get_closest_marker("escape")
        if marker is not None:
            kind = marker.args[0]
            if kind not in CLASSES:
                raise pytest.UsageError(f"{item.nodeid}: escape class {kind!r} is not one of {CLASSES}")
            _kind[item.nodeid] = kind


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    kind = _kind.get(report.nodeid)
    if kind is None:
        return
    if report.skipped and report.when in ("setup", "call"):
        _outcomes[kind]["skipped"] += 1
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        _skips[kind][reason.removeprefix("Skipped: ")] += 1
    elif report.failed:
        _outcomes[kind]["failed"] += 1
    elif report.when == "call" and report.passed:
        _outcomes[kind]["passed"] += 1


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not _outcomes:
        return
    write = terminalreporter.write_line
    terminalreporter.section("sandbox escape attempts by class")
    write(f"{'class':<16} {'passed':>6} {'failed':>6} {'skipped':>7}")
    totals: Counter[str] = Counter()
    for kind in CLASSES:
        counts = _outcomes.get(kind, Counter())
        totals.update(counts)
        write(f"{kind:<16} {counts['passed']:>6} {counts['failed']:>6} {counts['skipped']:>7}")
    write(f"{'all':<16} {totals['passed']:>6} {totals['failed']:>6} {totals['skipped']:>7}")
    for kind, reasons in _skips.items():
        for reason, count in reasons.items():
            write(f"skipped ({kind}, {count}): {reason}")
