"""Cassettes at the hub's boundary: record a real demo session, replay it with no server."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from proctable import children

from codemode.cassette import CassetteSettings, ReplayHub, settings_of
from codemode.config import Config, StdioServer, demo_config, parse_config
from codemode.engine import Session
from codemode.errors import CodemodeError

live_stubs = ""
WORK = """\
orders = demo.list_orders(status="open")
first = demo.get_order(order_id=orders[0]["id"])
cancelled = demo.cancel_order(order_id=1026)
try:
    demo.cancel_order(order_id=1026)  # the same call again: now a tool error
except ToolError as error:
    again = error.code
report = demo.build_report(steps=3)
audit = demo.audit_inventory()
[len(orders), first["id"], cancelled["status"], again, report.splitlines()[0]]
"""


def _config():  # type: ignore[no-untyped-def]
    """The demo, with cancel_order preapproved (a destructive tool asks a person otherwise)."""
    return demo_config().model_copy(update={"preapproved": ("demo.cancel_order",)})


def _demo_processes() -> set[int]:
    """Live demo server processes this test process started."""
    return children(os.getpid(), "codemode.demo")


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, object]]:
    """A cassette of WORK run against the live demo server, and that run's report."""
    path = tmp_path_factory.mktemp("cassette") / "work.cassette.jsonl"
    with Session(_config(), cassette=CassetteSettings(path, "record")) as session:
        report = session.run(WORK)
        global live_stubs
        live_stubs = session.stubs("demo")
    assert report.ok, report.error
    yield path, report


def _stdio_demo() -> Config:
    """`_config()` with the demo as a real stdio server (the built-in default serves it in
    process), so that "no server started" means no process."""
    demo = demo_config().servers["demo"]
    assert isinstance(demo, StdioServer)
    return _config().model_copy(update={"servers": {
        "demo": StdioServer(command=demo.command, args=demo.args, env=demo.env)}})


def _replay(path: Path, strict: bool = True) -> Session:
    return Session(_stdio_demo(), cassette=CassetteSettings(path, "replay", strict))


def test_a_replay_gives_the_recorded_run_without_starting_a_server(recorded: tuple[Path, object]) -> None:
    path, live = recorded
    before = _demo_processes()
    with _replay(path) as session:
        assert session.servers["demo"].status == "connected" and session.servers["demo"].transport == "stdio"
        assert len(session.tools("demo")) == 13  # the namespace, stubs and search work offline
        assert "def get_order(" in session.stubs("demo.get_order")
        assert session.stubs("demo") == live_stubs  # argument order and all
        report = session.run(WORK)
        assert _demo_processes() == before  # no server process was started
    assert report.ok, report.error
    assert report.value == live.value == [6, 1025, "cancelled", "UPSTREAM_ERROR", report.value[4]]  # type: ignore[attr-defined]
    assert report.payload() == live.payload()  # type: ignore[attr-defined]
    build = report.calls[4]
    assert [p["message"] for p in build.progress] == ["step 1 of 3", "step 2 of 3", "step 3 of 3"]
    assert [log["level"] for log in report.calls[5].logs][:2] == ["info", "warning"]
    # The cassette sorts keys, so the wire JSON a model would read differs in order only.
    assert report.tokens is not None and abs(report.tokens.classic_total - live.tokens.classic_total) < 60  # type: ignore[attr-defined]


def test_the_file_is_json_lines_with_sorted_keys_a_version_and_nothing_of_this_machine(
        recorded: tuple[Path, object]) -> None:
    path, _ = recorded
    lines = path.read_text(encoding="utf-8").splitlines()
    assert json.loads(lines[0]) == {"codemode": "cassette", "version": 1}
    entries = [json.loads(line) for line in lines[1:]]
    assert [e["kind"] for e in entries] == ["server"] + ["call"] * 6
    for line in lines:
        assert line == json.dumps(json.loads(line), sort_keys=True, ensure_ascii=False)
    calls = [(e["tool"], e["arguments"]) for e in entries[1:]]
    assert calls[:3] == [("list_orders", {"status": "open"}), ("get_order", {"order_id": 1025}),
                         ("cancel_order", {"order_id": 1026})]
    assert "error" not in entries[3] and entries[4]["result"]["isError"] is True
    text = path.read_text(encoding="utf-8")
    assert str(path.parent) not in text and os.environ.get("HOME", "/root") + "/" not in text
    # Nothing of ours beside the servers' own words: no dates, durations, paths or ids.
    assert set(entries[0]) == {"kind", "server", "transport", "tools", "instructions", "serverVersion",
                               "protocolVersion", "resources", "templates", "prompts", "order"}
    assert {key for e in entries[1:] for key in e} <= {"kind", "server", "tool", "arguments", "result", "progress", "logs",
                                                       "order"}
    order = entries[1]["order"]["/result/structuredContent/result/0"]  # how the server ordered an order's keys
    assert order[:2] == ["id", "customer_id"]


def test_a_strict_replay_fails_an_unrecorded_call_with_the_closest_recorded_one(recorded: tuple[Path, object]) -> None:
    path, _ = recorded
    with _replay(path) as session:
        report = session.run("demo.get_order(order_id=1027)")
    assert not report.ok
    assert report.error is not None and report.error["code"] == "NOT_RECORDED"
    message = report.error["message"]
    assert "demo.get_order(order_id=1027) is not in the cassette work.cassette.jsonl" in message
    assert "the closest recorded call is demo.get_order(order_id=1025): order_id: 1027 here, 1025 recorded" in message


