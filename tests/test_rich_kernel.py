"""Rich output of `%%codemode` cells in a real kernel, as a notebook front end receives it.

A call-free cell's table or figure is an ordinary display output (what Notebook 7, VS Code,
nbconvert and GitHub draw); display() outputs come between the cell's stream outputs in the
order the cell made them; an update by display id is an update_display_data message for the
output that carries that id; a cell that calls tools keeps its result inside the report.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kernels import Execution, Kernel

from codemode.trace import MIME_TYPE


def shown(cell: Execution) -> list[dict[str, Any]]:
    """The cell's display_data outputs that show something (not the live panel, empty at rest)."""
    return [content for content in cell.of("display_data") if content["data"]]


def final_report(cell: Execution) -> dict[str, Any]:
    """The report as the cell ends: the live panel's last update, or a display of its own."""
    (report,) = [c for c in [*shown(cell), *cell.updates[-1:]] if MIME_TYPE in c["data"] and
                 not c["data"][MIME_TYPE].get("running")]
    return report


@pytest.fixture(scope="module")
def kernel(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Kernel]:
    with Kernel(tmp_path_factory.mktemp("rich-kernel")) as kernel:
        kernel.run("%load_ext codemode")
        yield kernel


def test_a_call_free_dataframe_cell_shows_an_ordinary_table_output(kernel: Kernel) -> None:
    cell = kernel.run("%%codemode\nimport pandas as pd\npd.DataFrame({'sku': ['A-1', 'B-2'], 'qty': [3, 4]})")
    (output,) = shown(cell)
    assert MIME_TYPE not in output["data"]
    assert '<table border="1" class="dataframe">' in output["data"]["text/html"]
    assert output["data"]["text/plain"].split()[:2] == ["sku", "qty"]


def test_a_figure_shows_as_a_png_output(kernel: Kernel) -> None:
    cell = kernel.run("%%codemode\nimport matplotlib.pyplot as plt\nplt.plot([1, 3, 2])\nplt.show()")
    (output,) = shown(cell)
    assert set(output["data"]) == {"image/png", "text/plain"}
    assert output["data"]["image/png"].startswith("iVBORw0KGgo")  # base64 of the PNG signature


def test_display_outputs_come_between_the_prints_in_order(kernel: Kernel) -> None:
    cell = kernel.run("%%codemode\nprint('first')\ndisplay({'n': 1}, [2])\nprint('second')\ndisplay('third')")
    shown = []
    for kind, content in cell.outputs:
        if kind == "display_data" and not content["data"]:
            continue  # the live panel
        if kind == "stream":
            text = content["text"]
            if shown and shown[-1][0] == "stream":
                text = shown.pop()[1] + text
            shown.append(("stream", text))
        else:
            shown.append((kind, content["data"]["text/plain"]))
    assert shown == [("stream", "first\n"), ("display_data", "{'n': 1}"), ("display_data", "[2]"),
                     ("stream", "second\n"), ("display_data", "'third'")]


def test_an_update_by_display_id_updates_that_output_in_place(kernel: Kernel) -> None:
    cell = kernel.run("%%codemode\nbar = display('0/2', display_id=True)\nbar.update('1/2')\nbar.update('2/2')")
    (output,) = shown(cell)
    display_id = output["transient"]["display_id"]
    assert display_id.startswith("codemode-")
    assert [u["data"]["text/plain"] for u in cell.updates] == ["'1/2'", "'2/2'"]
    assert {u["transient"]["display_id"] for u in cell.updates} == {display_id}


def test_a_cell_with_tool_calls_keeps_its_rich_result_in_the_report(kernel: Kernel, tmp_path: Path) -> None:
    cell = kernel.run("%%codemode\nimport pandas as pd\npd.DataFrame(demo.list_orders(status='open'))[['id', 'status']]")
    report = final_report(cell)
    result = report["data"][MIME_TYPE]["result"]
    assert result["kind"] == "mime" and "<table" in result["data"]["text/html"]
    assert "<table" in report["data"]["text/html"]  # the static fallback shows the table too


def test_script_outputs_are_refused_and_the_report_says_so(kernel: Kernel) -> None:
    cell = kernel.run("%%codemode\nclass J:\n    def _repr_javascript_(self): return 'alert(1)'\n"
                      "    def __repr__(self): return 'J()'\ndisplay(J())")
    outputs = shown(cell)
    assert all("application/javascript" not in o["data"] for o in outputs)
    report = final_report(cell)
    assert report["data"][MIME_TYPE]["outputsRefused"] == {"application/javascript": 1}


def test_unattended_a_display_id_output_is_saved_once_in_its_final_state_among_the_prints(tmp_path: Path) -> None:
    """nbclient (as nbval and nbconvert) runs with stdin off: what the notebook keeps is what
    nbval compares, and nbval ignores display updates."""
    import os

    import nbformat
    from kernels import SRC
    from nbclient import NotebookClient

    cell = ("%%codemode\nprint('start')\nbar = display('0/2', display_id=True)\nprint('working')\n"
            "bar.update('1/2')\nbar.update('2/2')\nprint('done')")
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("%load_ext codemode"),
                                         nbformat.v4.new_code_cell(cell)])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [SRC, os.environ.get("PYTHONPATH")])),
           "XDG_CONFIG_HOME": str(tmp_path / "config"), "IPYTHONDIR": str(tmp_path / "ipython")}
    env.pop("CODEMODE_CONFIG", None)
    NotebookClient(nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute(
        env=env)
    outputs = nb.cells[1].outputs
    seen = [o.get("text") or o["data"]["text/plain"] for o in outputs]
    assert "".join(seen) == "start\n'2/2'working\ndone\n"
    assert [o.output_type for o in outputs if o.output_type != "stream"] == ["display_data"]
