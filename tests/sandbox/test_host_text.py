"""Text that reaches a person is escaped everywhere (issue 25, item 11): a terminal escape or a
bidirectional override from the worker or an upstream server shows as `\\x1b` / `\\u202e` in
the audit table, approval prompts, `codemode search`, "failed to start" lines and the report.

Real parts: the `codemode` CLI as a subprocess, a real MCP server (`hostile_server.py`) whose
tool description carries the sequences, a server that dies printing them, and cells that
forge names through the real worker's channel.
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
from codemode.trust.approval import Answer, ApprovalRequest

SRC = str(Path(codemode.__file__).parent.parent)
HOSTILE = str(Path(__file__).parent.parent / "faults" / "hostile_server.py")
CLI_TIMEOUT = 120
# What must never reach a terminal raw: ESC, CR, and the bidi override and isolate.
RAW = ("\x1b", "\r", "\u202e", "\u2066")


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": SRC, "XDG_CONFIG_HOME": str(cwd / "no-config")}
    return subprocess.run([sys.executable, "-m", "codemode", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=CLI_TIMEOUT, stdin=subprocess.DEVNULL)


def _raw(text: str) -> list[str]:
    return [char for char in RAW if char in text]


@pytest.mark.escape("host-trust")
def test_codemode_search_shows_an_upstream_description_escaped(tmp_path: Path) -> None:
    config = tmp_path / "mcp.json"
    config.write_text(json.dumps({"mcpServers": {"hostile": {"command": sys.executable, "args": [HOSTILE]}}}))
    done = _cli("search", "--config", str(config), "--detail", "full", "finds things", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "def find(" in done.stdout
    assert not _raw(done.stdout) and "\\x1b[2J" in done.stdout and "\\u202e" in done.stdout


@pytest.mark.escape("host-trust")
def test_a_failed_to_start_line_shows_the_servers_last_words_escaped(tmp_path: Path) -> None:
    dying = "import sys; sys.stderr.write('\\x1b[2J\\x1b[1Aok \\u202eboom\\r\\n'); sys.exit(3)"
    config = tmp_path / "mcp.json"
    config.write_text(json.dumps({"mcpServers": {"dying": {"command": sys.executable, "args": ["-c", dying]}}}))
    done = _cli("servers", "--config", str(config), cwd=tmp_path)
    assert "failed to start" in done.stderr, done.stderr
    assert not _raw(done.stderr + done.stdout), done.stderr
    assert "\\x1b[2J" in done.stderr and "\\u202eboom" in done.stderr


@pytest.mark.escape("host-trust")
def test_the_audit_table_shows_forged_names_escaped(tmp_path: Path) -> None:
    audit = tmp_path / "audit.jsonl"
    config = {"mcpServers": {"hostile": {"command": sys.executable, "args": [HOSTILE]}},
              "codemode": {"audit": str(audit)}}
    forged = "ok\\x1b[2K\\r\\x1b[1A approved \\u202e"
    code = ("import sys\nch = sys.modules['codemode.sandbox._api']._channel\n"
            f"try:\n    ch._request('x', 'y', lambda i: ch.send({{'op': 'call', 'id': i, 'server': '{forged}', "
            "'tool': 'rm\\x1b[0m', 'arguments': {}}))\nexcept Exception as exc:\n    print(exc.code)")
    with Session(parse_config(config), face="cli") as session:
        report = session.run(code)
    assert report.stdout.strip() == "UNKNOWN_TOOL", report
    assert any("\x1b" in line for line in audit.read_text(encoding="utf-8").splitlines()) is False  # JSON escapes it
    (tmp_path / "mcp.json").write_text(json.dumps(config))
    table = _cli("audit", "--file", str(audit), cwd=tmp_path)
    assert table.returncode == 0, table.stderr
    row = next(line for line in table.stdout.splitlines() if "approved" in line)
    assert not _raw(table.stdout)
    assert "ok\\x1b[2K\\x0d\\x1b[1A approved \\u202e.rm\\x1b[0m" in row


class _Recording:
    """An approver (the real seam every face plugs into) that keeps the prompt and says no."""

    def __init__(self) -> None:
        self.prompts: list[str] = []

    def ask(self, request: ApprovalRequest, timeout: float) -> Answer:
        self.prompts.append(request.describe())
        return Answer("deny", "the test")


@pytest.mark.escape("host-trust")
def test_an_approval_prompt_shows_bidi_and_escapes_in_arguments_escaped() -> None:
    config = parse_config({"mcpServers": {"hostile": {"command": sys.executable, "args": [HOSTILE]}}})
    approver = _Recording()
    with Session(config) as session:
        report = session.run("try:\n    hostile.destroy(target='invoice\\u202efdp.exe\\x1b[2J')\n"
                             "except Exception as exc:\n    print(exc.code)", approver=approver)
    assert report.stdout.strip() == "APPROVAL_DENIED", report
    [prompt] = approver.prompts
    assert not _raw(prompt), prompt
    assert 'target="invoice\\u202efdp.exe\\x1b[2J"' in prompt  # the short prompt's Python literal, escaped
