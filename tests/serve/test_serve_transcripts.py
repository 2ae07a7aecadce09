"""Transcripts: a client session of `codemode serve --record` as a notebook with its cassette
beside it, which `codemode test` re-runs offline and a live re-run repeats.

One real session over stdio through the SDK's client (search, then executes with tool calls:
one at a time, concurrent, a failed call caught, a failing cell, `input`, prints and a
display() among them), then the transcript re-run by `codemode test` (nbval, a real kernel):
against the live servers, and from the cassette with the config's server made unstartable.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from _serving import codemode_test, run_stdio, write_config

SESSION = [
    ("search", {"query": "customers orders"}),
    ("execute", {"code": "rows = demo.list_customers(country='DE')\nprint(len(rows))\n[r['name'] for r in rows][:2]"}),
    ("execute", {"code": ("import asyncio\n"
                          "one, teas = await asyncio.gather(demo.get_customer.acall(customer_id=rows[0]['id']),\n"
                          "                                 demo.list_products.acall(category='tea'))\n"
                          "print(one['name'])\ndisplay({'teas': len(teas)})\nprint('after the display')\nlen(teas)")}),
    ("search", {"query": "cancel an order", "detail": "names", "limit": 3}),
    ("execute", {"code": ("try:\n    demo.get_order(order_id=999999)\nexcept ToolError as e:\n"
                          "    print('failed:', e.code)\n")}),
    ("execute", {"code": "rows[0]['nope']"}),
    ("execute", {"code": "x = 2"}),  # no tool call, no output
    ("execute", {"code": "input['x'] + len(rows) + x", "input": {"x": 41}}),
]


@pytest.fixture(scope="module")
def transcript(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, list[Any]]:
    folder = tmp_path_factory.mktemp("transcript")
    config = write_config(folder / "mcp.json", {"cellTimeout": 20})

    async def scenario(client: Any) -> list[Any]:
        return [await client.call_tool(name, arguments) for name, arguments in SESSION]

    results = run_stdio(config, scenario, "--record", str(folder / "record"))
    notebooks = list((folder / "record").glob("*.ipynb"))
    assert len(notebooks) == 1, notebooks
    return notebooks[0], config, results


def test_the_session_ran_as_the_client_saw_it(transcript: tuple[Path, Path, list[Any]]) -> None:
    _, _, results = transcript
    assert [r.is_error for r in results] == [False, False, False, False, False, True, False, False]
    assert results[7].structured_content["result"] == 41 + 2 + 2


def test_the_cassette_beside_the_notebook_holds_the_servers_and_every_call(
        transcript: tuple[Path, Path, list[Any]]) -> None:
    notebook, _, _ = transcript
    cassette = notebook.with_name(notebook.stem + ".cassette.jsonl")
    lines = [json.loads(line) for line in cassette.read_text(encoding="utf-8").splitlines()]
    assert lines[0] == {"codemode": "cassette", "version": 1}
    servers = [line for line in lines if line.get("kind") == "server"]
    assert [s["server"] for s in servers] == ["demo"] and len(servers[0]["tools"]) > 5
    calls = sorted((c["tool"], json.dumps(c["arguments"], sort_keys=True)) for c in lines if c.get("kind") == "call")
    assert calls == sorted([("list_customers", '{"country": "DE"}'), ("get_customer", '{"customer_id": 1}'),
                            ("list_products", '{"category": "tea"}'), ("get_order", '{"order_id": 999999}')])
    failed = next(c for c in lines if c.get("tool") == "get_order")
    assert failed["result"]["isError"] is True
    text = cassette.read_text(encoding="utf-8")
    assert str(notebook.parent) not in text  # the folder is a placeholder: the pair moves together


def test_the_notebook_shows_each_cell_as_the_magic_does(transcript: tuple[Path, Path, list[Any]]) -> None:
    notebook, _, _ = transcript
    cells = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
    assert notebook.with_name(notebook.stem + ".cassette.jsonl").name in cells[0]["source"]
    gathered = next(c for c in cells if "asyncio.gather" in c["source"])
    kinds = [(o["output_type"], o.get("name") or next(iter(o.get("data", {})), "")) for o in gathered["outputs"]]
    assert kinds == [("stream", "stdout"), ("display_data", "text/plain"), ("stream", "stdout"),
                     ("display_data", "application/vnd.codemode.run+json")]
    failing = next(c for c in cells if "'nope'" in c["source"])
    assert failing["metadata"]["tags"] == ["raises-exception"] and failing["outputs"][-1]["ename"] == "KeyError"
    quiet = next(c for c in cells if c["source"] == "%%codemode\nx = 2")
    assert quiet["outputs"] == []


def test_codemode_test_re_runs_the_transcript_live_then_offline_from_its_cassette(
        transcript: tuple[Path, Path, list[Any]]) -> None:
    notebook, config, _ = transcript
    live = codemode_test(notebook, "--live")
    assert live.returncode == 0, live.stdout + live.stderr
    assert "8 passed" in live.stdout  # every code cell ran and its outputs matched the saved ones

    # The server can no longer start: the replay must not need it.
    good = config.read_text(encoding="utf-8")
    settings = json.loads(good)
    settings["mcpServers"]["demo"] = {"command": str(config.parent / "no-such-server")}
    config.write_text(json.dumps(settings), encoding="utf-8")
    try:
        offline = codemode_test(notebook)
        assert offline.returncode == 0, offline.stdout + offline.stderr
        assert "8 passed" in offline.stdout
    finally:
        config.write_text(good, encoding="utf-8")

