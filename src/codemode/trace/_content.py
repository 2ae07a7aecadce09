"""A run's rich outputs as MCP content blocks, for `codemode serve`'s `execute` result.

An agent reads text and sees images: each `display()` output and a rich cell result becomes
an image block when it has a raster image (a chart), else a text block of its text form (a
DataFrame's plain-text table). HTML never goes to the model: it is for people's front ends.
"""

from __future__ import annotations

from typing import Any

from codemode.trace._records import RunReport

# Raster types MCP clients show; SVG goes as its text form (many clients draw no SVG).
_IMAGE_TYPES = ("image/png", "image/jpeg", "image/gif", "image/webp")


def bundle_content(data: dict[str, Any]) -> dict[str, Any]:
    """One MIME bundle (sanitized by the host) as one MCP content block."""
    for mime in _IMAGE_TYPES:
        if isinstance(data.get(mime), str) and data[mime]:
            return {"type": "image", "data": data[mime], "mimeType": mime}
    return {"type": "text", "text": str(data.get("text/plain", ""))}


def rich_content(report: RunReport, *, result_text: bool = True) -> list[dict[str, Any]]:
    """The report's display outputs, in order, then its result when that is rich (a table,
    a figure, a tool's image), as MCP content blocks (`{"type": "image"|"text", ...}`).

    Plain results (JSON data, a repr) and streams are not included: the caller already
    renders those as text. With `result_text=False` a rich result adds a block only when it
    is an image (a caller whose text already holds the result's text form).
    """
    blocks = [bundle_content(output["data"]) for output in report.displays]
    result = report.result or {}
    if result.get("kind") == "mime":
        block = bundle_content(result.get("data") or {})
        if result_text or block["type"] == "image":
            blocks.append(block)
    elif result.get("kind") == "image" and result.get("mimeType") in _IMAGE_TYPES and result.get("data"):
        blocks.append({"type": "image", "data": result["data"], "mimeType": result["mimeType"]})
    return blocks
