"""The host's check of every frame the worker sends, field by field, before anything uses it.

`_frames.decode` guarantees a JSON object with a string `op`, under the size cap. This
module does the rest, so no later code (the session, the trace, a renderer, a terminal)
meets a value of the wrong type or shape:

- every string is valid Unicode that encodes to UTF-8: a lone surrogate (JSON allows
  `"\\ud800"`) becomes U+FFFD, so printing it can never raise `UnicodeEncodeError`;
- no value nests deeper than MAX_DEPTH;
- each known op has its fields of the right types: ids are integers, names are short
  strings, a `done` frame's result and error have the shapes the report reads.

A frame that fails is a `FrameError`: the host stops the worker, as for any bad frame.
Ops this module does not know pass through with their strings cleaned; the host's
dispatcher refuses them.
"""

from __future__ import annotations

from typing import Any

from codemode.sandbox._frames import MAX_DEPTH, FrameError

# Python identifiers of servers and tools: nothing honest is longer.
MAX_NAME = 256
_RESULT_KINDS = ("json", "repr", "image", "audio", "mime")


def clean_text(text: str) -> str:
    """`text` with each lone surrogate replaced by U+FFFD (a no-op for valid text)."""
    if text.isascii():
        return text
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")
    return text


def _clean(value: Any, depth: int) -> Any:
    if isinstance(value, str):
        return clean_text(value)
    if depth > MAX_DEPTH:
        raise FrameError(f"a value nests deeper than {MAX_DEPTH} levels")
    if isinstance(value, list):
        return [_clean(item, depth + 1) for item in value]
    if isinstance(value, dict):
        return {clean_text(key): _clean(item, depth + 1) for key, item in value.items()}
    return value


def _check_depth(value: Any, depth: int) -> None:
    """What `_clean` refuses, without rebuilding: a value other than a string deeper than MAX_DEPTH."""
    if depth > MAX_DEPTH:
        raise FrameError(f"a value nests deeper than {MAX_DEPTH} levels")
    for item in value.values() if isinstance(value, dict) else value:
        if isinstance(item, (list, dict)):
            _check_depth(item, depth + 1)
        elif depth >= MAX_DEPTH and not isinstance(item, str):
            raise FrameError(f"a value nests deeper than {MAX_DEPTH} levels")


def _int(message: dict[str, Any], key: str) -> int:
    value = message.get(key)
    if not isinstance(value, int) or isinstance(value, bool):
        raise FrameError(f"a {message['op']!r} frame needs an integer {key!r}")
    return value


def _name(message: dict[str, Any], key: str) -> str:
    value = message.get(key)
    if not isinstance(value, str) or len(value) > MAX_NAME:
        raise FrameError(f"a {message['op']!r} frame needs {key!r} as a string of at most {MAX_NAME} characters")
    return value


def _strings(data: dict[str, Any], required: tuple[str, ...], optional: tuple[str, ...], what: str) -> None:
    for key in required:
        if not isinstance(data.get(key), str):
            raise FrameError(f"{what} needs a string {key!r}")
    for key in optional:
        if data.get(key) is not None and not isinstance(data[key], str):
            raise FrameError(f"{what}: {key!r} must be a string")


def _check_result(result: Any) -> None:
    if result is None:
        return
    if not isinstance(result, dict) or result.get("kind") not in _RESULT_KINDS:
        raise FrameError(f"a done frame's result must be an object with a kind of {', '.join(_RESULT_KINDS)}")
    kind = result["kind"]
    if kind == "json" and "value" not in result:
        raise FrameError("a json result needs a value")
    if kind == "repr":
        _strings(result, ("text",), ("type",), "a repr result")
    if kind in ("image", "audio"):
        _strings(result, ("mimeType", "data"), (), f"an {kind} result")
    if kind == "mime":
        _check_bundle(result, "a mime result")


def _check_bundle(frame: dict[str, Any], what: str) -> None:
    """A MIME bundle's shape: data and metadata objects (`codemode.outputs` cleans the values)."""
    if not isinstance(frame.get("data"), dict) or not isinstance(frame.get("metadata", {}), dict):
        raise FrameError(f"{what} needs a data object keyed by MIME type and a metadata object")


def _check_error(error: Any) -> None:
    if error is None:
        return
    if not isinstance(error, dict):
        raise FrameError("a done frame's error must be an object")
    _strings(error, ("type", "message"), ("traceback", "code", "server", "tool"), "a done frame's error")


def _check_rows(rows: Any, op: str) -> None:
    if not isinstance(rows, list) or not all(
        isinstance(row, dict) and isinstance(row.get("layer"), str) and isinstance(row.get("active"), bool)
        and isinstance(row.get("detail", ""), str) for row in rows
    ):
        raise FrameError(f"a {op!r} frame's isolation must be a list of {{layer, active, detail}} rows")


def check_frame(message: dict[str, Any], body: bytes | None = None) -> dict[str, Any]:
    """The frame with its strings cleaned, once its fields are of the right types.

    `body`, the frame's bytes as received, lets a common frame skip work: `decode` refuses
    invalid UTF-8, so a lone surrogate can only come from a `\\u` escape, and a value needs
    two bytes a level to nest, so a short frame cannot nest too deep.

    Raises:
        FrameError: a field of a known op has the wrong type or shape, or a value nests
            too deep.
    """
    if body is None or b"\\u" in body:
        message = _clean(message, 0)
    elif len(body) > 2 * MAX_DEPTH:
        _check_depth(message, 0)
    op = message["op"]
    if op == "stream":
        if message.get("name") not in ("stdout", "stderr") or not isinstance(message.get("text"), str):
            raise FrameError("a stream frame needs name stdout|stderr and a text")
    elif op in ("call", "search", "refused"):
        _int(message, "id")
        if op == "refused" and not (isinstance(message.get("code"), str) and isinstance(message.get("message"), str)):
            raise FrameError("a refused frame needs a code and a message")
        if op in ("call", "refused"):
            _name(message, "server")
            _name(message, "tool")
        if not isinstance(message.get("arguments"), dict):
            raise FrameError(f"a {op} frame needs an arguments object")
    elif op == "cancel":
        _int(message, "id")
    elif op == "done":
        _int(message, "id")
        if not isinstance(message.get("ok"), bool):
            raise FrameError("a done frame needs a boolean 'ok'")
        _check_result(message.get("result"))
        _check_error(message.get("error"))
        threads = message.get("threads")
        if threads is not None and not (isinstance(threads, dict) and all(
                isinstance(threads.get(key, []), list) and all(isinstance(n, str) for n in threads.get(key, []))
                for key in ("stopped", "running", "idle"))):
            raise FrameError("a done frame's threads must be lists of names: stopped, running and idle")
        shadowed = message.get("shadowed")
        if shadowed is not None and not (isinstance(shadowed, dict) and all(
                isinstance(k, str) and isinstance(v, str) for k, v in shadowed.items())):
            raise FrameError("a done frame's shadowed must map server names to type names")
    elif op in ("ready", "setup_done"):
        _check_rows(message.get("isolation", []), op)
    elif op == "display":
        _check_bundle(message, "a display frame")
        if message.get("display_id") is not None and not isinstance(message["display_id"], str):
            raise FrameError("a display frame's display_id must be a string or null")
    elif op == "names":
        names = message.get("names")
        if not isinstance(names, list) or not all(isinstance(name, str) for name in names):
            raise FrameError("a names frame needs a list of strings")
    return message
