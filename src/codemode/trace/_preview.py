"""What a report keeps of a call's arguments and result: whole when short, a marked cut when
long. The full values go to the server, the code and the trace file; the report (and the saved
notebook) keeps these previews."""

from __future__ import annotations

from typing import Any

# A call's arguments and result preview are cut at this many characters in the report; the
# full result stays in `ToolCall.result` for code that wants it.
PREVIEW_CHARS = 2000
# Images and audio in a report are kept whole up to this many base64 characters.
MEDIA_CHARS = 512 * 1024
# The host keeps a call's arguments whole up to this many characters of JSON; past it, each
# long value is cut to ARGUMENT_VALUE_CHARS. The full arguments go to the server and are
# dropped: what code sends never grows the host's memory or the saved notebook without bound.
ARGUMENTS_CHARS = 4096
ARGUMENT_VALUE_CHARS = 200


def preview(payload: dict[str, Any]) -> dict[str, Any]:
    """A result payload cut down for display: long JSON becomes a truncated text."""
    import json

    kind = payload.get("kind")
    if kind == "mime":
        return payload  # sanitized and capped by the host already (codemode.outputs)
    if kind in ("image", "audio"):
        data = payload.get("data", "")
        return payload if len(data) <= MEDIA_CHARS else {**payload, "data": "", "truncated": True}
    if kind == "content":
        return {"kind": "content", "blocks": [_block_preview(b) for b in payload.get("blocks", [])]}
    if kind == "repr":
        text = payload.get("text", "")
        return payload if len(text) <= PREVIEW_CHARS else {**payload, "text": text[:PREVIEW_CHARS], "truncated": True}
    text = json.dumps(payload.get("value"), ensure_ascii=False)
    if len(text) <= PREVIEW_CHARS:
        return payload
    return {"kind": "json", "preview": text[:PREVIEW_CHARS], "truncated": True, "chars": len(text)}


def preview_arguments(arguments: dict[str, Any], text: str | None = None) -> dict[str, Any]:
    """The arguments as the host keeps them: whole when short, else each long value cut to a
    marked string (`"AAAA… [16,777,216 characters]"`). `text`: their JSON, when at hand."""
    import json

    if text is None:
        try:
            text = json.dumps(arguments, ensure_ascii=False)
        except (TypeError, ValueError):
            text = None
    if text is not None and len(text) <= ARGUMENTS_CHARS:
        return arguments
    kept: dict[str, Any] = {}
    for key, value in list(arguments.items())[:50]:
        shown = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
        if len(shown) > ARGUMENT_VALUE_CHARS:
            kept[key[:ARGUMENT_VALUE_CHARS]] = f"{shown[:ARGUMENT_VALUE_CHARS]}… [{len(shown):,} characters]"
        else:
            kept[key[:ARGUMENT_VALUE_CHARS]] = value
    if len(arguments) > 50:
        kept["…"] = f"[{len(arguments) - 50} more arguments]"
    return kept


def _block_preview(block: dict[str, Any]) -> dict[str, Any]:
    if block.get("type") in ("image", "audio"):
        if len(block.get("data", "")) > MEDIA_CHARS:
            return {**block, "data": "", "truncated": True}
        return block
    if block.get("type") == "text" and len(block.get("text", "")) > PREVIEW_CHARS:
        return {**block, "text": block["text"][:PREVIEW_CHARS], "truncated": True}
    return block
