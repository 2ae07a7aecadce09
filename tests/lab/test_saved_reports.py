"""Saved run reports in a real browser: a notebook executed by nbclient through the magic, then
opened in JupyterLab, where the renderer (not the static HTML fallback) must draw it.

The outputs are real: `%load_ext codemode` and `%%codemode` cells against the demo server,
run by nbclient on an ipykernel, plus one plain cell that displays a `Session.run` report whole
(the magic prints streams live and raises the error, so only such a report carries stdout,
stderr and the run's error in its payload). The notebook is not trusted, as a notebook from
elsewhere is not: the renderer is `safe`, so it draws anyway, and hostile markup in streams,
arguments and results must stay text.

Debian's chromium, driven by playwright with its executable path set (nothing downloads a
browser). Without chromium the test fails and says how to install it, unless
CODEMODE_SKIP_BROWSER=1 asks to skip it. The last test saves test-artifacts/saved-reports.png (docs/renderer.png is one of them).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from _lab import (
    ARTIFACTS,
    RUN_TIMEOUT,
    chromium,
    chromium_page,
    jupyterlab,
    lab_env,
    notebook_url,
)

SCREENSHOT = ARTIFACTS / "saved-reports.png"  # docs/renderer.png is a copy of one
MIME_TYPE = "application/vnd.codemode.run+json"
UI_TIMEOUT = 60_000  # ms for the page to load JupyterLab and draw the notebook

HOSTILE = "<img src=x onerror=window.__pwned=1>"
SCRIPT = "<script>window.__pwned = 2</script>"
# Run by `Session.run` and displayed whole: stdout, stderr and the error ride in the payload.
RAW_RUN = f"print({HOSTILE!r})\nprint({SCRIPT!r}, file=__import__('sys').stderr)\ndemo.get_customer(customer_id=999)"
CELLS = [
    "%load_ext codemode",
    # 1: four tools, a print, a result; audit_inventory logs and build_report reports progress.
    '%%codemode\norders = demo.list_orders(status="open")\n'
    'customer = demo.get_customer(customer_id=orders[0]["customer_id"])\n'
    "print(f\"{len(orders)} open orders; the first is {customer['name']}'s\")\n"
    "demo.audit_inventory()\ndemo.build_report(steps=3)\nlen(orders)",
    # 2: hostile markup in stdout (a stream output), in an argument and as the result.
    f"%%codemode\nprint({HOSTILE!r})\ndemo.search_products(query={HOSTILE!r})\n{SCRIPT!r}",
    # 3: a tool error the cell does not catch: the report, then a ToolError.
    "%%codemode\ndemo.get_customer(customer_id=999)",
    # 4: a report with streams and the error in its payload.
    "from codemode.config import demo_config\nfrom codemode.engine import Session\n\n"
    f"with Session(demo_config()) as session:\n    display(session.run({RAW_RUN!r}))",
]
FIRST, HOSTILE_CELL, FAILED, RAW = 1, 2, 3, 4
NAMES = ["demo.list_orders", "demo.get_customer", "demo.audit_inventory", "demo.build_report"]


@pytest.fixture(scope="module")
def notebook(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The executed notebook, saved as `reports.ipynb` in a folder of its own."""
    chromium()  # before a kernel starts: without a browser there is nothing to test
    import nbformat
    from nbclient import NotebookClient

    root = tmp_path_factory.mktemp("lab")
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source) for source in CELLS])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}
    client = NotebookClient(nb, timeout=RUN_TIMEOUT, kernel_name="python3", allow_errors=True,
                            resources={"metadata": {"path": str(root)}})
    client.execute(env=lab_env(root))
    nbformat.write(nb, root / "reports.ipynb")
    return {"root": root, "nb": json.loads((root / "reports.ipynb").read_text(encoding="utf-8"))}


def _reports(nb: dict[str, Any], cell: int) -> list[dict[str, Any]]:
    return [output for output in nb["cells"][cell]["outputs"] if MIME_TYPE in output.get("data", {})]


