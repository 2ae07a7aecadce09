"""Does a value fit a JSON Schema? The problems of one value against one schema, for
`_validate.check_arguments` (the messages, the names) and `drop_unset`.

Pure, stdlib-only and total: any schema and any value give a list of problems (empty when it
fits), never an exception; keywords we do not know are accepted (the server decides). Each
problem is `(path below the argument, message, True when it is a plain type mismatch)`.
`difflib` and `re` are imported only when a message or a `pattern` needs them.

Bounded work whatever the value: an object stops at MAX_PROBLEMS problems (each may cost a
"did you mean"), and a `pattern` runs on RE2 (linear time) where it is installed, as on the
host: Python's `re` backtracks (`^(a+)+$`), holding the GIL. A pattern RE2 cannot compile (a
backreference, a lookaround) is left to the server, as every pattern is on a host without
RE2. The worker may use `re` when it has no RE2 (`BACKTRACKING_OK`, set by the worker):
there the time spent is the cell's own, under its timeout.
"""

from __future__ import annotations

from codemode.schema._types import MAX_DEPTH, annotation, python_literal, resolve_ref

TYPE_CHECKING = False  # not `typing.TYPE_CHECKING`: importing typing costs the worker ~10 ms
if TYPE_CHECKING:
    from typing import Any, TypeGuard

    # (path below the argument, message, True when it is a plain type mismatch)
    Problem = tuple[str, str, bool]

#: Enum values shown in a message; more are counted, not shown.
MAX_LISTED_VALUES = 12

#: Problems reported for one call: past this, the first ones are what the author needs.
MAX_PROBLEMS = 20

#: A value shown in a message is cut to this many characters.
MAX_SHOWN_VALUE = 60

_PATTERNS: dict[str, Any] = {}  # pattern text -> compiled regex, or None when it won't compile


def check_value(value: object, schema: object, root: dict[str, Any], depth: int) -> list[Problem]:
    """The problems of one value against one schema (empty when it fits)."""
    if depth > MAX_DEPTH or not isinstance(schema, dict) or not schema:
        return []
    problems: list[Problem] = []
    ref = schema.get("$ref")
    if isinstance(ref, str):
        problems += check_value(value, resolve_ref(root, ref), root, depth + 1)
        if problems:
            return problems
    if value is None and schema.get("nullable") is True:
        return []
    for key in ("anyOf", "oneOf"):
        branches = schema.get(key)
        if isinstance(branches, list) and branches:
            problems += _check_union(value, schema, branches, root, depth)
    for branch in schema.get("allOf") or ():
        problems += check_value(value, branch, root, depth + 1)
    if problems:
        return problems
    if "enum" in schema or "const" in schema:
        problems += _check_choice(value, schema)
    elif not _type_ok(value, schema.get("type")):
        return [("", f"expected {annotation(schema, root)}, got {describe(value)}", True)]
    if problems:
        return problems
    if isinstance(value, str):
        return _check_string(value, schema)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return _check_number(value, schema)
    if isinstance(value, (list, tuple)):
        return _check_array(value, schema, root, depth)
    if isinstance(value, dict):
        return _check_object(value, schema, root, depth)
    return []


def _check_union(
    value: object, schema: dict[str, Any], branches: list[Any], root: dict[str, Any], depth: int
) -> list[Problem]:
    """Fine if any branch fits; else the problems of the one branch of the right type."""
    near: list[list[Problem]] = []
    for branch in branches:
        problems = check_value(value, branch, root, depth + 1)
        if not problems:
            return []
        if not (len(problems) == 1 and problems[0][0] == "" and problems[0][2]):
            near.append(problems)  # right type, wrong details: the branch the caller meant
    if len(near) == 1:
        return near[0]
    shape = {key: schema[key] for key in ("anyOf", "oneOf") if key in schema}
    return [("", f"expected {annotation(shape, root)}, got {describe(value)}", True)]


