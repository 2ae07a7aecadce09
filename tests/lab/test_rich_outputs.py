"""Rich outputs of sandboxed cells in a real browser, in a TRUSTED notebook: tables and figures
draw, and nothing the worker sent runs script or changes the page outside its output area.

A notebook executed by nbclient through `%%codemode` (a DataFrame, a matplotlib figure, a cell
with a tool call whose result is a table, and hostile objects: a `_repr_html_` with <script>,
onerror, javascript: links and a <style> that hides the page, a hostile SVG and Markdown, a
`_repr_javascript_`), signed as trusted, then opened in JupyterLab in Debian's chromium. A
trusted notebook is where JupyterLab renders HTML without its own sanitizer and runs scripts:
the host's cleaning (codemode.outputs) is what keeps them out.

JupyterLab serves this checkout's renderer build (src/codemode/labextension, from
`jlpm build:prod`), copied into the test's own Jupyter data dir. Saves test-artifacts/rich-output.png.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from _lab import (
    ARTIFACTS,
    ROOT,
    RUN_TIMEOUT,
    chromium,
    chromium_page,
    jupyterlab,
    lab_env,
    notebook_url,
)

import codemode

BUILD = Path(codemode.__file__).resolve().parent / "labextension"
SCREENSHOT = ARTIFACTS / "rich-output.png"
SHELF = ROOT / "notebooks" / "explore-orders.ipynb"
SHELF_SCREENSHOT = ARTIFACTS / "explore-orders.png"  # docs/rich-output.png is a copy
UI_TIMEOUT = 60_000  # ms for the page to load JupyterLab and draw the notebook

HOSTILE_HTML = (
    "<table><tr><td class='jp-Dialog'>hostile table</td></tr></table>"
    "<script>window.__pwned = 1</script>"
    "<img src=x onerror='window.__pwned = 2'>"
    "<a class='codemode-js-link' href='javascript:window.__pwned = 3'>click</a>"
    "<style>/* codemode-hostile */ body, .jp-LabShell { display: none !important }</style>"
    "<div style='position:fixed;top:0;left:0;width:100vw;height:100vh;z-index:99999;background:red'>cover</div>"
)
HOSTILE_SVG = (
    "<svg xmlns='http://www.w3.org/2000/svg' width='40' height='20' onload='window.__pwned = 4'>"
    "<script>window.__pwned = 5</script><style>/* codemode-hostile */ body { display: none }</style>"
    "<rect width='40' height='20' fill='green'/></svg>"
)
HOSTILE_MD = "**md** <img src=x onerror='window.__pwned = 6'> [link](javascript:window.__pwned=7)"
CELLS = [
    "%load_ext codemode",
    # 1: a call-free table, an ordinary output
    "%%codemode\nimport pandas as pd\npd.DataFrame({'sku': ['A-1', 'B-2', 'C-3'], 'qty': [3, 4, 5]})",
    # 2: a figure shown by plt.show()
    "%%codemode\nimport matplotlib.pyplot as plt\nfig, ax = plt.subplots(figsize=(4, 2))\n"
    "ax.bar(['jan', 'feb', 'mar'], [3, 5, 4])\nplt.show()",
    # 3: a tool call whose result is a table: drawn by the renderer inside the report
    "%%codemode\npd.DataFrame(demo.list_orders(status='open'))[['id', 'status', 'amount']].head(3)",
    # 4: hostile objects
    "%%codemode\n"
    f"class Evil:\n    def _repr_html_(self): return {HOSTILE_HTML!r}\n"
    "    def _repr_javascript_(self): return 'window.__pwned = 8'\n"
    f"class EvilSvg:\n    def _repr_svg_(self): return {HOSTILE_SVG!r}\n"
    f"class EvilMd:\n    def _repr_markdown_(self): return {HOSTILE_MD!r}\n"
    "print('before')\ndisplay(Evil(), EvilSvg(), EvilMd())\nprint('after')",
    # 5: a whole Session.run report: its display() outputs ride in the payload, drawn by the renderer
    "from codemode.config import demo_config\nfrom codemode.engine import Session\n\n"
    "with Session(demo_config()) as session:\n"
    "    display(session.run(\"import pandas as pd\\nprint('rows')\\n"
    "display(pd.DataFrame({'city': ['Gent', 'Lyon']}))\"))",
]
TABLE, FIGURE, CALLED, HOSTILE, WHOLE = 1, 2, 3, 4, 5


@pytest.fixture(scope="module")
def notebook(tmp_path_factory: pytest.TempPathFactory) -> Path:
    chromium()
    if not (BUILD / "package.json").exists():
        pytest.fail("the renderer is not built: cd labextension && jlpm install && jlpm build:prod")
    import nbformat
    from nbclient import NotebookClient
    from nbformat.sign import NotebookNotary

    root = tmp_path_factory.mktemp("rich-lab")
    data = root / ".data"
    shutil.copytree(BUILD, data / "labextensions" / "jupyter-codemode")
    shutil.copy(ROOT / "labextension" / "install.json", data / "labextensions" / "jupyter-codemode")
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source) for source in CELLS])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}
    client = NotebookClient(nb, timeout=RUN_TIMEOUT, kernel_name="python3",
                            resources={"metadata": {"path": str(root)}})
    client.execute(env=_rich_env(root))
    NotebookNotary(data_dir=str(data)).sign(nb)  # trusted: JupyterLab renders its HTML unsanitized
    nbformat.write(nb, root / "rich.ipynb")
    shutil.copy(SHELF, root / SHELF.name)  # as saved on the shelf (executed, under nbval)
    return root


def _rich_env(root: Path) -> dict[str, str]:
    # The user data dir ahead of the venv's: this checkout's build wins over an installed copy.
    return {**lab_env(root), "JUPYTER_DATA_DIR": str(root / ".data"), "JUPYTER_PREFER_ENV_PATH": "0"}


def test_the_saved_notebook_holds_clean_outputs(notebook: Path) -> None:
    nb = json.loads((notebook / "rich.ipynb").read_text(encoding="utf-8"))
    text = json.dumps(nb["cells"][HOSTILE]["outputs"])
    for banned in ("<script", "onerror", "onload", "javascript:", "codemode-hostile", "position:fixed"):
        assert banned not in text, banned
    assert "hostile table" in text
    kinds = {mime for output in nb["cells"][HOSTILE]["outputs"] for mime in output.get("data", {})}
    assert "application/javascript" not in kinds and "text/markdown" not in kinds


@pytest.fixture(scope="module")
def page(notebook: Path) -> Iterator[Any]:
    with jupyterlab(notebook, _rich_env(notebook)) as url, chromium_page(UI_TIMEOUT, height=1400) as page:
        dialogs: list[str] = []
        page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
        page.goto(notebook_url(url, "rich.ipynb"))
        page.locator(".jp-Notebook .jp-OutputArea-output img").first.wait_for(state="visible")
        page.locator(".jp-CodemodeRun-body").first.wait_for(state="attached")
        page.dialogs = dialogs  # type: ignore[attr-defined]
        yield page


def _cell(page: Any, index: int) -> Any:
    return page.locator(".jp-Notebook .jp-CodeCell").nth(index)


def test_the_notebook_is_trusted_in_the_browser(page: Any) -> None:
    # A trusted notebook renders the hostile SVG (an untrusted one would refuse it with a note).
    assert "Cannot display an untrusted SVG" not in _cell(page, HOSTILE).inner_text()


def test_a_dataframe_is_a_table_and_a_figure_an_image(page: Any) -> None:
    table = _cell(page, TABLE).locator(".jp-OutputArea-output table.dataframe")
    assert table.locator("th").all_inner_texts()[1:3] == ["sku", "qty"]
    image = _cell(page, FIGURE).locator(".jp-OutputArea-output img")
    assert image.get_attribute("src").startswith("data:image/png;base64,")
    assert image.evaluate("img => img.naturalWidth") > 100


def test_the_renderer_draws_a_rich_result_inside_the_report(page: Any) -> None:
    result = _cell(page, CALLED).locator(".jp-CodemodeRun-result table.dataframe")
    assert result.locator("th").all_inner_texts()[1:4] == ["id", "status", "amount"]


def test_no_script_runs_and_nothing_outside_the_output_area_changes(page: Any) -> None:
    cell = _cell(page, HOSTILE)
    assert "hostile table" in cell.inner_text()
    cell.locator("a", has_text="click").click()  # a javascript: link would run now
    assert page.evaluate("window.__pwned") is None
    assert page.dialogs == []  # type: ignore[attr-defined]
    checks = page.evaluate("""() => ({
        scripts: document.querySelectorAll('.jp-OutputArea script').length,
        handlers: document.querySelectorAll('.jp-OutputArea [onerror], .jp-OutputArea [onload]').length,
        jsLinks: document.querySelectorAll('a[href^="javascript:"]').length,
        hostileStyles: [...document.querySelectorAll('style')].filter(s => s.textContent.includes('codemode-hostile')).length,
        bodyShown: getComputedStyle(document.body).display !== 'none',
        shellShown: getComputedStyle(document.querySelector('.jp-LabShell')).display !== 'none',
        fixed: [...document.querySelectorAll('.jp-OutputArea *')].filter(e => getComputedStyle(e).position === 'fixed').length,
        dialogClass: document.querySelectorAll('.jp-OutputArea .jp-Dialog').length,
    })""")
    assert checks == {"scripts": 0, "handlers": 0, "jsLinks": 0, "hostileStyles": 0, "bodyShown": True,
                      "shellShown": True, "fixed": 0, "dialogClass": 0}
    # The toolbar and the menu bar, outside the output area, still show and answer.
    assert page.locator(".jp-NotebookPanel-toolbar").is_visible()
    assert page.locator("#jp-menu-panel, .jp-MenuBar").first.is_visible()
    svg = cell.locator(".jp-OutputArea-output img[src^='data:image/svg+xml']")
    assert svg.count() == 1  # SVG shows as an image: nothing in it runs
    warning = cell.locator(".jp-CodemodeRun-warning").inner_text()
    assert "output refused" in warning and "application/javascript ×1" in warning


def test_the_renderer_draws_the_display_outputs_a_report_carries(page: Any) -> None:
    report = _cell(page, WHOLE).locator(".jp-CodemodeRun-body")
    assert report.locator(".jp-CodemodeRun-stdout").inner_text().strip() == "rows"
    table = report.locator(".jp-CodemodeRun-display table.dataframe")
    assert table.locator("td").all_inner_texts() == ["Gent", "Lyon"]


def test_a_screenshot_of_a_table_and_a_chart(page: Any) -> None:
    left = page.locator(".jp-SideBar.jp-mod-left .lm-TabBar-tab.lm-mod-current")
    if left.count():
        left.click()
    _cell(page, TABLE).evaluate("node => node.scrollIntoView({block: 'start'})")
    SCREENSHOT.parent.mkdir(exist_ok=True)
    page.locator(".jp-NotebookPanel").screenshot(path=str(SCREENSHOT))
    assert SCREENSHOT.stat().st_size > 10_000


def test_the_shelf_notebook_shows_its_table_and_chart(page: Any) -> None:
    """notebooks/explore-orders.ipynb as saved: a table and a chart (docs/rich-output.png)."""
    base = page.url.split("/lab/")[0]
    page.goto(notebook_url(base, SHELF.name))
    notebook = page.locator(".jp-NotebookPanel", has=page.locator("h1", has_text="Explore the shop"))
    notebook.locator(".jp-OutputArea-output table.dataframe").first.wait_for(state="visible")
    chart = notebook.locator(".jp-OutputArea-output img[src^='data:image/png']")
    chart.wait_for(state="visible")
    assert notebook.locator(".jp-OutputArea-output table.dataframe").first.locator("th").all_inner_texts()[1:3] == \
        ["orders", "revenue"]
    left = page.locator(".jp-SideBar.jp-mod-left .lm-TabBar-tab.lm-mod-current")
    if left.count():
        left.click()
    notebook.locator(".jp-Cell").nth(2).evaluate("node => node.scrollIntoView({block: 'start'})")
    notebook.screenshot(path=str(SHELF_SCREENSHOT))
    assert SHELF_SCREENSHOT.stat().st_size > 10_000
