"""Rich output through the real worker: display(), rich results, matplotlib, sanitizing, MCP content.

One session on the demo server runs every cell in a real sandboxed worker; pandas and
matplotlib are imported by the cells (the worker never imports them itself).
"""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from codemode.engine import Session
from codemode.trace import MIME_TYPE, rich_content

PLOT = (
    "import matplotlib.pyplot as plt\n"
    "fig, ax = plt.subplots(figsize=(4, 3))\n"
    "ax.bar(['a', 'b', 'c'], [3, 1, 2])\n"
    "ax.set_title('revenue')\n"
)


@pytest.fixture(scope="module")
def session() -> Iterator[Session]:
    from codemode.config import demo_config

    with Session(demo_config()) as session:
        yield session


def run(session: Session, code: str) -> tuple[Any, list[tuple[str, Any]]]:
    events: list[tuple[str, Any]] = []
    report = session.run(code, on_event=lambda event: events.append(event) if event[0] != "tick" else None)
    assert report.error is None, report.error
    return report, events


def sequence(events: list[tuple[str, Any]]) -> list[tuple[str, Any]]:
    """The events with adjacent pieces of stdout joined (a print may arrive in two frames)."""
    joined: list[tuple[str, Any]] = []
    for kind, data in events:
        if kind == "stdout" and joined and joined[-1][0] == "stdout":
            joined[-1] = ("stdout", joined[-1][1] + data)
        elif kind in ("stdout", "display"):
            joined.append((kind, data))
    return joined


def png_chunks(data: str) -> list[bytes]:
    raw = base64.b64decode(data)
    assert raw.startswith(b"\x89PNG\r\n\x1a\n")
    chunks, at = [], 8
    while at < len(raw):
        length = int.from_bytes(raw[at:at + 4], "big")
        chunks.append(raw[at + 4:at + 8])
        at += 12 + length
    return chunks


def test_a_dataframe_result_is_an_html_table_with_its_text_form(session: Session) -> None:
    report, _ = run(session, "import pandas as pd\npd.DataFrame({'order': [1, 2], 'total': [9.5, 12.0]})")
    assert report.result["kind"] == "mime"
    data = report.result["data"]
    assert '<table border="1" class="dataframe">' in data["text/html"] and "<td>9.5</td>" in data["text/html"]
    assert "<style" not in data["text/html"]  # pandas' scoped style sheet is not for the page
    assert data["text/plain"].splitlines()[0].split() == ["order", "total"]
    assert report.value == data["text/plain"]


def test_a_figure_result_is_a_png_without_software_or_time_chunks_and_the_same_on_a_rerun(session: Session) -> None:
    first, _ = run(session, PLOT + "fig")
    second, _ = run(session, PLOT + "fig")
    png = first.result["data"]["image/png"]
    assert png == second.result["data"]["image/png"]
    assert not {b"tEXt", b"iTXt", b"tIME"} & set(png_chunks(png))
    assert first.result["data"]["text/plain"].startswith("<Figure size")
    assert first.displays == ()  # the result's own figure is not shown twice


def test_plt_show_displays_the_open_figures_in_order_with_prints(session: Session) -> None:
    report, events = run(session, PLOT + "print('before')\nplt.show()\nprint('after')\n")
    kinds = [(kind, data if kind != "display" else sorted(data["data"])) for kind, data in sequence(events)]
    assert kinds == [("stdout", "before\n"), ("display", ["image/png", "text/plain"]), ("stdout", "after\n")]
    assert len(report.displays) == 1


def test_figures_a_cell_draws_without_show_appear_at_its_end_then_close(session: Session) -> None:
    report, _ = run(session, PLOT)
    assert [sorted(d["data"]) for d in report.displays] == [["image/png", "text/plain"]]
    again, _ = run(session, "import matplotlib.pyplot as plt\nplt.get_fignums()")
    assert again.value == []


def test_display_of_several_objects_keeps_their_order_among_prints(session: Session) -> None:
    code = (
        "class Card:\n"
        "    def __init__(self, n): self.n = n\n"
        "    def _repr_html_(self): return f'<b>card {self.n}</b>'\n"
        "    def __repr__(self): return f'Card({self.n})'\n"
        "print('one')\ndisplay(Card(1), Card(2))\nprint('two')\ndisplay({'x': 1}, 'text')\nprint('three')\n"
    )
    report, events = run(session, code)
    shown = [data if kind != "display" else data["data"].get("text/html", data["data"]["text/plain"])
             for kind, data in sequence(events)]
    assert shown == ["one\n", "<b>card 1</b>", "<b>card 2</b>", "two\n", "{'x': 1}", "'text'", "three\n"]
    assert report.stdout == "one\ntwo\nthree\n" and len(report.displays) == 4


def test_an_update_by_display_id_replaces_the_output_in_place(session: Session) -> None:
    code = (
        "handle = display('step 0 of 3', display_id=True)\n"
        "for step in range(1, 4):\n    handle.update(f'step {step} of 3')\n"
        "named = display('a', display_id='named')\nupdate_display = named.update\nupdate_display('b')\n"
    )
    report, events = run(session, code)
    assert [d["data"]["text/plain"] for d in report.displays] == ["'step 3 of 3'", "'b'"]
    updates = [data for kind, data in events if kind == "display" and data.get("update")]
    assert [u["data"]["text/plain"] for u in updates] == ["'step 1 of 3'", "'step 2 of 3'", "'step 3 of 3'", "'b'"]
    ids = {d["display_id"] for d in report.displays}
    assert len(ids) == 2 and "named" in ids


