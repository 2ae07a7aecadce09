"""MCP Apps in a real JupyterLab: the renderer draws a tool's app in a sandboxed frame, hands
it the call's input and result, and relays its tool calls through the kernel to the session.

Two real App servers: the reference `@modelcontextprotocol/server-basic-vanillajs` from npm
(tests/peers) and our own (tests/apps_server.py: a list of notes with a button that calls a
destructive tool, one that calls a tool not meant for apps, a link, a message, and a fetch the
CSP must block). JupyterLab serves a notebook on the codemode kernel, chromium runs it as a
person does, and the tests click inside the apps' frames.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from _lab import ARTIFACTS, chromium, chromium_page, codemode_notebook, jupyterlab, lab_env, notebook_url

UI_TIMEOUT = 90_000  # ms: the first cell starts the kernel, the worker and both servers
TESTS = Path(__file__).resolve().parents[1]
BASIC = TESTS / "peers" / "node_modules" / ".bin" / "mcp-server-basic-vanillajs"
CELLS = ["notes.show_notes()", "basic.get_time()"]

pytestmark = pytest.mark.skipif(not BASIC.exists(), reason="the npm test peers are not installed: make peers")


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    chromium()
    root = tmp_path_factory.mktemp("apps")
    (root / "apps.ipynb").write_text(json.dumps(codemode_notebook(CELLS)), encoding="utf-8")
    config = {
        "mcpServers": {
            "notes": {"command": sys.executable, "args": [str(TESTS / "apps_server.py")],
                      "env": {"NOTES_FILE": str(root / "notes.json")}},
            "basic": {"command": str(BASIC), "args": ["--stdio"]},
        },
        "codemode": {"preapproved": ["basic.*"]},  # get-time has no annotations: destructive by the spec's default
    }
    (root / "mcp.json").write_text(json.dumps(config), encoding="utf-8")
    env = lab_env(root)
    env["CODEMODE_CONFIG"] = str(root / "mcp.json")
    with jupyterlab(root, env) as url:
        yield url, root


@pytest.fixture(scope="module")
def page(lab: tuple[str, Path]) -> Iterator[Any]:
    url, _ = lab
    ARTIFACTS.mkdir(exist_ok=True)
    with chromium_page(UI_TIMEOUT, height=1600) as page:
        try:
            page.goto(notebook_url(url, "apps.ipynb"))
            page.get_by_text("Python 3 (Code Mode) | Idle").wait_for()
            page.locator(".jp-Notebook .jp-CodeCell .jp-InputArea-editor").first.click()
            for _ in CELLS:
                page.keyboard.press("Shift+Enter")
            page.locator(".jp-CodemodeRun-app").nth(len(CELLS) - 1).wait_for(state="attached")
            page.get_by_text("Python 3 (Code Mode) | Idle").wait_for()
            yield page
        finally:
            page.screenshot(path=str(ARTIFACTS / "apps.png"), full_page=True)


def _cell(page: Any, n: int) -> Any:
    return page.locator(".jp-Notebook .jp-CodeCell").nth(n)


def _app(page: Any, n: int) -> Any:
    return _cell(page, n).frame_locator(".jp-CodemodeRun-appFrame")


def test_the_app_is_drawn_in_a_frame_that_is_sandboxed_and_under_the_csp(page: Any) -> None:
    frame = _cell(page, 0).locator(".jp-CodemodeRun-appFrame")
    assert frame.get_attribute("sandbox") == "allow-scripts"  # never allow-same-origin
    csp = frame.get_attribute("data-csp") or ""
    assert "default-src 'none'" in csp and "connect-src 'none'" in csp and "'self'" not in csp
    srcdoc = frame.get_attribute("srcdoc") or ""
    assert srcdoc.startswith('<!DOCTYPE html><html><head><meta http-equiv="Content-Security-Policy"')
    # The app's fetch to a loopback port was blocked, and it says so in a log shown in the cell.
    _cell(page, 0).locator(".jp-CodemodeRun-appNote[data-kind='log']", has_text="csp blocked connect-src").wait_for()
    inner = next(f for f in page.frames if f.parent_frame is not None and "notes" in (f.title() or ""))
    assert inner.evaluate("() => { try { return parent.document.title; } catch (e) { return e.name; } }") == \
        "SecurityError"  # an opaque origin: JupyterLab's document is out of its reach


def test_the_app_gets_the_input_and_the_full_result_after_it_initialized(page: Any) -> None:
    app = _app(page, 0)
    app.locator("#notes li").nth(1).wait_for()
    assert app.locator("#notes li").all_inner_texts() == ["1: buy milk", "2: call Ada"]  # structuredContent
    assert app.locator("#input").inner_text() == "input {}"
    assert app.locator("#theme").inner_text() == "theme light with colours"  # JupyterLab's, as the spec's variables


def test_the_reference_app_from_npm_draws_and_calls_its_server_through_the_kernel(page: Any) -> None:
    app = _app(page, 1)
    time_shown = app.locator("#server-time")
    time_shown.filter(has_text=re.compile(r"^\d{4}-\d\d-\d\dT")).wait_for()  # the result's time
    first = time_shown.inner_text()
    app.locator("#get-time-btn").click()
    note = _cell(page, 1).locator(".jp-CodemodeRun-appNote[data-kind='call']")
    note.locator(".jp-CodemodeRun-appOutcome").wait_for()
    assert "basic.get-time({}) asked by the app" in note.inner_text() and note.get_attribute("data-state") == "ok"
    time_shown.filter(has_not_text=first).wait_for()  # the app drew the new call's result


def test_a_destructive_call_from_the_app_waits_for_a_person_in_the_notebook(page: Any) -> None:
    cell = _cell(page, 0)
    app = _app(page, 0)
    app.locator("#delete").click()
    note = cell.locator(".jp-CodemodeRun-appNote[data-kind='call']").first
    question = note.locator(".jp-CodemodeRun-appQuestion")
    question.wait_for()
    assert note.get_attribute("data-state") == "waiting"
    asked = question.inner_text()
    assert "notes.delete_note needs approval" in asked and "note_id=1" in asked  # the short prompt: Python names
    assert app.locator("#answer").inner_text() == "deleting…"  # nothing went out before the yes
    note.get_by_role("button", name="Allow once").click()
    app.locator("#answer").filter(has_text=re.compile("^deleted")).wait_for()
    assert app.locator("#answer").inner_text() == "deleted: note 1 deleted, 1 left"
    assert note.get_attribute("data-state") == "ok"
    # The report shows the app's call under the call that drew the app, with who approved it.
    via = cell.locator(".jp-CodemodeRun-call").first.locator(".jp-CodemodeRun-viaAppCall").first
    via.wait_for()
    assert 'notes.delete_note({"note_id":1})' in via.inner_text()
    assert "approved by a person (notebook app)" in via.inner_text() and via.get_attribute("data-status") == "ok"
    assert app.locator("#notes li").count() == 2  # the app's frame was kept through the report's redraw


def test_a_tool_not_for_apps_is_refused_to_the_app(page: Any) -> None:
    app = _app(page, 0)
    app.locator("#forbidden").click()
    app.locator("#answer").filter(has_text=re.compile("^refused")).wait_for()
    assert "not for apps" in app.locator("#answer").inner_text()
    assert "refused" in _cell(page, 0).locator(".jp-CodemodeRun-appNote[data-kind='call']").last.inner_text()


def test_the_app_reads_a_resource_of_its_server_through_the_kernel(page: Any) -> None:
    app = _app(page, 0)
    app.locator("#readme").click()
    app.locator("#answer").filter(has_text="readme: keep notes short").wait_for()
    assert _cell(page, 0).locator(".jp-CodemodeRun-appNote[data-kind='read']").last.get_attribute("data-state") == "ok"


def test_a_link_is_shown_and_opened_only_by_a_click_and_messages_are_shown(page: Any) -> None:
    cell = _cell(page, 0)
    app = _app(page, 0)
    app.locator("#link").click()
    link = cell.locator(".jp-CodemodeRun-appNote[data-kind='link'] a")
    link.wait_for()
    assert link.get_attribute("href") == "https://example.org/notes-docs"
    assert link.get_attribute("rel") == "noopener noreferrer" and link.get_attribute("target") == "_blank"
    assert len(page.context.pages) == 1  # nothing opened by itself
    app.locator("#message").click()
    cell.locator(".jp-CodemodeRun-appNote[data-kind='message']", has_text="hello from the notes app").wait_for()


def test_the_saved_notebook_holds_the_page_in_metadata_and_no_script_in_html(page: Any, lab: tuple[str, Path]) -> None:
    _, root = lab
    page.locator(".lm-MenuBar-item", has_text="File").click()  # the keys would go to the focused app's frame
    page.get_by_role("menuitem", name="Save Notebook", exact=False).first.click()
    page.locator(".lm-TabBar-tab.jp-mod-dirty").wait_for(state="detached")
    saved = json.loads((root / "apps.ipynb").read_text(encoding="utf-8"))
    outputs = [o for cell in saved["cells"] for o in cell["outputs"]]
    reports = [o for o in outputs if "application/vnd.codemode.run+json" in o.get("data", {})]
    assert len(reports) == 2
    for output in outputs:
        for mime, value in output.get("data", {}).items():
            text = json.dumps(value)
            assert "<script" not in text.lower(), mime  # the apps' pages are only in metadata
    meta = reports[0]["metadata"]["application/vnd.codemode.run+json"]
    (page_,) = meta["apps"].values()
    assert page_["uri"] == "ui://notes/app.html" and "<script>" in page_["html"]
    assert meta["calls"][0]["app"]["result"]["structuredContent"]["notes"][0]["text"] == "buy milk"
    kept = [(c["tool"], c["status"], (c.get("error") or {}).get("code")) for c in meta["appCalls"]]
    assert ("delete_note", "ok", None) in kept and ("admin_reset", "error", "NOT_FOR_APPS") in kept
    assert all(c["via"] == meta["calls"][0]["id"] for c in meta["appCalls"])


def test_the_app_follows_jupyterlab_into_the_dark_theme(page: Any) -> None:
    app = _app(page, 0)
    page.locator(".lm-MenuBar-item", has_text="Settings").click()
    page.locator(".lm-Menu-item", has_text="Theme").first.hover()
    page.get_by_role("menuitem", name="JupyterLab Dark", exact=True).click()
    page.locator("body[data-jp-theme-light='false']").wait_for(state="attached")
    app.locator("#theme").filter(has_text="theme dark with colours").wait_for()  # host-context-changed
    page.locator("#jupyterlab-splash").wait_for(state="detached")
    assert app.locator("#notes li").count() == 2  # the same frame: not reloaded
