"""The host's cleaning of rich outputs: what passes, what is refused, what is cut and counted."""

from __future__ import annotations

import base64

import pytest

from codemode.outputs import (
    MAX_REPRESENTATION,
    MAX_RUN,
    Outputs,
    Tally,
    clean_bundle,
    clean_html,
    clean_svg,
)

HOSTILE_HTML = (
    '<table class="dataframe jp-Dialog" id="main" onclick="steal()"><tr style="position:fixed;color:red">'
    '<td onmouseover="x()">1</td><td><a href="javascript:alert(1)">js</a><a href="https://example.org/">ok</a>'
    '<img src="x" onerror="window.__pwned=1"><img src="https://tracker.example/p.gif"></td></tr></table>'
    "<script>window.__pwned=2</script><style>body{display:none}</style>"
    '<iframe src="javascript:alert(3)"></iframe><form action="/x"><input name="p"></form>'
    '<svg><script>alert(4)</script></svg><a href="data:text/html,<script>alert(5)</script>">d</a>'
)


def test_html_keeps_a_tables_structure_and_loses_everything_that_could_run_or_restyle_the_page() -> None:
    clean = clean_html(HOSTILE_HTML)
    assert "<table" in clean and "<td>1</td>" in clean and 'class="dataframe"' in clean
    assert 'href="https://example.org/"' in clean
    for banned in ("script", "onclick", "onmouseover", "onerror", "javascript:", "<style", "display:none", "iframe",
                   "<form", "<input", "jp-Dialog", 'id="main"', "position", "tracker.example", "data:text", "<svg"):
        assert banned not in clean, banned
    assert "color:red" in clean.replace(" ", "")  # colour is harmless, and pandas styles use it


def test_inline_images_stay_in_html_and_remote_ones_go() -> None:
    pixel = base64.b64encode(b"\x89PNG\r\n\x1a\n").decode()
    clean = clean_html(f'<img src="data:image/png;base64,{pixel}"><img src="http://example.org/a.png">')
    assert clean.count("<img") == 1 and clean.count("src=") == 1 and pixel in clean  # no broken-image icon


def test_svg_keeps_its_drawing_and_loses_script_handlers_links_styles_and_metadata() -> None:
    svg = (
        '<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" width="10" height="10" '
        'onload="alert(1)"><metadata><dc:date xmlns:dc="http://purl.org/dc/elements/1.1/">2026-11-30</dc:date>'
        "</metadata><style>*{display:none}</style><script>alert(2)</script>"
        '<foreignObject><div xmlns="http://www.w3.org/1999/xhtml">x</div></foreignObject>'
        '<a href="javascript:alert(3)"><rect width="5" height="5"/></a>'
        '<path d="M0 0L10 10" style="fill: red; position: fixed; stroke: url(http://evil/x)" clip-path="url(#c)"/>'
        '<use xlink:href="http://evil/sprite.svg#a"/><use href="#c"/><animate attributeName="x"/></svg>'
    )
    clean = clean_svg(svg)
    assert clean is not None and clean.startswith("<svg") and 'd="M0 0L10 10"' in clean
    assert 'style="fill: red"' in clean and 'clip-path="url(#c)"' in clean and 'href="#c"' in clean
    for banned in ("onload", "metadata", "2026", "<style", "script", "foreignObject", "javascript", "position",
                   "evil", "animate", "<a "):
        assert banned not in clean, banned


def test_svg_that_is_not_an_svg_document_or_expands_entities_is_refused() -> None:
    assert clean_svg("<html><body/></html>") is None
    assert clean_svg("not xml <") is None
    laughs = '<!DOCTYPE svg [<!ENTITY a "aaaa">]><svg xmlns="http://www.w3.org/2000/svg">&a;</svg>'
    assert clean_svg(laughs) is None


def test_script_widget_and_unknown_types_are_refused_and_counted() -> None:
    tally = Tally()
    data, _ = clean_bundle({
        "text/plain": "x", "application/javascript": "alert(1)", "text/javascript": "alert(2)",
        "application/vnd.jupyter.widget-view+json": {"model_id": "1"}, "application/vnd.codemode.run+json": {},
        "text/html": "<b>x</b>",
    }, {}, tally)
    assert set(data) == {"text/plain", "text/html"}
    assert tally.refused == {"application/javascript": 1, "text/javascript": 1,
                             "application/vnd.jupyter.widget-view+json": 1, "application/vnd.codemode.run+json": 1}


