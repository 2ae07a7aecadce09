"""Big values of an `execute` result as resource links, so no result outgrows a transport.

The SDK's streamable HTTP client refuses an event over 1 MiB, and a model gains nothing from a
megabyte of output in its context. So an `execute` result is bounded: its `structuredContent`
to `STRUCTURED_BYTES` of JSON, its text to `TEXT_CHARS` characters, its images to
`IMAGE_BYTES` in all. A value past its share (the result, stdout, stderr, the call list, an
image) is kept in the session and offered as a `resource_link` (read with `resources/read` on
this server) beside a short preview; a value past `CHUNK_BYTES` is offered in parts, each a
link of its own, so every `resources/read` answer stays under the limit too.

Sizes are measured as JSON with ASCII escapes, the largest form a transport may send.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

#: Bytes of `structuredContent` (JSON) a result may carry.
STRUCTURED_BYTES = 256 * 1024
#: A field of `structuredContent` past this many bytes is linked, whatever the total.
FIELD_BYTES = 64 * 1024
#: Characters of the text block a model reads.
TEXT_CHARS = 20_000
#: Bytes of image data (base64) inline in one result; images past it are linked.
IMAGE_BYTES = 384 * 1024
#: Bytes (JSON) of one `resources/read` answer's text: a value longer comes in parts.
CHUNK_BYTES = 512 * 1024
#: Characters of a linked value shown in its place.
PREVIEW_CHARS = 2_000
#: Calls listed in `structuredContent` when the list alone is too long.
LISTED_CALLS = 100


@dataclass(frozen=True)
class Link:
    """One kept value (or one part of it), as a client reads it back."""

    uri: str
    name: str
    mime_type: str
    size: int  # bytes of the part, UTF-8

    def block(self) -> dict[str, Any]:
        return {"type": "resource_link", "uri": self.uri, "name": self.name, "mimeType": self.mime_type,
                "size": self.size}


#: Keeps `text` (of this MIME type) in the session under `name`; the links to read it back.
Keep = Callable[[str, str, str], list[Link]]


def json_size(value: Any) -> int:
    return len(json.dumps(value, separators=(",", ":")))


def chunks(text: str, limit: int = CHUNK_BYTES) -> list[str]:
    """`text` in pieces whose JSON string form is at most `limit` bytes each."""
    pieces: list[str] = []
    start = 0
    step = max(limit // 8, 1)
    while start < len(text):
        end = min(len(text), start + limit - 2)  # 2: the quotes of a JSON string
        while end > start + 1 and json_size(text[start:end]) > limit:
            end = start + max((end - start) // 2, 1) if end - start > step else end - 1
        pieces.append(text[start:end])
        start = end
    return pieces or [""]


def preview(text: str, limit: int = PREVIEW_CHARS) -> str:
    return text if len(text) <= limit else text[:limit] + f"… [{len(text) - limit:,} more characters]"


def bound_structured(data: dict[str, Any], texts: dict[str, tuple[str, str]], keep: Keep) -> dict[str, list[Link]]:
    """Bound `data` (an execute's `structuredContent`) in place; the links of what moved out.

    Args:
        data: the structured content, with `stdout`, `stderr`, `result`, `calls`.
        texts: each linkable field's full text form and MIME type (`result` as JSON text).
        keep: keeps a value in the session.
    """
    links: dict[str, list[Link]] = {}

    def move(field: str) -> None:
        text, mime = texts[field]
        links[field] = keep(field, text, mime)
        data[field] = preview(text)

    for field in ("result", "stdout", "stderr"):
        if field in texts and json_size(data.get(field)) > FIELD_BYTES:
            move(field)
    if json_size(data) > STRUCTURED_BYTES and len(data.get("calls") or []) > LISTED_CALLS:
        calls = data["calls"]
        links["calls"] = keep("calls", json.dumps(calls, ensure_ascii=False), "application/json")
        data["calls"] = calls[:LISTED_CALLS]
        data["callsOmitted"] = len(calls) - LISTED_CALLS
    error = data.get("error")
    if json_size(data) > STRUCTURED_BYTES and isinstance(error, dict) and error.get("traceback"):
        error["traceback"] = preview(str(error["traceback"]))
    for field in ("result", "stdout", "stderr"):
        if json_size(data) <= STRUCTURED_BYTES:
            break
        if field in texts and field not in links:
            move(field)
    if links:
        data["links"] = {field: [link.uri for link in parts] for field, parts in links.items()}
    return links


def bound_images(blocks: list[dict[str, Any]], keep: Keep) -> list[dict[str, Any]]:
    """The rich blocks with images past `IMAGE_BYTES` (in all) replaced by links to them."""
    out: list[dict[str, Any]] = []
    used = 0
    for index, block in enumerate(blocks):
        if block.get("type") == "image":
            size = len(block.get("data", ""))
            if used + size > IMAGE_BYTES:
                out += [link.block() for link in keep(f"image-{index + 1}", block["data"], block["mimeType"])]
                continue
            used += size
        out.append(block)
    return out