def test_hostile_html_and_svg_are_sanitized_and_script_types_refused_and_counted(session: Session) -> None:
    code = (
        "class Evil:\n"
        "    def _repr_html_(self):\n"
        "        return ('<table><tr><td>cell</td></tr></table><script>window.__pwned=1</script>'\n"
        "                '<img src=x onerror=\"window.__pwned=2\"><a href=\"javascript:alert(1)\">x</a>'\n"
        "                '<style>body{display:none}</style>')\n"
        "    def _repr_javascript_(self): return 'window.__pwned=3'\n"
        "    def _repr_mimebundle_(self, include=None, exclude=None):\n"
        "        return {'application/vnd.jupyter.widget-view+json': {'model_id': 'x'}}\n"
        "class EvilSvg:\n"
        "    def _repr_svg_(self):\n"
        "        return ('<svg xmlns=\"http://www.w3.org/2000/svg\" onload=\"window.__pwned=4\">'\n"
        "                '<script>window.__pwned=5</script><rect width=\"4\" height=\"4\"/></svg>')\n"
        "display(Evil(), EvilSvg())\nEvil()\n"
    )
    report, _ = run(session, code)
    html = report.displays[0]["data"]["text/html"]
    assert "<td>cell</td>" in html
    assert not any(bad in html for bad in ("script", "onerror", "javascript", "<style", "__pwned"))
    svg = report.displays[1]["data"]["image/svg+xml"]
    assert "<rect" in svg and "script" not in svg and "onload" not in svg
    assert report.outputs_refused == {"application/javascript": 2, "application/vnd.jupyter.widget-view+json": 2}
    assert "__pwned" not in json.dumps(report.payload())
    assert "output refused" in repr(report)


def test_a_tool_image_displays_as_an_image_and_becomes_an_mcp_image_block(session: Session) -> None:
    report, _ = run(session, "chart = demo.sales_chart()\ndisplay(chart)\nprint('done')\nchart")
    (shown,) = report.displays
    assert set(shown["data"]) == {"image/png", "text/plain"}
    blocks = rich_content(report)
    assert [b["type"] for b in blocks] == ["image", "image"]
    assert blocks[0]["mimeType"] == "image/png" and blocks[0]["data"] == shown["data"]["image/png"]


def test_mcp_content_gives_images_as_image_blocks_and_tables_as_text(session: Session) -> None:
    report, _ = run(session, PLOT + "plt.show()\nimport pandas as pd\npd.DataFrame({'a': [1]})")
    blocks = rich_content(report)
    assert [b["type"] for b in blocks] == ["image", "text"]
    assert blocks[1]["text"].split() == ["a", "0", "1"]


def test_a_display_frame_of_the_wrong_shape_stops_the_worker(session: Session) -> None:
    report = session.run("import sys\nsys.modules['codemode.sandbox._api']._channel.send("
                         "{'op': 'display', 'data': ['not', 'a', 'bundle']})\nimport time\ntime.sleep(30)")
    assert report.state_lost and "bad frame" in report.error["message"]
    assert session.run("1 + 1").value == 2


def test_displays_ride_in_the_payload_when_they_were_not_shown_live(session: Session) -> None:
    report, _ = run(session, "display('shown')")
    assert report.payload()["displays"] == [{"data": {"text/plain": "'shown'"}, "metadata": {}}]
    import dataclasses

    assert "displays" not in dataclasses.replace(report, streams_shown=True).payload()
    assert MIME_TYPE not in report.payload()


def test_the_cli_prints_text_forms_and_json_keeps_the_bundle() -> None:
    code = ("class T:\n    def _repr_html_(self): return '<i>t</i>'\n    def __repr__(self): return 'T()'\n"
            "print('a')\ndisplay(T())\nprint('b')\nT()")
    text = subprocess.run([sys.executable, "-m", "codemode.cli", "exec", "-c", code],
                          capture_output=True, text=True, check=True, timeout=120)
    assert text.stdout == "a\nT()\nb\nT()\n"  # the display's text form in order, then the value
    out = subprocess.run([sys.executable, "-m", "codemode.cli", "exec", "--json", "-c", code],
                         capture_output=True, text=True, check=True, timeout=120)
    payload = json.loads(out.stdout)
    assert payload["result"] == {"kind": "mime", "data": {"text/html": "<i>t</i>", "text/plain": "T()"}, "metadata": {}}
    assert payload["displays"] == [{"data": {"text/html": "<i>t</i>", "text/plain": "T()"}, "metadata": {}}]
    import jsonschema

    schema = json.loads((Path(__file__).parent.parent / "docs" / "run-report.schema.json").read_text())
    jsonschema.validate(payload, schema)


def test_ipythons_own_display_imported_in_a_cell_is_the_workers(session: Session) -> None:
    code = ("from IPython.display import HTML, Markdown, display\n"
            "display(HTML('<b>bold</b><script>x()</script>'), Markdown('# Title'))\n"
            "handle = display('0%', display_id=True)\nhandle.update('100%')")
    report, _ = run(session, code)
    assert [d["data"].get("text/html", d["data"]["text/plain"]) for d in report.displays] == \
        ["<b>bold</b>", "<h1>Title</h1>\n", "'100%'"]


def test_an_object_whose_rich_methods_return_none_is_a_plain_repr(session: Session) -> None:
    report, _ = run(session, "class Quiet:\n    def _repr_html_(self): return None\n"
                             "    def __repr__(self): return 'Quiet()'\nQuiet()")
    assert report.result == {"kind": "repr", "text": "Quiet()", "type": "Quiet"}
