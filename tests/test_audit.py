"""The audit trail: one JSON line per event, no secret in it, whole lines from many processes.

A real session on the demo server writes a mixed run (a search, calls that succeed and fail,
an approval refused and one pre-approved); the file is read back line by line and through
`codemode audit`. Two processes append to one file at once, with lines longer than a pipe's
atomic write, and every line must come back whole.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from codemode.config import demo_config, parse_config
from codemode.engine import Session
from codemode.trust.audit import (
    AuditLog,
    audit_path,
    default_audit_path,
    digest,
    parse_since,
    read_events,
    render_table,
)
from codemode.trust.redact import Redactor

SRC = str(Path(__file__).resolve().parent.parent / "src")
TOKEN = "tok-3f9a7c21e8b44d05"  # what the environment gives ${DEMO_TOKEN}
PATTERN_SECRET = "sk-live-9QxW2mZk7Lp4"  # matched by the config's redact pattern
CLI_TIMEOUT = 120.0

MIXED = f"""
from codemode import ToolError
found = codemode.search("cancel an order")
orders = demo.list_orders(status="open", limit=2)
try:
    demo.read_note(name="{PATTERN_SECRET}")
except ToolError as exc:
    print("note", exc.code)
hits = demo.search_products(query="{TOKEN}")
try:
    demo.cancel_order(order_id=1030)
except ToolError as exc:
    print("cancel", exc.code)
