"""JSON Schema as Python type text: annotations, literals and local references.

A tool's parameters, its signature and its result's shape, built from these, are in `_params`.

Invariants:
- Every function here is pure and total: any JSON value as a schema gives an answer (`Any`
  when nothing better is known), never an exception; cycles and deep nesting are cut off at
  `MAX_DEPTH`.
- Annotations are strings of ordinary Python (`list[Order]`, `Literal["a", "b"] | None`);
  they are never evaluated. A `$ref` to an object schema with properties becomes the name of
  its definition (the stubs define it as a `TypedDict`); any other `$ref` is inlined.
- Unions are flat and deduplicated, literals merge into one `Literal[...]`, `None` comes last,
  and `Any` absorbs everything else.
- Only local references (`#/$defs/X`, `#/definitions/X`, any `#/...` pointer) resolve;
  others read as `Any`.
"""

from __future__ import annotations

from keyword import iskeyword

TYPE_CHECKING = False  # not `typing.TYPE_CHECKING`: importing typing costs the worker ~10 ms
if TYPE_CHECKING:
    from typing import Any, TypeGuard

__all__ = ["annotation", "python_literal", "resolve_ref"]

#: How deep `$ref`s and nested schemas are followed: real tool schemas stay under ten levels;
#: past this we are in a cycle or a generated monster and `Any` is the honest answer.
MAX_DEPTH = 24

#: Where `name_types` writes the class name of an inline object schema (`Entity`); an
#: annotation names the class, the stubs define it as a `TypedDict`.
NAME_KEY = "x-codemode-type"

_SCALARS = {"string": "str", "integer": "int", "number": "float", "boolean": "bool", "null": "None"}


def annotation(schema: object, root: dict[str, Any] | None = None) -> str:
    """The Python type text for a JSON schema.

    Args:
        schema: the schema (a property's, an item's, a whole input or output schema).
        root: the document its `$ref`s point into; defaults to `schema` itself.
    """
    if root is None:
        root = schema if isinstance(schema, dict) else {}
    return join_union(_members(schema, root, (), 0))


def _members(schema: object, root: dict[str, Any], refs: tuple[str, ...], depth: int) -> list[str]:
    """The union members (type texts) that `schema` accepts."""
    if not isinstance(schema, dict) or not schema or depth > MAX_DEPTH:
        return ["Any"]
    if isinstance(schema.get("$ref"), str):
        return _ref_members(schema["$ref"], root, refs, depth)
    nullable = ["None"] if schema.get("nullable") is True else []  # OpenAPI 3.0 spelling
    if isinstance(schema.get(NAME_KEY), str) and is_named_object(schema):
        return [schema[NAME_KEY]] + nullable
    for key in ("anyOf", "oneOf"):
        branches = schema.get(key)
        if isinstance(branches, list) and branches:
            found = [m for b in branches for m in _members(b, root, refs, depth + 1)]
            return found + nullable
    combined = _all_of(schema.get("allOf"), root, refs, depth)
    if combined is not None:
        return combined + nullable
    if "const" in schema:
        return _literal_members([schema["const"]]) + nullable
    if isinstance(schema.get("enum"), list) and schema["enum"]:
        return _literal_members(schema["enum"]) + nullable
    types = schema.get("type")
    if isinstance(types, str):
        types = [types]
    if not isinstance(types, list) or not types:
        types = _implied_types(schema)
    found = [m for t in types for m in _type_members(t, schema, root, refs, depth)]
    return (found or ["Any"]) + nullable


def _all_of(
    branches: object, root: dict[str, Any], refs: tuple[str, ...], depth: int
) -> list[str] | None:
    """The members of an `allOf`, or None when it says nothing about the type."""
    if not isinstance(branches, list) or not branches:
        return None
    # constraint-only branches ({"minLength": 1}) narrow nothing an annotation shows
    informative = [m for b in branches if (m := _members(b, root, refs, depth + 1)) != ["Any"]]
    if not informative:
        return None
    if all(join_union(m) == join_union(informative[0]) for m in informative):
        return informative[0]
    return ["Any"]  # an intersection of different types has no Python spelling


def _implied_types(schema: dict[str, Any]) -> list[str]:
    """The type a schema without `type` clearly means, from its keywords."""
    if "properties" in schema or "additionalProperties" in schema:
        return ["object"]
    if "items" in schema or "prefixItems" in schema:
        return ["array"]
    return []


def _type_members(
    kind: object, schema: dict[str, Any], root: dict[str, Any], refs: tuple[str, ...], depth: int
) -> list[str]:
    if not isinstance(kind, str):
        return ["Any"]
    if kind in _SCALARS:
        return [_SCALARS[kind]]
    if kind == "array":
        return [_array_text(schema, root, refs, depth)]
    if kind == "object":
        extra = schema.get("additionalProperties")
        if isinstance(extra, dict) and extra:
            return [f"dict[str, {join_union(_members(extra, root, refs, depth + 1))}]"]
        return ["dict[str, Any]"]
    return ["Any"]