def test_markdown_becomes_clean_html_with_its_embedded_html_sanitized() -> None:
    data, _ = clean_bundle({"text/plain": "m", "text/markdown": "# Title\n\n<img src=x onerror=alert(1)> "
                                                                "[link](javascript:alert(2)) **bold**"}, {}, Tally())
    assert "text/markdown" not in data
    html = data["text/html"]
    assert "<h1>Title</h1>" in html and "<strong>bold</strong>" in html
    assert "onerror" not in html and "javascript" not in html


def test_latex_that_links_or_styles_is_refused_and_plain_latex_passes() -> None:
    tally = Tally()
    data, _ = clean_bundle({"text/plain": "l", "text/latex": r"$\href{javascript:alert(1)}{x}$"}, {}, tally)
    assert "text/latex" not in data and tally.refused == {"text/latex": 1}
    data, _ = clean_bundle({"text/plain": "l", "text/latex": r"$\frac{1}{2}$"}, {}, tally)
    assert data["text/latex"] == r"$\frac{1}{2}$"


def test_images_must_be_base64_and_only_their_size_metadata_is_kept() -> None:
    tally = Tally()
    data, metadata = clean_bundle({"text/plain": "i", "image/png": "AAAA", "image/jpeg": "<svg onload=x>"},
                                  {"image/png": {"width": 10, "height": 5, "isolated": True}, "text/html": {"x": 1}},
                                  tally)
    assert data == {"text/plain": "i", "image/png": "AAAA"}
    assert metadata == {"image/png": {"width": 10, "height": 5}}
    assert tally.refused == {"image/jpeg": 1}


def test_a_representation_over_its_cap_is_cut_and_counted() -> None:
    tally = Tally()
    data, _ = clean_bundle({"text/plain": "big", "image/png": "A" * (MAX_REPRESENTATION + 4)}, {}, tally)
    assert data == {"text/plain": "big"} and tally.truncated == 1


def test_outputs_past_the_runs_cap_are_dropped_and_counted() -> None:
    outputs = Outputs()
    image = {"data": {"text/plain": "i", "image/png": "A" * (MAX_REPRESENTATION - 8)}, "metadata": {},
             "display_id": None, "update": False}
    shown = [outputs.add(image) for _ in range(MAX_RUN // MAX_REPRESENTATION + 1)]
    assert shown[-1] is None and all(shown[:-1])
    assert outputs.tally.truncated == 1 and len(outputs.items) == len(shown) - 1


def test_an_update_replaces_the_output_with_its_id_and_an_unknown_id_changes_nothing() -> None:
    outputs = Outputs()
    outputs.add({"data": {"text/plain": "0%"}, "metadata": {}, "display_id": "p", "update": False})
    outputs.add({"data": {"text/plain": "other"}, "metadata": {}, "display_id": None, "update": False})
    shown = outputs.add({"data": {"text/plain": "100%"}, "metadata": {}, "display_id": "p", "update": True})
    assert shown is not None and shown["update"] is True
    assert outputs.add({"data": {"text/plain": "?"}, "metadata": {}, "display_id": "q", "update": True}) is None
    assert [item["data"]["text/plain"] for item in outputs.items] == ["100%", "other"]


@pytest.mark.parametrize("kind", ["json", "repr", "image"])
def test_results_that_are_not_bundles_pass_unchanged(kind: str) -> None:
    result = {"kind": kind, "value": 1}
    assert Outputs().result(result) is result


def test_updates_count_toward_the_runs_cap_only_by_what_they_change() -> None:
    outputs = Outputs()
    line = {"data": {"text/plain": "", "image/png": "A" * (MAX_REPRESENTATION // 2)}, "metadata": {}, "display_id": "bar"}
    assert outputs.add({**line, "update": False}) is not None
    for _ in range(3 * MAX_RUN // MAX_REPRESENTATION):
        assert outputs.add({**line, "update": True}) is not None
    assert outputs.tally.truncated == 0 and outputs.tally.size == MAX_REPRESENTATION // 2