def test_the_notebook_holds_real_reports_from_the_magic(notebook: dict[str, Any]) -> None:
    nb = notebook["nb"]
    (first,) = _reports(nb, FIRST)
    assert [f"{c['server']}.{c['tool']}" for c in first["data"][MIME_TYPE]["calls"]] == NAMES
    assert first["metadata"][MIME_TYPE]["tokens"]["code_mode_total"] > 0
    (failed,) = _reports(nb, FAILED)
    assert failed["data"][MIME_TYPE]["calls"][0]["error"]["code"] == "UPSTREAM_ERROR"
    assert nb["cells"][FAILED]["outputs"][-1]["ename"] == "ToolError"
    (raw,) = _reports(nb, RAW)
    assert raw["data"][MIME_TYPE]["stdout"] == HOSTILE + "\n"
    assert raw["data"][MIME_TYPE]["error"]["code"] == "UPSTREAM_ERROR"


@pytest.fixture(scope="module")
def lab(notebook: dict[str, Any]) -> Iterator[str]:
    """JupyterLab serving the notebook's folder; yields its base URL."""
    root: Path = notebook["root"]
    with jupyterlab(root, lab_env(root)) as url:
        yield url


@pytest.fixture(scope="module")
def page(lab: str) -> Iterator[Any]:
    """The saved notebook open in chromium, every report drawn."""
    with chromium_page(UI_TIMEOUT) as page:
        page.goto(notebook_url(lab, "reports.ipynb"))
        page.locator(".jp-CodemodeRun-body").nth(3).wait_for(state="attached")
        yield page


def _report(page: Any, cell: int) -> Any:
    return page.locator(".jp-Notebook .jp-CodeCell").nth(cell).locator(".jp-CodemodeRun-body")


def test_the_renderer_draws_every_report_not_the_html_fallback(page: Any) -> None:
    notebook = page.locator(".jp-Notebook")
    assert notebook.locator(".jp-CodemodeRun-body").count() == 4
    assert notebook.locator(".jp-OutputArea-output.jp-CodemodeRun").count() == 4  # our widget is the output
    assert notebook.locator(".codemode-run").count() == 0  # the static HTML stayed unused


def test_the_header_gives_the_state_the_call_count_the_time_and_the_tokens(page: Any, notebook: dict[str, Any]) -> None:
    header = _report(page, FIRST).locator(".jp-CodemodeRun-header")
    assert header.locator(".jp-CodemodeRun-badge").inner_text() == "ok"
    assert header.locator(".jp-CodemodeRun-count").inner_text() == "4 tool calls"
    assert header.locator(".jp-CodemodeRun-duration").inner_text().endswith(" ms")
    (saved,) = _reports(notebook["nb"], FIRST)
    tokens = saved["metadata"][MIME_TYPE]["tokens"]  # the volatile facts come from the metadata
    expected = f"{tokens['code_mode_total']:,} tokens vs {tokens['classic_total']:,} classic"
    assert header.locator(".jp-CodemodeRun-tokenSummary").inner_text() == expected


def test_each_call_is_a_collapsed_row_named_server_dot_tool(page: Any) -> None:
    calls = _report(page, FIRST).locator(".jp-CodemodeRun-call")
    assert calls.locator(".jp-CodemodeRun-name").all_inner_texts() == NAMES
    assert calls.locator(".jp-CodemodeRun-badge").all_inner_texts() == ["ok"] * 4
    assert not calls.locator(".jp-CodemodeRun-arguments").first.is_visible()


