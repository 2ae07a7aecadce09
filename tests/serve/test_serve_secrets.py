"""`codemode serve --record` keeps no secret and no other reader (issue 25, item 6): a tool
result holding a `${VAR}` value (never printed, only in the report bundle) is redacted in the
saved notebook as in the cassette beside it; the folder is 0700, the files 0600, and a
notebook's name is a digest. A failed server's stderr reaches a client's result redacted.

Real parts: `codemode serve` over stdio through the SDK's client, a real MCP server
(`tests/faults/hostile_server.py`) whose `token` tool returns its `$HOSTILE_SECRET`.
"""

from __future__ import annotations

import json
import stat
import sys
from pathlib import Path
from typing import Any

import pytest
from _serving import run_stdio, write_config

SECRET = "sk-live-transcript-secret-42"
HOSTILE = str(Path(__file__).parent.parent / "faults" / "hostile_server.py")


@pytest.fixture(autouse=True)
def _secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOST_BOUNDS_SECRET", SECRET)


def test_a_transcript_holds_no_secret_and_only_its_owner_reads_it(tmp_path: Path) -> None:
    config = write_config(tmp_path / "mcp.json", {"cellTimeout": 60}, servers={
        "hostile": {"command": sys.executable, "args": [HOSTILE], "env": {"HOSTILE_SECRET": "${HOST_BOUNDS_SECRET}"}}})
    record = tmp_path / "record"

    async def scenario(client: Any) -> Any:
        return await client.call_tool("execute", {"code": "len(hostile.token())"})

    result = run_stdio(config, scenario, "--record", str(record))
    assert not result.is_error, result
    [notebook] = record.glob("*.ipynb")
    cassette = notebook.with_name(notebook.stem + ".cassette.jsonl")
    for path in (notebook, cassette):
        text = path.read_text(encoding="utf-8")
        assert SECRET not in text, path.name
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path.name
    assert "[REDACTED]" in notebook.read_text(encoding="utf-8")  # the result was there, blanked
    assert stat.S_IMODE(record.stat().st_mode) == 0o700
    assert len(notebook.stem.rsplit("-", 1)[-1]) == 16  # codemode-<stamp>-<digest>


def test_a_failed_servers_stderr_reaches_a_serve_client_redacted(tmp_path: Path) -> None:
    config = write_config(tmp_path / "mcp.json", servers={
        "broken": {"command": sys.executable, "args": ["-m", "json.tool", "--api-key", "${HOST_BOUNDS_SECRET}"]}})

    async def scenario(client: Any) -> Any:
        return await client.call_tool("execute", {"code": "broken.anything()"})

    result = run_stdio(config, scenario)
    text = json.dumps([block.model_dump() for block in result.content]) + json.dumps(result.structured_content)
    assert "its last error output" in text and "[REDACTED]" in text
    assert SECRET not in text