def _array_text(
    schema: dict[str, Any], root: dict[str, Any], refs: tuple[str, ...], depth: int
) -> str:
    items = schema.get("items")
    prefix = schema.get("prefixItems")
    if isinstance(items, list):  # draft 4-7 tuple form
        prefix, items = items, schema.get("additionalItems", False)
    if isinstance(prefix, list) and prefix:
        fixed = items is False or schema.get("maxItems") == len(prefix)
        texts = [join_union(_members(p, root, refs, depth + 1)) for p in prefix]
        if fixed:
            return f"tuple[{', '.join(texts)}]"
        return f"list[{join_union([*texts, 'Any'])}]"
    if isinstance(items, dict) and items:
        return f"list[{join_union(_members(items, root, refs, depth + 1))}]"
    return "list[Any]"


def _ref_members(ref: str, root: dict[str, Any], refs: tuple[str, ...], depth: int) -> list[str]:
    target = resolve_ref(root, ref)
    if target is None:
        return ["Any"]
    if is_named_object(target):
        return [ref_name(ref, target) or "dict[str, Any]"]
    if ref in refs:  # a cycle through unions or arrays: stop here
        return [ref_name(ref, target) or "Any"]
    return _members(target, root, (*refs, ref), depth + 1)


def resolve_ref(root: object, ref: str) -> dict[str, Any] | None:
    """The schema a local `$ref` (`#`, `#/$defs/X`, any `#/...` pointer) points to, or None."""
    if not ref.startswith("#"):
        return None
    node: object = root
    for raw in ref[1:].split("/")[1:]:
        part = raw.replace("~1", "/").replace("~0", "~")
        if isinstance(node, dict):
            node = node.get(part)
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return None
    if node is True:
        return {}
    return node if isinstance(node, dict) else None


def is_named_object(schema: object) -> bool:
    """True for an object schema with declared properties: one that deserves a class name."""
    return (
        isinstance(schema, dict)
        and isinstance(schema.get("properties"), dict)
        and schema.get("type", "object") == "object"
    )


def ref_name(ref: str, target: dict[str, Any]) -> str | None:
    """The class name for a `$ref` target: its definition key, else its title, if usable."""
    key = ref.rsplit("/", 1)[-1].replace("~1", "/").replace("~0", "~") if "/" in ref else ""
    for candidate in (key, target.get("title")):
        if is_class_name(candidate):
            return candidate
    return None


def is_class_name(value: object) -> TypeGuard[str]:
    """True for a string usable as a class name: an identifier, not a keyword."""
    return isinstance(value, str) and value.isidentifier() and not iskeyword(value)


def _literal_members(values: list[object]) -> list[str]:
    """`Literal[...]` for the scalar values, `None` for null, the type text for the rest."""
    shown = [python_literal(v) for v in values if isinstance(v, (str, int)) and v is not None]
    members = [f"Literal[{', '.join(shown)}]"] if shown else []
    for value in values:
        if value is None:
            members.append("None")
        elif isinstance(value, float):
            members.append("float")
        elif isinstance(value, list):
            members.append("list[Any]")
        elif isinstance(value, dict):
            members.append("dict[str, Any]")
    return members


def join_union(members: list[str]) -> str:
    """One annotation from union members: deduplicated, literals merged, `None` last."""
    if not members or "Any" in members:
        return "Any"
    literals: list[str] = []
    others: list[str] = []
    for member in members:
        if member.startswith("Literal[") and member.endswith("]"):
            literals.extend(v for v in _split_top(member[8:-1]) if v not in literals)
        elif member not in others:
            others.append(member)
    if literals:
        others.insert(0, f"Literal[{', '.join(literals)}]")
    if "None" in others:
        others.remove("None")
        others.append("None")
    return " | ".join(others)


def _split_top(text: str) -> list[str]:
    """Split a Literal's contents at top-level commas (commas inside strings stay)."""
    parts, start, quoted, escaped = [], 0, False, False
    for index, char in enumerate(text):
        if escaped:
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == '"':
            quoted = not quoted
        elif char == "," and not quoted:
            parts.append(text[start:index].strip())
            start = index + 1
    parts.append(text[start:].strip())
    return parts


def python_literal(value: object) -> str:
    """Python source for a JSON value, strings in double quotes: `"a"`, `None`, `[1, 2]`."""
    if isinstance(value, bool) or value is None:
        return repr(value)
    if isinstance(value, str):
        text = str.__repr__(value)  # not repr(): a StrEnum member would show as <Color.RED: ...>
        if text[0] == '"':
            return text
        return '"' + text[1:-1].replace("\\'", "'").replace('"', '\\"') + '"'
    if isinstance(value, int):
        return int.__repr__(value)
    if isinstance(value, float):
        return float.__repr__(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(python_literal(v) for v in value) + "]"
    if isinstance(value, dict):
        pairs = (f"{python_literal(k)}: {python_literal(v)}" for k, v in value.items())
        return "{" + ", ".join(pairs) + "}"
    return repr(value)
