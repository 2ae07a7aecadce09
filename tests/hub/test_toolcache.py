"""Tool lists cached on disk: a session builds its namespaces from the cache and connects a
server only on its first call; the live list, once connected, corrects a stale cache.

Real parts: the embedded demo server (in process, as `demo_config()` serves it), a real
worker, the cache files in a directory of the test's own.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from codemode.config import demo_config, parse_config
from codemode.engine import Session
from codemode.hub import _toolcache


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("CODEMODE_TOOL_CACHE", "1")
    monkeypatch.setenv("CODEMODE_CACHE_DIR", str(tmp_path))
    return tmp_path


def test_a_connected_server_writes_its_tools_and_the_next_session_starts_from_them(cache: Path) -> None:
    with Session(demo_config()) as first:
        assert first.servers["demo"].status == "connected"
        tools = sorted(t.name for t in first.tools("demo"))
    [entry] = list(cache.glob("*.json"))
    assert sorted(t["name"] for t in json.loads(entry.read_text())["tools"]) == sorted(
        t.tool.name for t in first.tools("demo"))

    with Session(demo_config()) as second:
        assert second.servers["demo"].status == "idle"  # not connected: nothing called it yet
        assert sorted(t.name for t in second.tools("demo")) == tools
        report = second.run("print(sorted(n for n in dir(demo) if not n.startswith('_'))[:2]); 1 + 1")
        assert report.ok and report.value == 2 and report.calls == ()
        assert second.servers["demo"].status == "idle"
        report = second.run("demo.get_customer(customer_id=1)['name']")
        assert report.ok and report.value == "Anna Keller", report.error
        assert second.servers["demo"].status == "connected"
        assert not second.run("x = 1").worker_restarted  # the live list matched the cache


def test_a_stale_cache_is_corrected_by_the_live_list_and_the_next_run_says_so(cache: Path) -> None:
    config = demo_config()
    with Session(config):
        pass
    entry = json.loads(next(cache.glob("*.json")).read_text())
    entry["tools"] = [t for t in entry["tools"] if t["name"] != "get_customer"]
    entry["tools"].append({**entry["tools"][0], "name": "gone_tool"})
    _toolcache.save(config.servers["demo"], {k: v for k, v in entry.items() if k != "format"})

    with Session(demo_config()) as session:
        assert {t.tool.name for t in session.tools("demo")} >= {"gone_tool"}
        assert session.run("hasattr(demo, 'get_customer')").value is False
        assert session.run("demo.list_notes()").ok  # the first call connects: the live list
        report = session.run("hasattr(demo, 'get_customer'), hasattr(demo, 'gone_tool')")
        assert report.value == [True, False]
        assert report.worker_restarted and "tools changed" in report.restart_reason
    rewritten = json.loads(next(cache.glob("*.json")).read_text())
    assert "gone_tool" not in {t["name"] for t in rewritten["tools"]}


def test_the_cache_key_changes_with_what_decides_the_program(cache: Path) -> None:
    from codemode.config import StdioServer

    base = StdioServer(command="python3", args=["-m", "x"])
    assert _toolcache.identity(base) == _toolcache.identity(StdioServer(command="python3", args=["-m", "x"]))
    assert _toolcache.identity(base) != _toolcache.identity(StdioServer(command="python3", args=["-m", "y"]))
    assert _toolcache.identity(base) != _toolcache.identity(
        StdioServer(command="python3", args=["-m", "x"], env={"TOKEN": "a"}))
    assert _toolcache.identity(base) != _toolcache.identity(demo_config().servers["demo"])


def test_the_cache_is_off_with_codemode_tool_cache_0(cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CODEMODE_TOOL_CACHE", "0")
    with Session(demo_config()) as session:
        assert session.servers["demo"].status == "connected"
    assert list(cache.glob("*.json")) == []


def test_a_cached_server_the_first_runs_code_names_connects_with_the_start(cache: Path) -> None:
    with Session(demo_config()):
        pass  # its tool list is cached now
    with Session(demo_config()) as session:  # started before any code: nothing to connect
        assert session.run("print(1)").ok
        assert session.servers["demo"].status == "idle"
    session = Session(demo_config())
    try:  # code that names the namespace (without calling it here): it connected before the run
        report = session.run("tools = [n for n in dir(demo) if n.startswith('get_')]\nif not tools:\n"
                             "    demo.get_customer(customer_id=1)\nlen(tools)")
        assert report.ok and report.value > 0 and report.calls == ()
        assert session.servers["demo"].status == "connected"
    finally:
        session.close()
    with Session(demo_config()) as session:  # a syntax error names nothing and starts nothing
        assert not session.run("demo.(").ok
        assert session.servers["demo"].status == "idle"


def test_a_run_waits_for_the_connect_ahead_of_a_slow_server_its_code_names(cache: Path) -> None:
    rogue = str(Path(__file__).resolve().parents[1] / "faults" / "rogue_server.py")
    config = parse_config({"mcpServers": {"slow": {"command": sys.executable, "args": [rogue, "slow-init"]}}})
    with Session(config):
        pass  # connected once (3 s into initialize): its tool list is cached
    session = Session(config)
    try:  # still connecting when the worker is up: the namespace must be there all the same
        report = session.run("[n for n in dir(slow) if not n.startswith('_')]")
        assert report.ok and report.value == ["wait"], report.error
        assert session.servers["slow"].status == "connected"
    finally:
        session.close()


def test_calls_that_meet_a_lazy_connect_in_flight_wait_for_it(cache: Path) -> None:
    """Two calls at once on a server known from the cache: the first connects it, the
    second finds it connecting and waits, rather than failing as if it had crashed."""
    import functools

    import anyio

    from codemode.hub import Hub, get_portal

    with Session(demo_config()):
        pass  # writes the cache
    portal = get_portal()
    hub = Hub(demo_config())
    task, _ = portal.start_task(hub.serve, name="test-lazy-hub")
    try:
        assert hub.servers["demo"].status == "idle"

        async def both() -> list[object]:
            results: list[object] = [None, None]

            async def one(i: int) -> None:
                results[i] = await hub.call("demo", "get_customer", {"customer_id": i + 1})

            async with anyio.create_task_group() as tg:
                tg.start_soon(one, 0)
                await anyio.sleep(0)  # the first has marked the server connecting
                tg.start_soon(one, 1)
            return results

        first, second = portal.call(both)
        assert first.ok and second.ok, (first.error, second.error)  # type: ignore[attr-defined]
        assert hub.servers["demo"].status == "connected"
    finally:
        portal.call(hub.aclose)
        task.result(timeout=30)


def test_a_tool_cached_read_only_that_its_server_now_marks_destructive_is_held(cache: Path) -> None:
    # The code reaches the server by a name the connect-ahead cannot see: the call connects
    # it lazily, and the live annotations (destructiveHint) decide, not the cached ones.
    config = demo_config()
    with Session(config):
        pass
    entry = json.loads(next(cache.glob("*.json")).read_text())
    for tool in entry["tools"]:
        if tool["name"] == "cancel_order":
            tool["annotations"] = {"readOnlyHint": True}
    _toolcache.save(config.servers["demo"], {k: v for k, v in entry.items() if k != "format"})

    with Session(demo_config()) as session:
        assert session.servers["demo"].status == "idle"
        report = session.run('globals()["de" + "mo"].cancel_order(order_id=1030)')
        assert session.servers["demo"].status == "connected"
        assert not report.ok and report.error is not None and report.error["code"] == "APPROVAL_REQUIRED"
        (call,) = report.calls
        assert call.approval is not None and call.approval["decision"] == "refused"
        assert session.run('demo.get_order(order_id=1030)["status"]').value == "open"  # never reached
