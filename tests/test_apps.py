"""MCP Apps on the host side: a call of a tool with an app brings the app's page into the report.

Real parts: a real stdio MCP server with an App (tests/apps_server.py, on the SDK's `Apps`
extension), a real session and worker; the cassette test records and then replays with no
server running.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from codemode.cassette import CassetteSettings
from codemode.config import Config, parse_config
from codemode.engine import Session
from codemode.engine._apps import app_uri, page_of, visibility
from codemode.trust.approval import Answer, ApprovalRequest

SERVER = str(Path(__file__).with_name("apps_server.py"))
APP_URI = "ui://notes/app.html"


def _config(tmp_path: Path, **settings: object) -> Config:
    return parse_config({"mcpServers": {"notes": {"command": sys.executable, "args": [SERVER],
                                                   "env": {"NOTES_FILE": str(tmp_path / "notes.json")}}},
                         "codemode": settings}, source=None, environ={})


def test_a_call_of_a_tool_with_an_app_brings_its_page_and_full_result(tmp_path: Path) -> None:
    audit = tmp_path / "audit.jsonl"
    with Session(_config(tmp_path, audit=str(audit))) as session:
        report = session.run("notes.show_notes()\nnotes.show_notes()")
    assert report.ok, report.error
    first, second = report.calls
    assert first.app is not None and first.app["uri"] == APP_URI
    assert first.app["result"]["structuredContent"] == {"notes": [{"id": 1, "text": "buy milk"},
                                                                  {"id": 2, "text": "call Ada"}]}
    assert first.app["tool"]["name"] == "show_notes"
    assert second.app is not None and second.app["digest"] == first.app["digest"]
    volatile = report.volatile()
    (digest, page), = volatile["apps"].items()  # the page once, however many calls drew it
    assert digest == first.app["digest"] and page["uri"] == APP_URI and "ui/initialize" in page["html"]
    assert volatile["calls"][0]["app"]["digest"] == digest
    assert "html" not in json.dumps(report.payload())  # the compared payload has the call, not the page
    reads = [json.loads(line) for line in audit.read_text().splitlines() if '"resource"' in line]
    assert len(reads) == 1 and reads[0]["uri"] == APP_URI and reads[0]["outcome"] == "ok"  # read once a session


def test_a_recorded_app_replays_offline(tmp_path: Path) -> None:
    cassette = tmp_path / "notes.cassette.jsonl"
    with Session(_config(tmp_path), cassette=CassetteSettings(cassette, "record")) as session:
        recorded = session.run("notes.show_notes()")
    assert any(json.loads(line).get("tool") == "resources/read" for line in cassette.read_text().splitlines())
    with Session(_config(tmp_path), cassette=CassetteSettings(cassette, "replay", True)) as session:
        replayed = session.run("notes.show_notes()")
    assert replayed.ok, replayed.error
    assert replayed.volatile()["apps"] == recorded.volatile()["apps"]


def test_the_tool_meta_names_the_app_in_either_spelling() -> None:
    assert app_uri({"_meta": {"ui": {"resourceUri": "ui://a/b"}}}) == "ui://a/b"
    assert app_uri({"_meta": {"ui/resourceUri": "ui://a/b"}}) == "ui://a/b"  # the deprecated flat key
    assert app_uri({"_meta": {"ui": {"resourceUri": "https://a/b"}}}) is None  # only ui:// is an app
    assert app_uri({"name": "x"}) is None
    assert visibility({"_meta": {"ui": {"visibility": ["model"]}}}) == ["model"]
    assert visibility({}) == ["model", "app"]


def test_a_page_that_is_not_an_mcp_app_is_refused_with_the_reason() -> None:
    plain = {"contents": [{"uri": "ui://a", "mimeType": "text/html", "text": "<p>x</p>"}]}
    assert "not text/html;profile=mcp-app" in str(page_of("s", "ui://a", plain))
    assert "neither text nor blob" in str(page_of("s", "ui://a", {"contents": [
        {"uri": "ui://a", "mimeType": "text/html;profile=mcp-app"}]}))


class _Person:
    """Answers approval questions as a person at the notebook would (the approver seam)."""

    def __init__(self, verdict: str) -> None:
        self.verdict = verdict
        self.asked: list[ApprovalRequest] = []

    def ask(self, request: ApprovalRequest, timeout: float) -> Answer:
        self.asked.append(request)
        return Answer(self.verdict, "a person (test)")


def test_an_apps_destructive_call_goes_through_policy_and_approval(tmp_path: Path) -> None:
    audit = tmp_path / "audit.jsonl"
    with Session(_config(tmp_path, audit=str(audit))) as session:
        drawn = session.run("notes.show_notes()").calls[0]
        person = _Person("deny")
        denied, nothing = session.app_call("notes", "delete_note", {"note_id": 1}, digest=drawn.app["digest"], via=drawn.id,
                                                approver=person)
        assert [r.tool for r in person.asked] == ["delete_note"]  # destructive: a person was asked
        assert denied.error_code == "APPROVAL_DENIED" and nothing is None and denied.via_app == drawn.id
        yes = _Person("once")
        done, result = session.app_call("notes", "delete_note", {"note_id": 1}, digest=drawn.app["digest"], via=drawn.id, approver=yes)
        assert done.ok and done.approval == {"decision": "approved", "by": "a person (test)",
                                             "waited": done.approval["waited"]}
        assert result is not None and result["content"][0]["text"] == "note 1 deleted, 1 left"
        refused, _ = session.app_call("notes", "admin_reset", {}, digest=drawn.app["digest"], via=drawn.id, approver=yes)
        assert refused.error_code == "NOT_FOR_APPS" and "visibility" in (refused.error or "")
        assert len(yes.asked) == 1  # a call not for apps is refused before anyone is asked
        stranger, _ = session.app_call("notes", "show_notes", {}, digest="0" * 64, via=drawn.id, approver=yes)
        assert stranger.error_code == "NOT_FOR_APPS"  # a page this session never read (a saved notebook's) cannot call
        readme, _ = session.app_read("notes", "notes://readme", digest=drawn.app["digest"], via=drawn.id)
        assert readme is not None and readme["contents"][0]["text"] == "keep notes short"
        unknown, why = session.app_read("notes", "notes://readme", digest="0" * 64)
        assert unknown is None and "not one this session read" in why
        after = session.run("notes.show_notes()['notes']")
    assert after.value == [{"id": 2, "text": "call Ada"}]
    calls = [json.loads(line) for line in audit.read_text().splitlines() if '"event":"call"' in line]
    assert [(c["tool"], c["outcome"], c.get("code"), c.get("via_app")) for c in calls] == [
        ("show_notes", "ok", None, None), ("delete_note", "error", "APPROVAL_DENIED", drawn.id),
        ("delete_note", "ok", None, drawn.id), ("admin_reset", "error", "NOT_FOR_APPS", drawn.id),
        ("show_notes", "error", "NOT_FOR_APPS", drawn.id), ("show_notes", "ok", None, None)]  # an app's calls name the call whose app made them


def test_a_saved_notebook_with_an_app_compares_on_its_calls_and_replays_offline(tmp_path: Path) -> None:
    import nbformat
    from nbclient import NotebookClient
    from test_record_replay_cli import _env, codemode_cli

    def write_config(command: str) -> None:
        (tmp_path / "mcp.json").write_text(json.dumps({"mcpServers": {"notes": {
            "command": command, "args": [SERVER], "env": {"NOTES_FILE": str(tmp_path / "notes.json")}}}}))

    write_config(sys.executable)
    book = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(src) for src in (
        "%load_ext codemode", "%%codemode\nlen(notes.show_notes()['notes'])")])
    book.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    saved = dict(os.environ)
    os.environ.update(_env(tmp_path))
    try:
        NotebookClient(book, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    finally:
        os.environ.clear()
        os.environ.update(saved)
    path = tmp_path / "notes.ipynb"
    nbformat.write(book, path)
    (report,) = [o for o in book.cells[1].outputs if "application/vnd.codemode.run+json" in o.get("data", {})]
    assert "<script" not in json.dumps(report["data"]).lower()  # the page is in the metadata only
    assert "ui://notes/app.html" in json.dumps(report["metadata"]["application/vnd.codemode.run+json"]["apps"])
    recorded = codemode_cli("test", "--record", path.name, cwd=tmp_path)
    assert recorded.returncode == 0, recorded.stdout[-3000:] + recorded.stderr[-2000:]
    tools = [json.loads(line).get("tool") for line in (tmp_path / "notes.cassette.jsonl").read_text().splitlines()]
    assert "resources/read" in tools and "show_notes" in tools
    write_config("/nonexistent/server")  # replay must never start it: the page comes from the cassette
    replayed = codemode_cli("test", path.name, cwd=tmp_path)
    assert replayed.returncode == 0, replayed.stdout[-3000:] + replayed.stderr[-2000:]
    assert "passed" in replayed.stdout and "failed" not in replayed.stdout


def test_the_live_panel_leaves_the_apps_to_the_final_report(tmp_path: Path) -> None:
    import dataclasses

    with Session(_config(tmp_path)) as session:
        report = session.run("notes.show_notes()")
    live = dataclasses.replace(report, running=True).volatile()  # as the panel's snapshots are made
    assert "apps" not in live and "app" not in live["calls"][0]
    assert "apps" in report.volatile() and "app" in report.volatile()["calls"][0]
