"""The audit trail of `codemode serve` ties each event to a client: `search` events, and on
every run event the session (a digest of its handle, never the handle), the client's name and
version, and a digest of the code, in both protocol eras."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from _serving import run_stdio, write_config

from codemode.serve._handles import digest as handle_digest
from codemode.trust.audit import digest


@pytest.mark.parametrize("mode", ["2026-07-28", "legacy"])
def test_search_and_run_events_name_the_session_digest_the_client_and_the_code(tmp_path: Path, mode: str) -> None:
    from mcp import types

    audit = tmp_path / "audit.jsonl"
    config = write_config(tmp_path / "mcp.json", {"audit": str(audit), "poolSize": 0})
    code = "rows = demo.list_customers()\nlen(rows)"

    async def scenario(client: Any) -> str:
        await client.call_tool("search", {"query": "customers", "detail": "names"})
        first = await client.call_tool("execute", {"code": code})
        handle = first.structured_content["session"]
        await client.call_tool("execute", {"code": "rows[0]['id']", "session": handle})
        return str(handle)

    handle = run_stdio(config, scenario, mode=mode,
                       client_info=types.Implementation(name="audit-test", version="1.2"))
    events = [json.loads(line) for line in audit.read_text(encoding="utf-8").splitlines()]
    (search,) = [e for e in events if e["event"] == "search"]
    assert search["query"] == "customers" and search["client"] == "audit-test/1.2" and search["hits"] >= 1
    runs = [e for e in events if e["event"] in ("run.start", "run.end")]
    assert len(runs) == 4
    assert {e["handle"] for e in runs} == {handle_digest(handle)} and handle not in audit.read_text()
    assert {e["client"] for e in runs} == {"audit-test/1.2"}
    assert [e["codeDigest"] for e in runs] == [digest(code)] * 2 + [digest("rows[0]['id']")] * 2
    calls = [e for e in events if e["event"] == "call"]
    assert calls and all(e["handle"] == handle_digest(handle) for e in calls)