def _type_ok(value: object, kind: object) -> bool:
    if isinstance(kind, list):
        return not kind or any(_type_ok(value, k) for k in kind)
    if kind == "string":
        return isinstance(value, str)
    if kind == "integer":  # JSON has one number type: 2.0 is an integer, True is not
        if isinstance(value, float):
            return value.is_integer()
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "number":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if kind == "boolean":
        return isinstance(value, bool)
    if kind == "null":
        return value is None
    if kind == "array":
        return isinstance(value, (list, tuple))
    if kind == "object":
        return isinstance(value, dict)
    return True  # no type, or one we do not know: the server decides


def _check_choice(value: object, schema: dict[str, Any]) -> list[Problem]:
    if "const" in schema:
        if _json_equal(value, schema["const"]):
            return []
        return [("", f"expected {python_literal(schema['const'])}, got {describe(value)}", False)]
    allowed = schema["enum"]
    if not isinstance(allowed, list) or any(_json_equal(value, a) for a in allowed):
        return []
    shown = ", ".join(python_literal(a) for a in allowed[:MAX_LISTED_VALUES])
    if len(allowed) > MAX_LISTED_VALUES:
        shown += f", ... ({len(allowed)} values)"
    message = f"expected one of {shown}, got {describe(value)}"
    if isinstance(value, str):
        from difflib import get_close_matches

        words = [a for a in allowed if isinstance(a, str)]
        close = get_close_matches(value, words, n=1, cutoff=0.6)
        if close:
            message += f"; did you mean {python_literal(close[0])}?"
    return [("", message, False)]


