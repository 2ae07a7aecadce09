"""A notebook as a person makes it: run in JupyterLab in chromium, an approval answered in the
input box, saved with Ctrl-S; then `codemode test` on what JupyterLab saved, twice (issue 26).

JupyterLab's own output model decides what the file holds (the `stdin` output it keeps for an
answered question, a live panel updated in place), so only a real JupyterLab shows whether a
saved notebook compares equal under nbval. The cells print, display a pandas table, draw a
matplotlib chart and make a call that needs a yes; the notebook records its own cassette
(`%codemode record`), which the test runs must replay and never rewrite.

Debian's chromium, driven by playwright with its executable path set. Without chromium the
test fails and says how to install it, unless CODEMODE_SKIP_BROWSER=1 asks to skip it. The
saved notebook and cassette are copied to test-artifacts/lab-saved/.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import nbformat
import pytest
from _lab import ARTIFACTS, SRC, chromium, chromium_page, jupyterlab, lab_env, notebook_url

MIME_TYPE = "application/vnd.codemode.run+json"
UI_TIMEOUT = 120_000  # ms for JupyterLab to load, and for a cell to run on a loaded machine
TEST_TIMEOUT = 600  # seconds for one `codemode test` run
CELLS = [
    "%load_ext codemode",
    "%codemode record saved.cassette.jsonl",
    # Prints around a call, a pandas table among them, a result.
    '%%codemode\nimport pandas as pd\n\norders = pd.DataFrame(demo.list_orders())\n'
    'print(f"{len(orders)} orders")\n'
    'display(orders.groupby("status").agg(orders=("id", "count")))\n'
    'print("open:", int((orders.status == "open").sum()))\nlen(orders)',
    # A chart drawn from a call.
    '%%codemode\nimport matplotlib.pyplot as plt\n\nmonths = demo.sales_summary(group_by="month")["rows"]\n'
    'fig, ax = plt.subplots(figsize=(4, 2))\nax.bar([m["key"] for m in months], [m["revenue"] for m in months])\n'
    'plt.show()',
    # A call that needs a person's yes.
    '%%codemode\nfirst = int(orders[orders.status == "open"].id.min())\nprint("cancelling", first)\n'
    'done = demo.cancel_order(order_id=first)\nprint(done["status"])\ndone["id"]',
]
CALLING = (2, 3, 4)


@pytest.fixture(scope="module")
def saved(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The notebook run, answered and saved in JupyterLab: its folder and its JSON."""
    chromium()
    root = tmp_path_factory.mktemp("lab-saved")
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source) for source in CELLS])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}
    nbformat.write(nb, root / "saved.ipynb")
    with jupyterlab(root, lab_env(root)) as lab, chromium_page(UI_TIMEOUT) as page:
        page.goto(notebook_url(lab, "saved.ipynb"))
        page.get_by_text("Python 3 (ipykernel) | Idle").wait_for()
        page.locator(".jp-Notebook .jp-CodeCell .jp-InputArea-editor").first.click()
        page.locator(".lm-MenuBar-item", has_text="Run").click()
        page.locator(".lm-Menu-item", has_text="Run All Cells").first.click()
        answer = page.locator(".jp-Stdin-input")  # the question of the last cell, as a person sees it
        answer.wait_for()
        answer.fill("y")
        answer.press("Enter")
        # Done: every cell has its prompt number (none is queued or running) and each calling
        # cell has its report drawn by the renderer.
        page.wait_for_function(
            "n => [...document.querySelectorAll('.jp-CodeCell .jp-InputPrompt')]"
            ".every(p => /\\[\\d+\\]/.test(p.textContent)) && "
            "document.querySelectorAll('.jp-CodemodeRun-body').length === n", arg=len(CALLING))
        # The renderer's own toggle folds a report's token bars and opens them again.
        fold = page.locator(".jp-CodemodeRun-tokensFold").first
        toggled = [fold.evaluate("e => e.open")]
        fold.locator("summary").click()
        toggled.append(fold.evaluate("e => e.open"))
        fold.locator("summary").click()
        toggled.append(fold.evaluate("e => e.open"))
        page.keyboard.press("Control+s")
        page.locator(".lm-TabBar-tab.jp-mod-dirty").wait_for(state="detached")
    copy = ARTIFACTS / "lab-saved"
    shutil.rmtree(copy, ignore_errors=True)
    copy.mkdir(parents=True)
    for name in ("saved.ipynb", "saved.cassette.jsonl"):
        shutil.copy(root / name, copy / name)
    return {"root": root, "nb": json.loads((root / "saved.ipynb").read_text(encoding="utf-8")), "toggled": toggled}


def _codemode_test(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CODEMODE_")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [SRC, os.environ.get("PYTHONPATH")]))
    return subprocess.run([sys.executable, "-m", "codemode", "test", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=TEST_TIMEOUT)


def test_each_calling_cell_saves_its_outputs_then_its_report(saved: dict[str, Any]) -> None:
    cells = saved["nb"]["cells"]
    for n in CALLING:
        outputs = cells[n]["outputs"]
        assert MIME_TYPE in outputs[-1]["data"], f"cell {n}: the report is not last: {outputs}"
        assert [o for o in outputs[:-1] if MIME_TYPE in o.get("data", {})] == [], f"cell {n}: a live panel was left"
    table, chart = cells[2]["outputs"], cells[3]["outputs"]
    assert [o["output_type"] for o in table] == ["stream", "display_data", "stream", "display_data"]
    assert "text/html" in table[1]["data"] and "image/png" in chart[0]["data"]


def test_the_answered_question_leaves_its_decision_in_the_report_only(saved: dict[str, Any]) -> None:
    outputs = saved["nb"]["cells"][4]["outputs"]
    streams = [o for o in outputs if o["output_type"] == "stream"]
    assert [o["name"] for o in streams] == ["stdout"]  # no `stdin` output, nothing on stderr
    text = "".join(streams[0]["text"])  # a saved notebook keeps text as a list of lines
    assert text.endswith("cancelled\n") and "needs approval" not in text
    report = outputs[-1]["data"]
    (call,) = report[MIME_TYPE]["calls"]
    assert call["approval"] == {"decision": "approved", "by": "a person (kernel stdin)"}
    assert "approved by a person (kernel stdin)" in "".join(report["text/html"])


def test_the_token_bars_fold_and_unfold_on_a_click(saved: dict[str, Any]) -> None:
    assert saved["toggled"] == [True, False, True]  # open by default (codemode.showTokens)


def test_codemode_test_passes_twice_on_what_jupyterlab_saved_and_leaves_the_cassette(saved: dict[str, Any]) -> None:
    root: Path = saved["root"]
    tape = (root / "saved.cassette.jsonl").read_bytes()
    assert b'"kind": "approval"' in tape
    book = (root / "saved.ipynb").read_bytes()
    for _ in range(2):
        done = _codemode_test("saved.ipynb", cwd=root)
        assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-2000:]
        assert (root / "saved.cassette.jsonl").read_bytes() == tape
        assert (root / "saved.ipynb").read_bytes() == book
