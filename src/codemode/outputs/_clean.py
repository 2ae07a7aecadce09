"""Rich outputs from the worker, made safe to show: sanitized, allow-listed, capped and counted.

A cell's `display()` outputs and rich result arrive as MIME bundles the worker built from
objects the cell controls, so nothing in them is trusted. Every face shows them (a trusted
notebook runs script in `text/html` as it renders it), so the host cleans them once, here,
before they reach a report, a live event or a saved notebook:

- Only known MIME types pass: text, HTML, Markdown, LaTeX, JSON and images. JavaScript,
  widget views and everything else (our own report type included) are refused and counted.
- HTML is cleaned by nh3 (Ammonia) to what tables and text need: no script, style, event
  handler, form, frame, id or foreign class; links only to http(s) and mailto; images only
  as inline data. Markdown becomes that same clean HTML. SVG keeps its drawing elements and
  loses script, foreign objects, style sheets, handlers, outside references and metadata
  (matplotlib's date). LaTeX that links or styles (MathJax's `\\href`, `\\style`) is refused.
- Each representation is capped (`MAX_REPRESENTATION`) and each run (`MAX_RUN`); what is
  cut is counted (OUTPUT_TRUNCATED in the report).
- Bounded work, capped before it starts: a representation over its cap is dropped unread;
  Markdown is converted only up to MAX_MARKDOWN characters (mistune takes 10-25 µs a
  character on the worst inputs), and HTML (given or converted) is cleaned only when its tags
  nest at most MAX_HTML_NESTING deep (html5ever, under nh3, is quadratic in the nesting: 16,000
  nested divs took 4 s). What is over is dropped and counted, its text/plain kept. The engine
  cleans off the event loop, the channel held meanwhile (see `engine._runstate`).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from codemode.shared.b64 import decoded_size

# One representation: a high-resolution figure is ~1 MB of base64, a 60-row table ~50 KB.
MAX_REPRESENTATION = 4 * 1024 * 1024
# All the rich outputs of one run: a notebook is no place for more.
MAX_RUN = 16 * 1024 * 1024
_TEXT_CHARS = 100_000
# Markdown converted to HTML: 64 K characters are a long document, and at most ~1.5 s of
# mistune on this kind of machine for the worst input seen.
MAX_MARKDOWN = 64 * 1024
# Open tags HTML may nest before it is refused: far past any table or text, far below where
# the sanitizer's cost (quadratic in the nesting) shows.
MAX_HTML_NESTING = 256
# A tag: whether it closes, its name, whether it closes itself (`<rect/>`).
_TAG = re.compile(r"<(/?)([A-Za-z][\w:-]*)[^<>]*?(/?)>")
# HTML elements that never have a close tag.
_VOID = frozenset({"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param", "source",
                   "track", "wbr"})

IMAGE_TYPES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp"})
_TEXT_TYPES = frozenset({"text/plain", "text/html", "text/markdown", "text/latex", "image/svg+xml", "application/json"})
_BASE64 = re.compile(r"[A-Za-z0-9+/=\s]*")
_LATEX_ACTIVE = re.compile(r"\\(href|url|style|class|cssId|unicode|html|require|data)\b")

_TAGS = {
    "table", "thead", "tbody", "tfoot", "tr", "th", "td", "caption", "colgroup", "col",
    "div", "span", "p", "br", "hr", "pre", "code", "blockquote", "b", "i", "em", "strong", "u", "s",
    "small", "sub", "sup", "mark", "kbd", "samp", "var", "abbr", "cite", "q", "del", "ins",
    "ul", "ol", "li", "dl", "dt", "dd", "h1", "h2", "h3", "h4", "h5", "h6",
    "a", "img", "details", "summary", "figure", "figcaption",
}
_ATTRIBUTES = {
    "*": {"title", "align", "valign", "style", "lang", "dir"},
    "table": {"border", "cellpadding", "cellspacing"},
    "th": {"colspan", "rowspan", "scope", "halign"},
    "td": {"colspan", "rowspan"},
    "col": {"span"},
    "colgroup": {"span"},
    "a": {"href"},
    "img": {"src", "alt", "width", "height"},
    "ol": {"start"},
}
# Properties that colour and align text; nothing that positions, sizes or hides an element
# (no position, display, transform or z-index: an output cannot cover the page).
_STYLE_PROPERTIES = {
    "text-align", "vertical-align", "font-weight", "font-style", "font-family", "color",
    "background-color", "white-space", "text-decoration", "border-collapse", "border-bottom",
    "border-top", "padding", "padding-left", "padding-right",
}
# pandas marks its tables with these; no other class passes (a JupyterLab class could
# restyle the output as a dialog over the page).
_CLASSES = {"table": {"dataframe"}, "tr": {"odd", "even"}}
_DATA_IMAGE = re.compile(r"data:image/(png|jpeg|gif|webp);base64,[A-Za-z0-9+/=]+\Z")
_IMG_WITHOUT_SRC = re.compile(r"<img(?![^>]*\ssrc=)[^>]*>")


@dataclass
class Tally:
    """What one run's outputs lost: refused MIME types (with counts) and cut representations."""

    refused: dict[str, int] = field(default_factory=dict)
    truncated: int = 0
    size: int = 0

    def refuse(self, mime: str) -> None:
        self.refused[mime] = self.refused.get(mime, 0) + 1