def _json_equal(a: object, b: object) -> bool:
    """Equality as JSON sees it: True is not 1, 1 is 1.0, a str subclass is a string."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if (_is_number(a) and _is_number(b)) or (isinstance(a, str) and isinstance(b, str)):
        return a == b
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(_json_equal(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_json_equal(a[k], b[k]) for k in a)
    return a is None and b is None


def _is_number(value: object) -> TypeGuard[float]:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _check_string(value: str, schema: dict[str, Any]) -> list[Problem]:
    low, high = schema.get("minLength"), schema.get("maxLength")
    if isinstance(low, int) and len(value) < low:
        return [
            ("", f"must be at least {_count(low, 'character')} long, got {describe(value)}", False)
        ]
    if isinstance(high, int) and len(value) > high:
        return [("", f"must be at most {_count(high, 'character')} long, got {len(value)}", False)]
    pattern = schema.get("pattern")
    if isinstance(pattern, str):
        regex = _compiled(pattern)
        if regex is not None and not regex.search(value):
            return [("", f"must match the pattern {pattern!r}, got {describe(value)}", False)]
    return []


#: Whether a pattern may run on Python's backtracking `re` when RE2 is missing: only where
#: the time it takes is a cell's own (the sandbox worker sets it). A host without RE2 leaves
#: patterns to the server rather than stall.
BACKTRACKING_OK = False


def _compiled(pattern: str) -> Any:
    if pattern not in _PATTERNS:
        engine: Any
        try:
            import re2 as engine  # type: ignore[import-untyped, no-redef]  # linear time
        except ImportError:
            if not BACKTRACKING_OK:
                _PATTERNS[pattern] = None
                return None
            import re as engine  # type: ignore[no-redef]  # the worker: its time is the cell's
        try:
            _PATTERNS[pattern] = engine.compile(pattern)
        except Exception:  # noqa: BLE001 - re.error, re2.error, an ECMA-only construct: the server judges
            _PATTERNS[pattern] = None
    return _PATTERNS[pattern]


def _check_number(value: float, schema: dict[str, Any]) -> list[Problem]:
    low, high = schema.get("minimum"), schema.get("maximum")
    xlow, xhigh = schema.get("exclusiveMinimum"), schema.get("exclusiveMaximum")
    if xlow is True:  # draft 4: a flag on minimum
        xlow, low = low, None
    if xhigh is True:
        xhigh, high = high, None
    got = f", got {describe(value)}"
    if _is_number(low) and value < low:
        return [("", f"must be >= {low}{got}", False)]
    if _is_number(xlow) and value <= xlow:
        return [("", f"must be > {xlow}{got}", False)]
    if _is_number(high) and value > high:
        return [("", f"must be <= {high}{got}", False)]
    if _is_number(xhigh) and value >= xhigh:
        return [("", f"must be < {xhigh}{got}", False)]
    return []


def _check_array(
    value: list[Any] | tuple[Any, ...], schema: dict[str, Any], root: dict[str, Any], depth: int
) -> list[Problem]:
    low, high = schema.get("minItems"), schema.get("maxItems")
    if isinstance(low, int) and len(value) < low:
        return [("", f"must have at least {_count(low, 'item')}, got {len(value)}", False)]
    if isinstance(high, int) and len(value) > high:
        return [("", f"must have at most {_count(high, 'item')}, got {len(value)}", False)]
    items, prefix = schema.get("items"), schema.get("prefixItems")
    if isinstance(items, list):  # draft 4-7 tuple form
        items, prefix = schema.get("additionalItems"), items
    prefix = prefix if isinstance(prefix, list) else []
    problems: list[Problem] = []
    for index, item in enumerate(value):
        if index < len(prefix):
            sub = check_value(item, prefix[index], root, depth + 1)
        elif items is False:
            sub = [("", f"unexpected item (at most {_count(len(prefix), 'item')})", False)]
        else:
            sub = check_value(item, items, root, depth + 1)
        problems += [(f"[{index}]{path}", message, False) for path, message, _ in sub]
        if len(problems) >= MAX_PROBLEMS:
            break
    return problems


def _check_object(
    value: dict[Any, Any], schema: dict[str, Any], root: dict[str, Any], depth: int
) -> list[Problem]:
    props = schema.get("properties")
    props = props if isinstance(props, dict) else {}
    required = schema.get("required")
    problems: list[Problem] = [
        ("", f"missing required key {key!r} ({annotation(props.get(key), root)})", False)
        for key in (required if isinstance(required, list) else ())
        if key not in value
    ]
    extra = schema.get("additionalProperties")
    patterns = schema.get("patternProperties")
    patterns = patterns if isinstance(patterns, dict) else {}
    for key, item in value.items():
        where = _key_path(key)
        if key in props:
            sub = check_value(item, props[key], root, depth + 1)
        elif matched := [s for p, s in patterns.items() if _pattern_matches(p, key)]:
            sub = [q for s in matched for q in check_value(item, s, root, depth + 1)]
        elif extra is False:
            sub = [("", _unexpected_key(key, list(props)), False)]
            where = ""
        else:
            sub = check_value(item, extra, root, depth + 1)
        problems += [(f"{where}{path}", message, False) for path, message, _ in sub]
        if len(problems) >= MAX_PROBLEMS:  # an object of 400,000 unexpected keys: stop here
            break
    return problems


def _pattern_matches(pattern: object, key: object) -> bool:
    regex = _compiled(pattern) if isinstance(pattern, str) else None
    return regex is not None and isinstance(key, str) and regex.search(key) is not None


def _unexpected_key(key: object, known: list[str]) -> str:
    from difflib import get_close_matches

    close = get_close_matches(str(key), known, n=1, cutoff=0.6)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return f"unexpected key {key!r}{hint}"


def _key_path(key: object) -> str:
    if isinstance(key, str) and key.isidentifier():
        return f".{key}"
    shown = python_literal(key) if isinstance(key, str) else repr(key)
    return f"[{shown}]"


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"


def describe(value: object) -> str:
    """A value as a message shows it: `"abc"`, `3.5`, `None`, `a list of 2 items`."""
    if isinstance(value, str):
        text = python_literal(value)
        return text if len(text) <= MAX_SHOWN_VALUE else text[: MAX_SHOWN_VALUE - 2] + '…"'
    if value is None or isinstance(value, (bool, int, float)):
        return python_literal(value)
    if isinstance(value, (list, tuple)):
        return f"a {type(value).__name__} of {_count(len(value), 'item')}"
    if isinstance(value, dict):
        return "a dict"
    return f"a {type(value).__name__}"
