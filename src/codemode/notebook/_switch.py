"""`%codemode record PATH`, `replay PATH [--strict]` and `live`: which cassette the next
session uses, and the line that says so.

A notebook's own line decides, except under `codemode test` (`$CODEMODE_TEST_MODE` set by
the test runner, `codemode.testing.plugin`): the runner's mode wins there (replay, strictly,
unless it was started with --record or --live), on the cassette the line names, and the line
says it was taken over. So a notebook saved with a `%codemode record` line is tested in
replay and no test run writes a cassette unless asked to. The line names the path as the
notebook wrote it, so it reads the same on every machine (the sanitizer `codemode test`
brings makes the runner's wording compare equal to the person's).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from IPython.core.error import UsageError

from codemode.cassette import CassetteSettings, record_anew

TEST_MODE_ENV = "CODEMODE_TEST_MODE"  # the test runner's mode (codemode.testing.plugin sets it)
_RUNNER_MODES = ("replay", "record", "live")
_CASSETTE_ENVS = ("CODEMODE_CASSETTE", "CODEMODE_CASSETTE_MODE", "CODEMODE_CASSETTE_STRICT")


def cassette_for_line(command: str, written: str | None, strict: bool,
                      line: str) -> tuple[CassetteSettings, Callable[[CassetteSettings], str]]:
    """The settings for `%codemode {line}` (`command` record | replay | live, `written` its
    path as the notebook wrote it), and how to say, from the new session's settings, what it
    does."""
    runner = os.environ.get(TEST_MODE_ENV)
    if runner in _RUNNER_MODES:
        settings = _runners_choice(runner, written)
    else:
        settings = CassetteSettings(Path(written).resolve() if written else None, command, strict)  # type: ignore[arg-type]
        for name in _CASSETTE_ENVS:  # the notebook's own choice wins over a cassette set otherwise
            os.environ.pop(name, None)
    shown = written or (settings.path.name if settings.path else None)
    if settings.mode == "replay" and settings.path is not None and not settings.path.is_file():
        raise UsageError(f"replay: no cassette at {shown}; record one with %codemode record {shown}")
    if settings.mode == "record" and settings.path is not None:
        record_anew(settings.path)

    def said(now: CassetteSettings) -> str:
        text = now.describe(shown)
        return f"codemode test ({runner}) takes over %codemode {line}: {text}" if runner in _RUNNER_MODES else text

    return settings, said


def _runners_choice(runner: str, written: str | None) -> CassetteSettings:
    """The runner's mode on the cassette the line names (a `live` line: the one the runner
    set, beside the notebook); live when the runner found none."""
    if runner == "live":
        return CassetteSettings(None, "live")
    beside = os.environ.get("CODEMODE_CASSETTE")
    path = Path(written).resolve() if written else Path(beside).resolve() if beside else None
    if path is None:
        return CassetteSettings(None, "live")
    return CassetteSettings(path, runner, strict=runner == "replay")  # type: ignore[arg-type]
