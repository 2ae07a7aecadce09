"""SVG from the worker reduced to a drawing: shapes, text, gradients and clip paths only.

JupyterLab shows SVG in an `<img>` (where no script runs), but other front ends put it in the
page, so the host keeps an allow-list of drawing elements and attributes and drops the rest:
script, foreignObject, style sheets, animation, links, event handlers, references outside the
document and metadata (matplotlib writes the date there, which would differ on every run).
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

_SVG = "http://www.w3.org/2000/svg"
_XLINK = "http://www.w3.org/1999/xlink"
_ELEMENTS = {
    "svg", "g", "path", "rect", "circle", "ellipse", "line", "polyline", "polygon", "text", "tspan",
    "defs", "clipPath", "use", "symbol", "title", "desc", "linearGradient", "radialGradient", "stop",
    "pattern", "mask", "marker", "image",
}
_ATTRIBUTES = {
    "width", "height", "viewBox", "preserveAspectRatio", "version", "x", "y", "x1", "y1", "x2", "y2",
    "cx", "cy", "r", "rx", "ry", "d", "points", "transform", "fill", "fill-opacity", "fill-rule",
    "stroke", "stroke-width", "stroke-linecap", "stroke-linejoin", "stroke-miterlimit",
    "stroke-dasharray", "stroke-dashoffset", "stroke-opacity", "opacity", "clip-path", "clip-rule",
    "mask", "font-family", "font-size", "font-style", "font-weight", "text-anchor",
    "dominant-baseline", "id", "class", "style", "offset", "stop-color", "stop-opacity",
    "gradientUnits", "gradientTransform", "patternUnits", "patternTransform", "clipPathUnits",
    "markerWidth", "markerHeight", "refX", "refY", "orient", "markerUnits", "dx", "dy",
    "textLength", "lengthAdjust", "href",
}
_STYLE_PROPERTIES = {
    "fill", "fill-opacity", "fill-rule", "stroke", "stroke-width", "stroke-linecap", "stroke-linejoin",
    "stroke-miterlimit", "stroke-dasharray", "stroke-dashoffset", "stroke-opacity", "opacity",
    "font-family", "font-size", "font-style", "font-weight", "text-anchor", "dominant-baseline",
    "clip-path", "clip-rule", "mask", "stop-color", "stop-opacity", "white-space", "letter-spacing",
}
_LOCAL_URL = re.compile(r"url\(\s*#[\w.-]+\s*\)\Z")
_DATA_IMAGE = re.compile(r"data:image/(png|jpeg|gif|webp);base64,[A-Za-z0-9+/=\s]+\Z")
_SAFE_VALUE = re.compile(r"[^\\<>@{};]*\Z")  # no escapes, markup, at-rules or blocks in a property


def clean_svg(text: str) -> str | None:
    """The drawing in `text`, or None when it is not an SVG document we can read."""
    if "<!ENTITY" in text:
        return None  # entity expansion (billion laughs): no honest plot needs it
    try:
        root = ET.fromstring(text)
    except (ET.ParseError, ValueError):
        return None
    if _local(root.tag) != "svg" or not _namespaced(root.tag):
        return None
    _clean(root)
    ET.register_namespace("", _SVG)
    ET.register_namespace("xlink", _XLINK)
    return ET.tostring(root, encoding="unicode")


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _namespaced(tag: str) -> bool:
    return tag.startswith("{" + _SVG + "}")


def _clean(element: ET.Element) -> None:
    for child in list(element):
        if not isinstance(child.tag, str) or not _namespaced(child.tag) or _local(child.tag) not in _ELEMENTS:
            element.remove(child)  # comments, processing instructions, foreign and unknown elements
            continue
        _clean(child)
    for name in list(element.attrib):
        value = element.attrib[name]
        keep = _attribute(_local(element.tag), name, value)
        if keep is None:
            del element.attrib[name]
        else:
            element.attrib[name] = keep


def _attribute(tag: str, name: str, value: str) -> str | None:
    local = _local(name)
    namespace = name[1:].split("}", 1)[0] if name.startswith("{") else ""
    if namespace not in ("", _XLINK) or local not in _ATTRIBUTES:
        return None
    if local == "href":
        # Inside the document only (`#id`), or an inline image: never a link or a fetch.
        if value.startswith("#") or (tag == "image" and _DATA_IMAGE.match(value.strip())):
            return value
        return None
    if local == "style":
        return _style(value)
    if "url(" in value and not _LOCAL_URL.match(value.strip()):
        return None
    return value if _SAFE_VALUE.match(value) else None


def _style(value: str) -> str | None:
    kept = []
    for declaration in value.split(";"):
        prop, _, setting = declaration.partition(":")
        prop, setting = prop.strip().lower(), setting.strip()
        if prop not in _STYLE_PROPERTIES or not _SAFE_VALUE.match(setting):
            continue
        if "url(" in setting and not _LOCAL_URL.match(setting):
            continue
        kept.append(f"{prop}: {setting}")
    return "; ".join(kept) or None