demo.cancel_order(order_id=1029)["status"]
"""


def _config(tmp_path: Path, **settings: Any) -> dict[str, Any]:
    demo = demo_config().servers["demo"].model_dump(exclude_defaults=True)
    demo["env"] = {**demo.get("env", {}), "DEMO_TOKEN": "${DEMO_TOKEN}"}
    return {"mcpServers": {"demo": demo},
            "codemode": {"audit": str(tmp_path / "audit.jsonl"), "redact": [r"sk-live-[A-Za-z0-9]+"], **settings}}


def _lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_a_mixed_run_writes_every_event_and_no_secret(tmp_path: Path) -> None:
    data = _config(tmp_path, auditArguments=True, preapproved=[])
    config = parse_config(data, source=None, environ={**os.environ, "DEMO_TOKEN": TOKEN})
    with Session(config, face="cli") as session:
        report = session.run(MIXED, approve=None)
        flagged = session.run('demo.cancel_order(order_id=1028)["status"]', approve=["demo.cancel_order"])
    assert report.stdout == "note UPSTREAM_ERROR\ncancel APPROVAL_REQUIRED\n"
    raw = (tmp_path / "audit.jsonl").read_text(encoding="utf-8")
    assert TOKEN not in raw and PATTERN_SECRET not in raw and "[REDACTED]" in raw
    events = _lines(tmp_path / "audit.jsonl")
    mine = [e for e in events if e["run"] == report.run_id]
    kinds = [(e["event"], e.get("tool"), e.get("outcome")) for e in mine]
    assert kinds[0] == ("run.start", None, None) and kinds[-1][0] == "run.end"
    assert ("search", None, "ok") in kinds
    assert ("call", "list_orders", "ok") in kinds and ("call", "read_note", "error") in kinds
    assert ("call", "search_products", "ok") in kinds
    assert ("approval", "cancel_order", "refused") in kinds
    assert kinds.count(("call", "cancel_order", "error")) == 2  # both refused, neither reached the server
    assert all(e["face"] == "cli" and e["session"] == session.id for e in events)
    assert all(e["time"].endswith("Z") for e in events)
    calls = [e for e in mine if e["event"] == "call"]
    assert all(e["args"].startswith("sha256:") and "duration" in e for e in calls)
    assert next(e for e in calls if e["tool"] == "search_products")["arguments"] == {"query": "[REDACTED]"}
    assert next(e for e in calls if e["tool"] == "read_note")["code"] == "UPSTREAM_ERROR"
    search = next(e for e in mine if e["event"] == "search")
    assert search["query"] == "cancel an order"
    end = mine[-1]
    assert end["outcome"] == "error" and end["code"] == "APPROVAL_REQUIRED" and end["calls"] == 5
    approved = [e for e in events if e["run"] == flagged.run_id and e["event"] == "approval"]
    assert [(e["outcome"], e["by"]) for e in approved] == [("preapproved", "--approve")]


def test_arguments_stay_out_unless_asked_for_and_the_digest_tells_calls_apart(tmp_path: Path) -> None:
    config = parse_config(_config(tmp_path), source=None, environ={**os.environ, "DEMO_TOKEN": TOKEN})
    with Session(config) as session:
        session.run('demo.get_order(order_id=1001)\ndemo.get_order(order_id=1002)\ndemo.get_order(order_id=1001)')
    calls = [e for e in _lines(tmp_path / "audit.jsonl") if e["event"] == "call"]
    assert all("arguments" not in e for e in calls)
    first, second, third = (e["args"] for e in calls)
    assert first == third != second == digest({"order_id": 1002})


def test_where_the_audit_goes_by_face_and_config(tmp_path: Path) -> None:
    env = {"XDG_STATE_HOME": str(tmp_path / "state"), "HOME": str(tmp_path)}
    assert default_audit_path(env) == tmp_path / "state" / "codemode" / "audit.jsonl"
    assert default_audit_path({"HOME": str(tmp_path)}) == tmp_path / ".local" / "state" / "codemode" / "audit.jsonl"
    config = demo_config()
    assert audit_path(config, "serve", env) == tmp_path / "state" / "codemode" / "audit.jsonl"
    assert audit_path(config, "kernel", env) is None and audit_path(config, "cli", env) is None
    off = config.model_copy(update={"audit": False})
    assert audit_path(off, "serve", env) is None


def test_two_processes_appending_at_once_tear_no_line(tmp_path: Path) -> None:
    path = tmp_path / "shared.jsonl"
    # Lines of ~12 KB: well past PIPE_BUF, so without the lock writes could interleave.
    writer = (
        "import sys\nfrom pathlib import Path\nfrom codemode.trust.audit import AuditLog\nfrom codemode.trust.redact import Redactor\n"
        "log = AuditLog(Path(sys.argv[1]), face='cli', session=sys.argv[2], redactor=Redactor())\n"
        "for i in range(400):\n    log.event('search', run=str(i), query=sys.argv[2] * 3000)\n"
    )
    procs = [subprocess.Popen([sys.executable, "-c", writer, str(path), name], env={**os.environ, "PYTHONPATH": SRC})
             for name in ("AAAA", "BBBB")]
    assert [p.wait(timeout=CLI_TIMEOUT) for p in procs] == [0, 0]
    lines = path.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 800
    events = [json.loads(line) for line in lines]  # a torn line would not parse
    for name in ("AAAA", "BBBB"):
        mine = [e for e in events if e["session"] == name]
        assert [e["run"] for e in mine] == [str(i) for i in range(400)]
        assert all(e["query"] == name * 3000 for e in mine)
    assert oct(path.stat().st_mode & 0o777) == "0o600"


def test_reading_filters_by_time_session_and_run(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    log = AuditLog(path, face="python", session="01SESSIONAAAAAAAAAAAAAAAAA", redactor=Redactor())
    log.event("run.start", run="01RUNONEAAAAAAAAAAAAAAAAAA")
    log.event("run.end", run="01RUNTWOBBBBBBBBBBBBBBBBBB", outcome="ok", duration=0.25)
    log.close()
    with path.open("a") as f:
        f.write("not json\n")
    assert [e["event"] for e in read_events(path, run="BBBBBBBB")] == ["run.end"]
    assert len(list(read_events(path, session="01SESSION"))) == 2
    assert list(read_events(path, since=datetime.now(timezone.utc) + timedelta(hours=1))) == []
    table = render_table(read_events(path))
    assert table.splitlines()[0].split() == ["time", "face", "session", "run", "event", "what", "outcome", "code", "ms"]
    assert "250.0" in table
    assert parse_since("2h", clock=7200.0) == datetime.fromtimestamp(0, timezone.utc)
    assert parse_since("2026-11-30").tzinfo is not None
    with pytest.raises(ValueError, match="--since"):
        parse_since("yesterday")


def test_codemode_audit_prints_a_table_or_json(tmp_path: Path) -> None:
    config = tmp_path / "mcp.json"
    config.write_text(json.dumps(_config(tmp_path)))
    env = {**os.environ, "PYTHONPATH": SRC, "DEMO_TOKEN": TOKEN}
    done = subprocess.run([sys.executable, "-m", "codemode", "exec", "--json", "--config", str(config), "-c",
                           "demo.list_notes()"], capture_output=True, text=True, env=env, timeout=CLI_TIMEOUT,
                          stdin=subprocess.DEVNULL)
    run_id = json.loads(done.stdout)["runId"]
    table = subprocess.run([sys.executable, "-m", "codemode", "audit", "--config", str(config), "--since", "1h"],
                           capture_output=True, text=True, env=env, timeout=CLI_TIMEOUT)
    assert table.returncode == 0, table.stderr
    assert "demo.list_notes" in table.stdout and run_id[-8:] in table.stdout
    as_json = subprocess.run([sys.executable, "-m", "codemode", "audit", "--file", str(tmp_path / "audit.jsonl"),
                              "--run", run_id, "--json"], capture_output=True, text=True, env=env, timeout=CLI_TIMEOUT)
    events = [json.loads(line) for line in as_json.stdout.splitlines()]
    assert [e["event"] for e in events] == ["run.start", "call", "run.end"] and {e["run"] for e in events} == {run_id}
    missing = subprocess.run([sys.executable, "-m", "codemode", "audit", "--file", str(tmp_path / "none.jsonl")],
                             capture_output=True, text=True, env=env, timeout=CLI_TIMEOUT)
    assert missing.returncode == 2 and "no audit file" in missing.stderr


def test_run_ids_sort_by_time_and_do_not_collide_across_processes(tmp_path: Path) -> None:
    code = "from codemode.shared.ids import new_id\nprint('\\n'.join(new_id() for _ in range(2000)))"
    outs = [subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                           env={**os.environ, "PYTHONPATH": SRC}).stdout.split() for _ in range(2)]
    first, second = outs
    assert first == sorted(first) and second == sorted(second)  # made later, sorts later
    assert len(set(first) | set(second)) == 4000
    assert all(len(i) == 26 and set(i) <= set("0123456789ABCDEFGHJKMNPQRSTVWXYZ") for i in first)
    assert first[-1] < second[0]  # the second process ran after the first
