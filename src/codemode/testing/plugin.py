"""The pytest plugin (entry point `codemode`): nbval runs of notebooks that use codemode.

- Adds codemode's sanitizers (`SANITIZE_FILE`) to nbval, merged with the user's own
  `--nbval-sanitize-with` file when there is one, so a notebook passes nbval twice with no
  sanitize file of its own.
- Under `codemode test` (`$CODEMODE_TEST_MODE` set), points each notebook's kernel at the
  cassette beside the notebook before nbval starts that kernel: replay (strict) when it
  exists, record with `--record`, live servers with `--live`.

Standard library and pytest only: this module loads in every pytest run of the environment.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import pytest

from codemode.testing import SANITIZE_FILE, cassette_for

TEST_MODE_ENV = "CODEMODE_TEST_MODE"  # replay | record | live, set by `codemode test`
CASSETTE_ENV = "CODEMODE_CASSETTE"
CASSETTE_MODE_ENV = "CODEMODE_CASSETTE_MODE"
CASSETTE_STRICT_ENV = "CODEMODE_CASSETTE_STRICT"


@pytest.hookimpl(trylast=True)  # after nbval's own configure, which settles its options
def pytest_configure(config: pytest.Config) -> None:
    option = config.option
    if not (getattr(option, "nbval", False) or getattr(option, "nbval_lax", False)):
        return
    theirs = getattr(option, "nbval_sanitize_with", None)
    if theirs is None:
        option.nbval_sanitize_with = str(SANITIZE_FILE)
        return
    if Path(theirs).resolve() == SANITIZE_FILE.resolve():
        return
    # nbval reads one file: theirs, then ours, in one temporary file.
    merged = tempfile.NamedTemporaryFile("w", suffix=".cfg", prefix="codemode-sanitize-", delete=False,
                                         encoding="utf-8")
    with merged:
        merged.write(Path(theirs).read_text(encoding="utf-8") + "\n" + SANITIZE_FILE.read_text(encoding="utf-8"))
    option.nbval_sanitize_with = merged.name
    config.add_cleanup(lambda: os.unlink(merged.name))


@pytest.hookimpl(tryfirst=True)  # before the setup that starts the notebook's kernel
def pytest_runtest_setup(item: pytest.Item) -> None:
    mode = os.environ.get(TEST_MODE_ENV)
    parent: Any = item.parent
    if not mode or parent is None or not str(getattr(parent, "path", "")).endswith(".ipynb"):
        return
    if getattr(parent, "_codemode_cassette_set", False):
        return
    parent._codemode_cassette_set = True
    cassette = cassette_for(parent.path)
    for name in (CASSETTE_ENV, CASSETTE_MODE_ENV, CASSETTE_STRICT_ENV):
        os.environ.pop(name, None)
    if mode == "live" or (mode == "replay" and not cassette.is_file()):
        os.environ[CASSETTE_MODE_ENV] = "live"
        return
    os.environ[CASSETTE_ENV] = str(cassette)
    os.environ[CASSETTE_MODE_ENV] = mode
    if mode == "replay":
        os.environ[CASSETTE_STRICT_ENV] = "1"  # a call missing from the cassette fails, never goes live
