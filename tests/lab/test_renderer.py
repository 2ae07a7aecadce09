"""The JupyterLab renderer in a real browser: JupyterLab on a loopback port, a notebook on
the codemode kernel run from the browser, and assertions on what the renderer drew.

Debian's chromium, driven by playwright with its executable path set (nothing downloads a
browser). Without chromium the test fails and says how to install it, unless
CODEMODE_SKIP_BROWSER=1 asks to skip it.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest
from _lab import ARTIFACTS, chromium, chromium_page, codemode_notebook, jupyterlab, lab_env, notebook_url

UI_TIMEOUT = 90_000  # ms: the first cell also starts the kernel, the worker and the demo server
HOSTILE = "<img src=x onerror=window.__pwned=1>"

# The failing cell comes last, as a run of all cells stops at the first error.
CELLS = [
    'orders = demo.list_orders(status="open")\nprint(len(orders), "open orders")\nlen(orders)',
    "demo.build_report(steps=3)",
    f'print({HOSTILE!r})\ndemo.search_products(query={HOSTILE!r})\n"<script>window.__pwned = 2</script>"',
    "demo.build_report(steps=100)",  # a second of progress: the live panel shows it running (LIVE)
    "demo.get_customer(customer_id=999)",
]
LIVE = CELLS.index("demo.build_report(steps=100)")


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """JupyterLab serving a folder with the test notebook; yields its base URL."""
    chromium()
    root = tmp_path_factory.mktemp("lab")
    (root / "reports.ipynb").write_text(json.dumps(codemode_notebook(CELLS)), encoding="utf-8")
    with jupyterlab(root, lab_env(root)) as url:
        yield url


@pytest.fixture(scope="module")
def page(lab: str) -> Iterator[Any]:
    """The notebook open in chromium, every cell run from the browser, reports drawn."""
    ARTIFACTS.mkdir(exist_ok=True)
    with chromium_page(UI_TIMEOUT) as page:
        try:
            page.goto(notebook_url(lab, "reports.ipynb"))
            page.get_by_text("Python 3 (Code Mode) | Idle").wait_for()
            page.locator(".jp-Notebook .jp-CodeCell .jp-InputArea-editor").first.click()
            for _ in CELLS:
                page.keyboard.press("Shift+Enter")  # run the cell, go to the next: as a user does
            running = _cell(page, LIVE).locator(".jp-CodemodeRun-body[data-state='running']")
            running.wait_for(state="attached")  # it may be below the fold: attached is enough
            page.live_snapshot = running.text_content()  # type: ignore[attr-defined]
            page.locator(".jp-CodemodeRun-body").nth(len(CELLS) - 1).wait_for()
            page.get_by_text("Python 3 (Code Mode) | Idle").wait_for()
            yield page
        finally:
            page.screenshot(path=str(ARTIFACTS / "renderer.png"), full_page=True)


def _cell(page: Any, n: int) -> Any:
    return page.locator(".jp-Notebook .jp-CodeCell").nth(n)


def test_the_extension_is_installed_and_enabled(lab: str) -> None:
    done = subprocess.run([sys.executable, "-m", "jupyterlab.labextensions", "list"], capture_output=True, text=True,
                          timeout=60)
    listing = done.stdout + done.stderr
    line = next((row for row in listing.splitlines() if "jupyter-codemode" in row), "")
    assert "enabled" in line and "OK" in line, listing


def test_the_renderer_draws_the_timeline_not_the_html_fallback(page: Any) -> None:
    first = _cell(page, 0)
    assert first.locator(".codemode-run").count() == 0  # the static HTML stayed unused
    report = first.locator(".jp-CodemodeRun-body")
    assert report.get_attribute("data-state") == "ok"
    assert report.locator(".jp-CodemodeRun-header .jp-CodemodeRun-count").inner_text() == "1 tool call"
    call = report.locator(".jp-CodemodeRun-call")
    assert call.locator(".jp-CodemodeRun-name").inner_text() == "demo.list_orders"
    assert call.locator(".jp-CodemodeRun-badge").inner_text() == "ok"
    assert "ms" in call.locator(".jp-CodemodeRun-duration").inner_text()
    assert report.locator(".jp-CodemodeRun-result pre").inner_text() == "6"
    # The live panel appears at the first call and becomes the report, so a print made after the
    # call follows it: the printed line is one of the cell's outputs, not necessarily the first.
    assert any("6 open orders" in text for text in first.locator(".jp-OutputArea-output").all_inner_texts())


def test_a_call_expands_to_its_arguments_and_result_from_the_keyboard(page: Any) -> None:
    call = _cell(page, 0).locator(".jp-CodemodeRun-call")
    arguments = call.locator(".jp-CodemodeRun-arguments")
    assert not arguments.is_visible()
    call.locator("summary").focus()
    page.keyboard.press("Enter")
    arguments.wait_for(state="visible")
    assert json.loads(arguments.inner_text()) == {"status": "open"}
    assert "1025" in call.locator(".jp-CodemodeRun-section").last.inner_text()  # the first open order


def test_progress_and_the_token_bar_are_shown(page: Any) -> None:
    report = _cell(page, 1).locator(".jp-CodemodeRun-body")
    call = report.locator(".jp-CodemodeRun-call")
    call.locator("summary").click()
    assert "3/3 step 3 of 3" in call.locator(".jp-CodemodeRun-progress").last.inner_text()
    tokens = report.locator(".jp-CodemodeRun-tokens")
    assert "classic" in tokens.inner_text() and "code mode" in tokens.inner_text()
    assert tokens.locator(".jp-CodemodeRun-tokenBar").count() == 2


def test_a_failed_call_shows_its_error_code(page: Any) -> None:
    cell = _cell(page, len(CELLS) - 1)
    call = cell.locator(".jp-CodemodeRun-call")
    assert call.get_attribute("data-status") == "error"
    assert call.locator(".jp-CodemodeRun-badge").inner_text() == "error UPSTREAM_ERROR"
    assert "no customer with id 999" in cell.locator(".jp-OutputArea-output").last.inner_text()


def test_a_running_call_showed_live_and_the_panel_gave_way_to_the_report(page: Any) -> None:
    assert "demo.build_report" in page.live_snapshot and "running" in page.live_snapshot
    cell = _cell(page, LIVE)
    assert cell.locator(".jp-CodemodeRun-body[data-state='running']").count() == 0
    (report,) = cell.locator(".jp-CodemodeRun-body").all()
    assert report.get_attribute("data-state") == "ok"
    assert "100/100 step 100 of 100" in (report.locator(".jp-CodemodeRun-progress").last.text_content() or "")


def test_hostile_text_in_output_arguments_and_results_is_shown_as_text(page: Any) -> None:
    cell = _cell(page, 2)
    report = cell.locator(".jp-CodemodeRun-body")
    report.locator(".jp-CodemodeRun-call summary").click()
    assert HOSTILE in report.locator(".jp-CodemodeRun-arguments").inner_text()
    assert "<script>" in report.locator(".jp-CodemodeRun-result").inner_text()
    assert HOSTILE in cell.inner_text()
    assert page.evaluate("window.__pwned") is None
    assert page.locator("img[src='x']").count() == 0
    assert page.locator(".jp-OutputArea script").count() == 0


def test_the_report_follows_the_dark_theme(page: Any) -> None:
    first = _cell(page, 0)
    first.scroll_into_view_if_needed()
    report = first.locator(".jp-CodemodeRun-body")
    light = report.evaluate("node => getComputedStyle(node.querySelector('pre')).backgroundColor")
    page.screenshot(path=str(ARTIFACTS / "renderer-light.png"))
    page.locator(".lm-MenuBar-item", has_text="Settings").click()
    page.locator(".lm-Menu-item", has_text="Theme").first.hover()
    page.get_by_role("menuitem", name="JupyterLab Dark", exact=True).click()
    page.locator("body[data-jp-theme-light='false']").wait_for(state="attached")
    page.wait_for_function(
        "([node, before]) => getComputedStyle(node.querySelector('pre')).backgroundColor !== before",
        arg=[report.element_handle(), light],
    )
    page.locator("#jupyterlab-splash").wait_for(state="detached")
    first.scroll_into_view_if_needed()
    page.screenshot(path=str(ARTIFACTS / "renderer-dark.png"))
