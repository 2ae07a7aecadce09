"""A secret never comes back through an error (issue 25, item 5): a server started with a
`${VAR}` value in its `args` that rejects the flag echoes it on stderr (argparse does), and the
tail of that stderr reaches the cell's ToolError, the session's failed list and the CLI's
"failed to start" line. Each now carries `[REDACTED]` instead, from the one redactor
(`trust.redact`) the audit and cassettes use.

Real parts: a real server process (`python -m json.tool` rejecting `--api-key`), a real
session and worker, and the `codemode` CLI as a subprocess.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import codemode
from codemode.config import parse_config
from codemode.engine import Session

SECRET = "hunter2-do-not-echo-me"
SRC = str(Path(codemode.__file__).parent.parent)
SERVERS = {"broken": {"command": sys.executable, "args": ["-m", "json.tool", "--api-key", "${HOST_BOUNDS_SECRET}"]}}


@pytest.fixture(autouse=True)
def _secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOST_BOUNDS_SECRET", SECRET)


@pytest.mark.escape("secrets")
def test_a_failed_servers_stderr_reaches_the_cell_redacted() -> None:
    with Session(parse_config({"mcpServers": SERVERS})) as session:
        report = session.run("try:\n    broken.anything()\nexcept ToolError as exc:\n    print(exc.code, exc.message)")
        failed = dict(session.failed)
    assert report.stdout.startswith("SERVER_UNAVAILABLE"), report
    assert "its last error output" in report.stdout  # the tail is there, for the config's author
    assert SECRET not in report.stdout and "[REDACTED]" in report.stdout
    assert SECRET not in json.dumps(failed) and "[REDACTED]" in failed["broken"]


@pytest.mark.escape("secrets")
def test_the_cli_failed_to_start_line_is_redacted(tmp_path: Path) -> None:
    config = tmp_path / "mcp.json"
    config.write_text(json.dumps({"mcpServers": SERVERS}))
    env = {**os.environ, "PYTHONPATH": SRC, "XDG_CONFIG_HOME": str(tmp_path / "no-config")}
    done = subprocess.run([sys.executable, "-m", "codemode", "servers", "--config", str(config)], env=env,
                          capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
    assert "failed to start" in done.stderr, done.stderr
    assert SECRET not in done.stderr + done.stdout and "[REDACTED]" in done.stderr


@pytest.mark.escape("secrets")
def test_a_tool_result_holding_a_secret_is_whole_in_the_cell_and_redacted_in_the_report() -> None:
    hostile = str(Path(__file__).parent.parent / "faults" / "hostile_server.py")
    config = parse_config({"mcpServers": {"hostile": {"command": sys.executable, "args": [hostile],
                                                      "env": {"HOSTILE_SECRET": "${HOST_BOUNDS_SECRET}"}}}})
    with Session(config) as session:
        report = session.run(f"token = hostile.token()\ntoken == 'token=' + {SECRET!r}")
    assert report.result == {"kind": "json", "value": True}  # the code got the value itself
    data, metadata = report._repr_mimebundle_()
    saved = json.dumps([data, metadata, [call.facts() for call in report.calls]])
    assert SECRET not in saved and "[REDACTED]" in saved
