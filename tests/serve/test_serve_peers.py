"""An MCP client works through search and execute against the five offline third-party servers."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest
from _serving import run_stdio

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
import _peers  # noqa: E402  (bench/_peers.py: the servers and their scratch directory)

_MISSING = _peers.missing_peers()
if _MISSING:
    pytest.skip("; ".join(_MISSING.values()), allow_module_level=True)


def test_a_client_searches_then_runs_one_execute_across_filesystem_memory_time_and_git(tmp_path: Path) -> None:
    scratch = _peers.make_scratch(tmp_path / "peers")
    config = tmp_path / "mcp.json"
    config.write_text(json.dumps({**_peers.peers_config(scratch), "codemode": {"poolSize": 1}}), encoding="utf-8")
    code = (
        f"listing = filesystem.list_directory(path={str(scratch['files'])!r})['content']\n"
        "notes = sorted(l.split(' ', 1)[1] for l in listing.splitlines() if l.endswith('.md'))\n"
        "memory.create_entities(entities=[{'name': n, 'entityType': 'note', 'observations': []} for n in notes])\n"
        f"status = git.git_status(repo_path={str(scratch['repo'])!r})\n"
        "{'notes': len(notes), 'stored': len(memory.read_graph()['entities']),\n"
        " 'modified': 'README.md' in status, 'tz': time.get_current_time(timezone='UTC')['timezone']}"
    )

    async def scenario(client: Any) -> dict[str, Any]:
        found = {query: await client.call_tool("search", {"query": query, "detail": "names", "limit": 3})
                 for query in ("git status", "read file", "current time")}
        ran = await client.call_tool("execute", {"code": code})
        echoed = await client.call_tool("execute", {"code": "everything.echo(message='hi')"})
        return {"found": found, "ran": ran, "echoed": echoed}

    seen = run_stdio(config, scenario)
    assert seen["found"]["git status"].structured_content["tools"][0] == "git.git_status"
    assert seen["found"]["current time"].structured_content["tools"][0] == "time.get_current_time"
    assert any(name.startswith("filesystem.read") for name in seen["found"]["read file"].structured_content["tools"])
    ran = seen["ran"]
    assert not ran.is_error, ran.content[0].text
    notes = len(_peers.NOTES)
    assert ran.structured_content["result"] == {"notes": notes, "stored": notes, "modified": True, "tz": "UTC"}
    assert {c["server"] for c in ran.structured_content["calls"]} == {"filesystem", "memory", "git", "time"}
    assert not seen["echoed"].is_error and "hi" in json.dumps(seen["echoed"].structured_content["result"])