def clean_bundle(data: dict[str, Any], metadata: dict[str, Any], tally: Tally) -> tuple[dict[str, Any], dict[str, Any]]:
    """A bundle fit to show: allowed types only, sanitized, each within its cap.

    Args:
        data: MIME type → representation, as the worker sent it.
        metadata: the worker's metadata; only image sizes are kept.
        tally: where refusals and cuts are counted.

    Returns:
        The clean data (always with text/plain) and metadata.
    """
    clean: dict[str, Any] = {}
    for mime, value in data.items():
        if mime not in _TEXT_TYPES and mime not in IMAGE_TYPES:
            tally.refuse(mime)
            continue
        if isinstance(value, str) and len(value) > (MAX_MARKDOWN if mime == "text/markdown" else MAX_REPRESENTATION):
            tally.truncated += 1  # before any work on it: its size is what the work would cost
            continue
        shown = _clean_one(mime, value)
        if shown is None:
            tally.refuse(mime)
            continue
        size = len(shown) if isinstance(shown, str) else len(json.dumps(shown))
        if size > MAX_REPRESENTATION:
            tally.truncated += 1
            continue
        clean[mime] = shown
    if "text/markdown" in clean and "text/html" not in clean:
        html = _markdown_html(clean["text/markdown"])
        if html is not None:
            clean["text/html"] = html
    clean.pop("text/markdown", None)  # front ends render it with raw HTML: shown as clean HTML instead
    text = data.get("text/plain")
    text = text if isinstance(text, str) else ""
    if len(text) > _TEXT_CHARS:
        tally.truncated += 1
        text = text[:_TEXT_CHARS] + "…"
    clean["text/plain"] = text
    kept = {mime: _image_size(meta) for mime, meta in metadata.items()
            if mime in clean and mime in IMAGE_TYPES and isinstance(meta, dict)}
    return clean, {mime: meta for mime, meta in kept.items() if meta}


def _clean_one(mime: str, value: Any) -> Any:
    if mime in IMAGE_TYPES:
        return value if isinstance(value, str) and _BASE64.fullmatch(value) else None
    if mime == "application/json":
        return value if isinstance(value, (dict, list)) else None
    if not isinstance(value, str):
        return None
    if mime == "text/html":
        return clean_html(value) if _nesting(value) <= MAX_HTML_NESTING else None
    if mime == "image/svg+xml":
        from codemode.outputs._svg import clean_svg

        if _nesting(value) > MAX_HTML_NESTING:  # its cleaning recurses per level: refused first
            return None
        return clean_svg(value)
    if mime == "text/latex":
        return None if _LATEX_ACTIVE.search(value) else value
    return value


def clean_html(html: str) -> str:
    """`html` with everything that could run, load, or restyle the page removed (nh3)."""
    import nh3

    clean = nh3.clean(
        html,
        tags=_TAGS,
        clean_content_tags={"script", "style", "template", "noscript", "iframe", "object", "embed", "svg", "math"},
        attributes=_ATTRIBUTES,
        attribute_filter=_attribute_filter,
        url_schemes={"http", "https", "mailto", "data"},
        url_relative="deny",
        allowed_classes=_CLASSES,
        filter_style_properties=_STYLE_PROPERTIES,
        link_rel="noopener noreferrer nofollow",
    )
    # An image whose source was refused would show as a broken icon: drop it (nh3's output
    # is normalised, so the pattern sees every <img> as nh3 wrote it).
    return _IMG_WITHOUT_SRC.sub("", clean)