def test_repeats_replay_in_recorded_order_and_one_more_is_not_recorded(recorded: tuple[Path, object]) -> None:
    path, _ = recorded
    code = """
outcomes = []
for _ in range(3):
    try:
        outcomes.append(demo.cancel_order(order_id=1026)["status"])
    except ToolError as error:
        outcomes.append(error.code)
outcomes
"""
    with _replay(path) as session:
        report = session.run(code)
    assert report.value == ["cancelled", "UPSTREAM_ERROR", "NOT_RECORDED"]


def test_without_strict_an_unrecorded_call_goes_live(recorded: tuple[Path, object]) -> None:
    path, _ = recorded
    with _replay(path, strict=False) as session:
        hub = session._hub
        assert isinstance(hub, ReplayHub) and hub._live is None
        report = session.run("demo.get_order(order_id=1027)['id']")
        assert hub._live is not None  # started for this call only
    assert report.value == 1027


def test_auto_records_what_is_new_and_replays_what_is_recorded(tmp_path: Path, recorded: tuple[Path, object]) -> None:
    path = tmp_path / "auto.cassette.jsonl"
    path.write_bytes(recorded[0].read_bytes())
    before = path.read_text().splitlines()
    with Session(_config(), cassette=CassetteSettings(path, "auto")) as session:
        first = session.run("demo.cancel_order(order_id=1026)['status'], demo.get_order(order_id=1027)['id']")
    assert first.value == ["cancelled", 1027]
    after = path.read_text().splitlines()
    assert after[:len(before)] == before  # what was recorded stays; the replayed cancel adds nothing
    assert [(json.loads(line)["tool"], json.loads(line)["arguments"]) for line in after[len(before):]] == [
        ("get_order", {"order_id": 1027})]
    with _replay(path) as session:
        again = session.run("demo.get_order(order_id=1027)['id']")
    assert again.value == 1027


def test_redaction_replaces_patterns_and_expanded_variables_before_writing(tmp_path: Path) -> None:
    config_file = tmp_path / "mcp.json"
    demo = demo_config().servers["demo"]
    config_file.write_text(json.dumps({
        "mcpServers": {"demo": {"command": demo.command, "args": demo.args,  # type: ignore[union-attr]
                                "env": {**demo.env, "SHOP_TOKEN": "${SHOP_TOKEN}"}}},  # type: ignore[union-attr]
        "codemode": {"cassette": "shop.cassette.jsonl", "cassetteMode": "record", "redact": ["Lucas \\w+"]},
    }))
    os.environ["SHOP_TOKEN"] = "Anna Keller"  # a customer's name stands in for a secret the data shows
    try:
        config = parse_config(json.loads(config_file.read_text()), source=str(config_file))
        assert settings_of(config, {}).path == tmp_path / "shop.cassette.jsonl"
        with Session(config, cassette=settings_of(config, {})) as session:
            report = session.run("[c['name'] for c in demo.list_customers()][:3]")
    finally:
        del os.environ["SHOP_TOKEN"]
    assert "Anna Keller" in report.value  # the run itself sees the data
    text = (tmp_path / "shop.cassette.jsonl").read_text()
    assert "Anna Keller" not in text and "Lucas Martin" not in text and "[REDACTED]" in text


def test_a_cassette_from_another_version_or_no_cassette_is_a_clear_error(tmp_path: Path) -> None:
    newer = tmp_path / "newer.cassette.jsonl"
    newer.write_text('{"codemode": "cassette", "version": 99}\n')
    with pytest.raises(CodemodeError, match="format version 99"):
        _replay(newer)
    with pytest.raises(CodemodeError, match="no cassette at .*missing.cassette.jsonl to replay; record one first"):
        _replay(tmp_path / "missing.cassette.jsonl")
    with pytest.raises(CodemodeError, match="cassette mode 'tape' is not one of"):
        settings_of(demo_config(), {"CODEMODE_CASSETTE_MODE": "tape", "CODEMODE_CASSETTE": "x"})


def test_a_cassette_that_says_read_only_cannot_spare_a_live_call_its_approval(tmp_path: Path,
                                                                                recorded: tuple[Path, object]) -> None:
    # Replay without --strict: a call the cassette does not hold goes live, and the live
    # server's annotations decide its approval, whatever the cassette's tools/list says.
    forged = tmp_path / "forged.cassette.jsonl"
    entries = [json.loads(line) for line in recorded[0].read_text().splitlines()]
    for entry in entries:
        for tool in entry.get("tools") or [] if entry.get("kind") == "server" else []:
            if tool["name"] == "cancel_order":
                tool["annotations"] = {"readOnlyHint": True}
    forged.write_text("".join(json.dumps(entry) + "\n" for entry in entries))
    config = _stdio_demo().model_copy(update={"preapproved": ()})
    with Session(config, cassette=CassetteSettings(forged, "replay", False)) as session:
        assert session.tools("demo") and all(
            t.tool.annotations == {"readOnlyHint": True} for t in session.tools("demo") if t.tool.name == "cancel_order")
        report = session.run("demo.cancel_order(order_id=1030)")
        assert not report.ok and report.error is not None and report.error["code"] == "APPROVAL_REQUIRED"
        (call,) = report.calls
        assert call.approval is not None and call.approval["decision"] == "refused"
        assert session.run('demo.get_order(order_id=1030)["status"]').value == "open"  # live, and untouched
