"""Checking a call's arguments against the tool's input schema, before the call leaves.

The sandbox worker runs `check_arguments` on every tool call, so a typo or a wrong type comes
back at once, in Python terms and naming the argument, instead of as a server error after a
round trip (or, worse, silently ignored: pydantic servers drop unknown keys).

Invariants:
- Pure, stdlib-only and total: any schema and any arguments give a list of problems (empty
  when fine), never an exception. Keywords we do not know are ignored (accepted), so the
  check never rejects a call the server would take, with two stated exceptions: unknown
  top-level arguments are rejected unless the schema opens `additionalProperties`, and a
  `oneOf` passes when any branch does (exclusivity is not checked).
- `arguments` are keyed by wire keys (`file-path`); messages name them the Python way
  (`file_path`), with a path into nested values (`items[2].quantity`).
- None for an optional argument means "not given" to a caller: `drop_unset` removes it
  before the call, unless the schema accepts null. `check_arguments` itself holds to JSON
  Schema: null is refused wherever the schema does not allow it (the host checks what the
  worker sent, and a None there was not dropped by `drop_unset`).
- `difflib` is imported only when a message needs it; whether a value fits its schema is
  `_fit.check_value`.
"""

from __future__ import annotations

from codemode.schema._fit import MAX_PROBLEMS, check_value
from codemode.schema._names import NameMap
from codemode.schema._types import annotation

TYPE_CHECKING = False  # not `typing.TYPE_CHECKING`: importing typing costs the worker ~10 ms
if TYPE_CHECKING:
    from typing import Any

    from codemode.schema._fit import Problem

__all__ = ["check_arguments", "drop_unset"]

#: Accepted names listed in an "unknown argument" message when no close match exists; a
#: longer list would bury the message.
MAX_LISTED_NAMES = 10



def check_arguments(input_schema: dict[str, Any], arguments: dict[str, Any]) -> list[str]:
    """The problems with calling a tool with `arguments`; empty when the call looks right.

    Args:
        input_schema: the tool's input schema (an object schema).
        arguments: the arguments by wire key, after `drop_unset`: a None left is null on the
            wire, refused where the schema does not allow null.

    Returns:
        One human-readable line per problem, e.g.
        `argument 'status': expected one of "open", "shipped", got "bogus"`.
    """
    props = input_schema.get("properties") if isinstance(input_schema, dict) else None
    declared = isinstance(props, dict)  # `"properties": {}` declares "no arguments"
    if not isinstance(props, dict):
        props = {}
    required = input_schema.get("required") if isinstance(input_schema, dict) else None
    required = [k for k in required if isinstance(k, str)] if isinstance(required, list) else []
    extra = input_schema.get("additionalProperties") if isinstance(input_schema, dict) else None
    closed = declared and (extra is False or extra is None)
    unknown: list[str] = []
    found: list[tuple[str, Problem]] = []
    for key, value in arguments.items():
        if len(unknown) + len(found) >= MAX_PROBLEMS:  # 400,000 unknown names: each is a "did you mean"
            break
        if key in props:
            found += [(key, p) for p in check_value(value, props[key], input_schema, 0)]
        elif closed or not isinstance(key, str):
            unknown.append(str(key))
        elif isinstance(extra, dict):
            found += [(key, p) for p in check_value(value, extra, input_schema, 0)]
    missing = [k for k in required if k not in arguments]
    if not (unknown or missing or found):
        return []
    return _render(input_schema, props, unknown, missing, found)[:MAX_PROBLEMS]


def _render(
    root: dict[str, Any],
    props: dict[str, Any],
    unknown: list[str],
    missing: list[str],
    found: list[tuple[str, Problem]],
) -> list[str]:
    """The messages, with wire keys turned into the Python names the caller typed."""
    names = NameMap.build(props, fallback="arg")
    accepted = names.python_names()
    lines = [_unknown_message(key, accepted) for key in unknown]
    lines += [
        f"missing required argument {_shown(names, key)!r} ({annotation(props.get(key), root)})"
        for key in missing
    ]
    for key, (path, message, _) in found:
        where = _shown(names, key)
        lines.append(f"argument '{where}{path}': {message}")
    return lines


def _shown(names: NameMap, key: str) -> str:
    """The name the caller used for a wire key: its Python name when it is a property."""
    try:
        return names.to_python(key)
    except KeyError:  # `required` names a key that `properties` does not declare
        return key


def _unknown_message(key: str, accepted: list[str]) -> str:
    if not accepted:
        return f"unknown argument {key!r}; this tool takes no arguments"
    from difflib import get_close_matches

    close = get_close_matches(key, accepted, n=1, cutoff=0.6)
    if close:
        return f"unknown argument {key!r}; did you mean {close[0]!r}?"
    if len(accepted) <= MAX_LISTED_NAMES:
        return f"unknown argument {key!r}; accepted: {', '.join(accepted)}"
    return f"unknown argument {key!r}"


def drop_unset(arguments: dict[str, Any], input_schema: dict[str, Any]) -> dict[str, Any]:
    """`arguments` without the optional ones passed as None where the schema rejects null.

    A stub shows `limit: int | None = None` for an optional `limit`; passing None there means
    "use the server's default", which on the wire is leaving the key out.
    """
    props = input_schema.get("properties") if isinstance(input_schema, dict) else None
    if not isinstance(props, dict):
        return dict(arguments)
    required = input_schema.get("required")
    required = required if isinstance(required, list) else []
    return {
        key: value
        for key, value in arguments.items()
        if value is not None
        or key not in props
        or key in required
        or not check_value(None, props[key], input_schema, 0)
    }