def _attribute_filter(tag: str, attribute: str, value: str) -> str | None:
    # data: URLs only as inline images; links may not point at one (nor anything else but
    # the schemes above); images may not load from the network (no tracking, no hidden I/O).
    if tag == "img" and attribute == "src":
        return value if _DATA_IMAGE.match(value.strip()) else None
    if attribute == "href" and value.strip().lower().startswith("data:"):
        return None
    return value


def _markdown_html(text: str) -> str | None:
    try:
        import mistune  # Jupyter's own Markdown parser (nbconvert's); optional
    except ImportError:
        return None
    html = str(mistune.html(text))
    return clean_html(html) if _nesting(html) <= MAX_HTML_NESTING else None


def _nesting(html: str) -> int:
    """How deep the tags of `html` (or SVG) nest at most, counting each open tag until its
    close; void elements (`<br>`) and self-closed ones (`<rect/>`) do not nest. One scan."""
    depth = deepest = 0
    for match in _TAG.finditer(html):
        closing, name, closed = match.groups()
        if closed or name.lower() in _VOID:
            continue
        depth += -1 if closing else 1
        if depth > deepest:
            deepest = depth
            if deepest > MAX_HTML_NESTING:
                break  # too deep already: how much deeper does not matter
    return deepest


def _image_size(meta: dict[str, Any]) -> dict[str, int]:
    return {key: int(meta[key]) for key in ("width", "height")
            if isinstance(meta.get(key), (int, float)) and 0 < meta[key] < 100_000}


@dataclass
class Outputs:
    """The rich outputs of one run, in order, with display-id updates applied in place."""

    tally: Tally = field(default_factory=Tally)
    items: list[dict[str, Any]] = field(default_factory=list)

    def add(self, output: dict[str, Any]) -> dict[str, Any] | None:
        """Clean one output from the worker and keep it; return what to show, or None when
        it was dropped (over the run's cap, or an update of an id never shown)."""
        if output.get("truncated"):
            self.tally.truncated += 1
        data, metadata = clean_bundle(output["data"], output["metadata"], self.tally)
        size = _size(data)
        index = None
        if output.get("update"):
            index = next((i for i, item in enumerate(self.items) if item.get("display_id") == output["display_id"]), None)
            if index is None:
                return None  # as IPython: an update of an id that was never shown changes nothing
        # An update replaces its output: only the difference counts toward the run's cap, so
        # a progress line updated a thousand times costs what one line does.
        replaced = _size(self.items[index]["data"]) if index is not None else 0
        if self.tally.size - replaced + size > MAX_RUN:
            self.tally.truncated += 1
            return None
        self.tally.size += size - replaced
        shown = {"data": data, "metadata": metadata}
        if output.get("display_id"):
            shown["display_id"] = output["display_id"]
        if index is not None:
            self.items[index] = shown
            return {**shown, "update": True}
        self.items.append(shown)
        return shown

    def result(self, result: dict[str, Any] | None) -> dict[str, Any] | None:
        """The cell's result with a rich (`mime`) bundle cleaned like a display output."""
        if result is None or result.get("kind") != "mime":
            return result
        data, metadata = result.get("data"), result.get("metadata")
        if not isinstance(data, dict) or not isinstance(metadata, dict):
            return {"kind": "repr", "text": "<a result the worker could not describe>", "type": "object"}
        data, metadata = clean_bundle(data, metadata, self.tally)
        return {"kind": "mime", "data": data, "metadata": metadata}


def _size(data: dict[str, Any]) -> int:
    return sum(len(v) if isinstance(v, str) else len(json.dumps(v)) for v in data.values())


def result_bundle(result: dict[str, Any] | None) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """A report's result as a MIME bundle for a front end, when it is rich (a table, an image)."""
    if result is None:
        return None
    if result.get("kind") == "mime":
        return dict(result.get("data") or {}), dict(result.get("metadata") or {})
    if result.get("kind") == "image" and result.get("mimeType") in IMAGE_TYPES and result.get("data"):
        size = decoded_size(result["data"])
        return {result["mimeType"]: result["data"], "text/plain": f"<Image {result['mimeType']}, {size} bytes>"}, {}
    return None
