"""A `codemode serve --record` transcript in a real browser: JupyterLab opens it and the
renderer draws each `execute`'s report (not the raw JSON, not the static HTML fallback); and
the transcript re-runs in a real kernel (nbclient), repeating the saved reports.

The session is real: `codemode serve` over stdio driven by the SDK's client (search, then
executes with tool calls, one failing). Debian's chromium through playwright, with the
browser tests' helpers (_lab.py). Saves test-artifacts/serve-transcript.png.
"""

from __future__ import annotations

import json
import shutil
import sys
import time
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

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "serve"))
from _serving import run_stdio, write_config  # noqa: E402 - the serve tests' helpers

MIME = "application/vnd.codemode.run+json"
SCREENSHOT = ARTIFACTS / "serve-transcript.png"
UI_TIMEOUT = 60_000  # ms for the page to load JupyterLab and draw the notebook
SESSION = [
    ("search", {"query": "open orders of a customer"}),
    ("execute", {"code": ('orders = demo.list_orders(status="open")\n'
                          'who = demo.get_customer(customer_id=orders[0]["customer_id"])\n'
                          "print(f\"{len(orders)} open orders; the first is {who['name']}'s\")\nlen(orders)")}),
    ("execute", {"code": "demo.get_customer(customer_id=999)"}),  # a call that fails, uncaught
    ("execute", {"code": "sorted({o['status'] for o in demo.list_orders()})"}),
]


@pytest.fixture(scope="module")
def transcript(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The transcript of a real session, alone in the folder JupyterLab will serve."""
    chromium()  # before anything starts: without a browser there is nothing to test
    root = tmp_path_factory.mktemp("transcript-lab")
    config = write_config(root / "mcp.json", {"cellTimeout": 30})

    async def scenario(client: Any) -> list[Any]:
        return [await client.call_tool(name, arguments) for name, arguments in SESSION]

    results = run_stdio(config, scenario, "--record", str(root / "record"))
    assert [r.is_error for r in results] == [False, False, True, False]
    (notebook,) = (root / "record").glob("*.ipynb")
    shutil.move(str(notebook), root / "transcript.ipynb")
    return root / "transcript.ipynb"


def _reports(nb: Any) -> list[tuple[int, dict[str, Any]]]:
    return [(index, output["data"][MIME]) for index, cell in enumerate(nb["cells"])
            for output in cell.get("outputs", []) if MIME in output.get("data", {})]


def test_the_transcript_re_runs_in_a_kernel_with_the_same_reports(transcript: Path) -> None:
    import nbformat
    from nbclient import NotebookClient

    saved = nbformat.read(transcript, as_version=4)
    again = nbformat.read(transcript, as_version=4)
    # No allow_errors: only the cell tagged raises-exception may fail, and the run goes on past it.
    NotebookClient(again, timeout=RUN_TIMEOUT, kernel_name="python3",
                   resources={"metadata": {"path": str(transcript.parent)}}).execute(env=lab_env(transcript.parent))
    assert len(_reports(saved)) == 3
    assert _reports(again) == _reports(saved)
    failed = next(c for c in again.cells if "customer_id=999" in c.source)
    assert failed.outputs[-1].output_type == "error" and failed.outputs[-1].ename == "ToolError"
    first = next(c for c in again.cells if "open orders" in c.source and c.cell_type == "code")
    assert [o.text for o in first.outputs if o.output_type == "stream"] == \
        [o.text for o in next(c for c in saved.cells if c.source == first.source).outputs if o.output_type == "stream"]


@pytest.fixture(scope="module")
def page(transcript: Path) -> Iterator[Any]:
    """The saved transcript (as the server wrote it) open in JupyterLab in chromium."""
    root = transcript.parent
    with jupyterlab(root, lab_env(root)) as url, chromium_page(UI_TIMEOUT, height=1200) as page:
        page.goto(notebook_url(url, transcript.name))
        page.locator(".jp-CodemodeRun-body").nth(2).wait_for(state="attached")
        yield page


def test_jupyterlab_draws_each_execute_s_report_with_the_renderer(page: Any, transcript: Path) -> None:
    notebook = page.locator(".jp-Notebook")
    assert notebook.locator(".jp-CodemodeRun-body").count() == 3
    assert notebook.locator(".jp-OutputArea-output.jp-CodemodeRun").count() == 3  # our widget is the output
    assert notebook.locator(".codemode-run").count() == 0  # the static HTML fallback stayed unused
    assert '"calls"' not in notebook.inner_text()  # nor is the payload shown as JSON
    saved = json.loads(transcript.read_text(encoding="utf-8"))
    first = notebook.locator(".jp-CodemodeRun-body").first
    names = [f"{c['server']}.{c['tool']}" for c in _reports(saved)[0][1]["calls"]]
    assert first.locator(".jp-CodemodeRun-name").all_inner_texts() == names == ["demo.list_orders", "demo.get_customer"]
    assert first.locator(".jp-CodemodeRun-badge").first.inner_text() == "ok"


def test_the_failed_execute_shows_its_failed_call_and_the_search_its_finds(page: Any) -> None:
    failed = page.locator(".jp-Notebook .jp-CodemodeRun-body").nth(1)
    assert failed.get_attribute("data-state") == "error"
    assert failed.locator(".jp-CodemodeRun-count").inner_text() == "1 tool call (1 failed)"
    # Rendered (not its source): JupyterLab renders a markdown cell after the page shows it.
    search = page.locator(".jp-Notebook .jp-MarkdownCell .jp-RenderedMarkdown").filter(has_text="search open orders")
    search.wait_for(state="visible")
    markdown = search.inner_text()
    assert markdown.startswith("search open orders of a customer") and "demo.list_orders" in markdown


def test_a_screenshot_of_the_transcript(page: Any) -> None:
    left = page.locator(".jp-SideBar.jp-mod-left .lm-TabBar-tab.lm-mod-current")
    if left.count():
        left.click()  # fold the file browser away: the notebook gets the width
    page.locator(".jp-Notebook .jp-Cell").first.evaluate("node => node.scrollIntoView({block: 'start'})")
    time.sleep(0.2)  # one frame for the scroll to land before the picture (not an assertion)
    SCREENSHOT.parent.mkdir(exist_ok=True)
    page.locator(".jp-NotebookPanel").screenshot(path=str(SCREENSHOT))
    assert SCREENSHOT.stat().st_size > 10_000