def test_a_click_expands_a_call_to_its_arguments_result_logs_and_progress(page: Any) -> None:
    calls = _report(page, FIRST).locator(".jp-CodemodeRun-call")
    lookup = calls.nth(1)
    lookup.locator("summary").click()
    arguments = lookup.locator(".jp-CodemodeRun-arguments")
    arguments.wait_for(state="visible")
    assert json.loads(arguments.inner_text()) == {"customer_id": 8}
    assert json.loads(lookup.locator(".jp-CodemodeRun-value").inner_text())["name"] == "Thomas Peeters"
    audit = calls.nth(2)
    audit.locator("summary").click()
    logs = audit.locator(".jp-CodemodeRun-log")
    logs.first.wait_for(state="visible")
    assert logs.first.inner_text().startswith("[info] auditing stock of")
    assert any(line.startswith("[warning] low stock:") for line in logs.all_inner_texts())
    report = calls.nth(3)
    report.locator("summary").click()
    assert report.locator(".jp-CodemodeRun-progress").last.inner_text().strip() == "3/3 step 3 of 3"


def test_a_failed_run_shows_the_error_code_of_its_call(page: Any) -> None:
    report = _report(page, FAILED)
    assert report.get_attribute("data-state") == "error"
    assert report.locator(".jp-CodemodeRun-count").inner_text() == "1 tool call (1 failed)"
    call = report.locator(".jp-CodemodeRun-call")
    assert call.get_attribute("data-status") == "error"
    assert call.locator(".jp-CodemodeRun-badge").inner_text() == "error UPSTREAM_ERROR"
    call.locator("summary").click()
    assert "no customer with id 999" in call.locator(".jp-CodemodeRun-callError").inner_text()


def test_a_run_error_shows_its_type_message_code_and_traceback(page: Any) -> None:
    error = _report(page, RAW).locator(".jp-CodemodeRun-error")
    line = error.locator(".jp-CodemodeRun-errorLine").inner_text()
    assert line.startswith("ToolError: no customer with id 999") and line.endswith("[UPSTREAM_ERROR]")
    assert error.locator(".jp-CodemodeRun-traceback").inner_text().startswith("Traceback (most recent call last):")


def test_hostile_markup_in_streams_arguments_and_results_is_shown_as_text(page: Any) -> None:
    report = _report(page, HOSTILE_CELL)
    report.locator(".jp-CodemodeRun-call summary").click()
    assert json.loads(report.locator(".jp-CodemodeRun-arguments").inner_text()) == {"query": HOSTILE}
    assert json.loads(report.locator(".jp-CodemodeRun-result pre").inner_text()) == SCRIPT
    raw = _report(page, RAW)
    assert raw.locator(".jp-CodemodeRun-stdout").text_content() == HOSTILE + "\n"
    assert raw.locator(".jp-CodemodeRun-stderr").text_content() == SCRIPT + "\n"
    assert page.locator(".jp-CodemodeRun-body img, .jp-CodemodeRun-body script").count() == 0
    assert page.locator("img[src='x'], .jp-OutputArea script").count() == 0
    assert page.evaluate("window.__pwned") is None


def test_a_screenshot_for_the_docs(page: Any) -> None:
    """The first report with a call and its logs open, the failed run below (docs/renderer.png)."""
    left = page.locator(".jp-SideBar.jp-mod-left .lm-TabBar-tab.lm-mod-current")
    if left.count():
        left.click()  # fold the file browser away: the notebook gets the width
    calls = _report(page, FIRST).locator(".jp-CodemodeRun-call")
    calls.nth(3).locator("details").evaluate("node => { node.open = false; }")
    calls.nth(1).locator(".jp-CodemodeRun-arguments").wait_for(state="visible")
    page.locator(".jp-Notebook .jp-CodeCell").nth(FIRST).scroll_into_view_if_needed()
    page.locator(".jp-Notebook .jp-CodeCell").nth(FIRST).evaluate("node => node.scrollIntoView({block: 'start'})")
    SCREENSHOT.parent.mkdir(exist_ok=True)
    page.locator(".jp-NotebookPanel").screenshot(path=str(SCREENSHOT))
    assert SCREENSHOT.stat().st_size > 10_000
