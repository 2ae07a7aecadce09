"""Class names for the object schemas a server's tools declare inline.

A tool's input `{"entities": {"type": "array", "items": {"type": "object", "properties":
{...}}}}` should read as `entities: list[Entity]` with `Entity` defined as a `TypedDict`, not
as `list[dict[str, Any]]`: the reader (a person or a model) must see the keys. This module
picks the names, the way datamodel-code-generator does: from the property that holds the
object, singular for array items (`entities` -> `Entity`, `edits` -> `Edit`); an output
schema's root from its title or the tool (`read_graph` -> `ReadGraphResult`).

Invariants:
- `name_types(tools)` returns copies of the tools whose inline object schemas carry their name
  under `NAME_KEY`; the originals are untouched (the token account counts the wire schemas).
  Everything else reads the name from there (`annotation`, `types_stub`), so a signature, a
  stub, `help()` and search results name the same type the same way.
- Names are unique per call: two schemas of the same shape (keys, types, required, ignoring
  descriptions) share one name; a different shape under a taken name gets `1`, `2`, ...
- It is idempotent: a schema that already has a name keeps it (a subset of named tools, say
  search hits, keeps the names the whole server gave them).
- Pure and standard library only (the worker imports this package).
"""

from __future__ import annotations

from codemode.schema._names import _words, to_identifier
from codemode.schema._params import is_wrapped_output
from codemode.schema._types import (
    MAX_DEPTH,
    NAME_KEY,
    annotation,
    is_class_name,
    is_named_object,
    ref_name,
)

TYPE_CHECKING = False  # not `typing.TYPE_CHECKING`: importing typing costs the worker ~10 ms
if TYPE_CHECKING:
    from collections.abc import Iterable
    from typing import Any

    from codemode.schema._tooldef import ToolDef

__all__ = ["name_types", "singular", "class_name"]

def name_types(tools: Iterable[ToolDef]) -> list[ToolDef]:
    """The tools with every inline object schema named (see the module docstring)."""
    namer = _Namer()
    tools = list(tools)
    for tool in tools:  # names already given, and `$defs` names, are taken first
        for schema in (tool.input_schema, tool.output_schema):
            namer.reserve(schema, schema, 0)
    out = []
    for tool in tools:
        stem = class_name(to_identifier(tool.name))
        input_schema = namer.named(tool.input_schema, stem, root=True)
        output = tool.output_schema
        if isinstance(output, dict):
            output = namer.named(output, stem + "Result", root=not is_named_object(output) or is_wrapped_output(output))
        out.append(tool if input_schema is tool.input_schema and output is tool.output_schema
                   else tool.replace(input_schema=input_schema, output_schema=output))
    return out


def singular(word: str) -> str:
    """A plural English noun's singular, by the simple rules (`entities` -> `entity`)."""
    lower = word.lower()
    if lower.endswith("ies") and len(word) > 4:
        return word[:-3] + ("Y" if word[-3].isupper() else "y")
    if lower.endswith(("sses", "xes", "ches", "shes", "zes")):
        return word[:-2]
    if lower.endswith("s") and not lower.endswith(("ss", "us", "is")) and len(word) > 3:
        return word[:-1]
    return word


def class_name(text: str) -> str:
    """`added_observations` / `addedObservations` -> `AddedObservations` (a valid class name)."""
    name = "".join(w[:1].upper() + w[1:] for w in _words(text) if w)
    if not name or not name.isascii() or not name.isidentifier():
        name = "".join(c if c.isalnum() else "_" for c in to_identifier(text, fallback="Model").title())
        name = name.replace("_", "") or "Model"
    return "_" + name if name[0].isdigit() else name


def _shape(schema: dict[str, Any], root: object) -> str:
    """What the `TypedDict` would show: each key, its type text, and whether it is required."""
    import json  # only stubs and names need it; the worker's start must not pay for it

    props = schema.get("properties") or {}
    listed = schema.get("required")
    required = listed if isinstance(listed, list) else []
    home = root if isinstance(root, dict) else schema
    return json.dumps([[key, annotation(value, home), key in required] for key, value in props.items()])


class _Namer:
    def __init__(self) -> None:
        self.taken: dict[str, str] = {}  # class name -> shape

    def reserve(self, node: object, root: object, depth: int) -> None:
        """Take the names schemas already carry, and those of their `$defs`."""
        if depth > MAX_DEPTH or not isinstance(node, (dict, list)):
            return
        if isinstance(node, list):
            for item in node:
                self.reserve(item, root, depth + 1)
            return
        if isinstance(node.get(NAME_KEY), str):
            self.taken.setdefault(node[NAME_KEY], _shape(node, root))
        for defs in ("$defs", "definitions"):
            table = node.get(defs)
            if isinstance(table, dict):
                for key, target in table.items():
                    name = ref_name(f"#/{defs}/{key}", target) if isinstance(target, dict) else None
                    if name and is_named_object(target):
                        self.taken.setdefault(name, _shape(target, root))
        for value in node.values():
            self.reserve(value, root, depth + 1)

    def take(self, base: str, schema: dict[str, Any], root: object) -> str:
        shape = _shape(schema, root)
        name, number = base, 0
        while name in self.taken and self.taken[name] != shape:
            number += 1
            name = f"{base}{number}"
        self.taken[name] = shape
        return name

    def named(self, node: Any, hint: str, *, root: bool = False, depth: int = 0, home: Any = None) -> Any:
        """A copy of `node` with its inline objects named (`node` itself when none needed it)."""
        if depth > MAX_DEPTH or not isinstance(node, dict):
            return node
        home = node if home is None else home  # the document its `$ref`s point into
        changed: dict[str, Any] = {}
        props = node.get("properties")
        if isinstance(props, dict):
            new_props = {key: self.named(value, class_name(key), depth=depth + 1, home=home) for key, value in props.items()}
            if any(new_props[k] is not props[k] for k in props):
                changed["properties"] = new_props
        items = node.get("items")
        if isinstance(items, dict):
            new = self.named(items, _singular_class(hint) or "Item", depth=depth + 1, home=home)
            if new is not items:
                changed["items"] = new
        for key in ("anyOf", "oneOf", "allOf", "prefixItems"):
            branches = node.get(key)
            if isinstance(branches, list):
                new_list = [self.named(b, hint, depth=depth + 1, home=home) for b in branches]
                if any(a is not b for a, b in zip(new_list, branches, strict=True)):
                    changed[key] = new_list
        for key in ("$defs", "definitions"):
            table = node.get(key)
            if isinstance(table, dict):
                new_table = {name: self._named_def(key, name, value, depth, home) for name, value in table.items()}
                if any(new_table[k] is not table[k] for k in table):
                    changed[key] = new_table
        extra = node.get("additionalProperties")
        if isinstance(extra, dict):
            new = self.named(extra, hint + "Value", depth=depth + 1, home=home)
            if new is not extra:
                changed["additionalProperties"] = new
        if not root and is_named_object(node) and not isinstance(node.get(NAME_KEY), str) and "$ref" not in node:
            title = node.get("title")
            base = title if is_class_name(title) and title[0].isupper() and depth == 0 else hint
            changed[NAME_KEY] = self.take(base or "Model", {**node, **changed}, home)
        return {**node, **changed} if changed else node

    def _named_def(self, defs: str, key: str, value: Any, depth: int, home: Any) -> Any:
        """A `$defs` entry: named by its key through `$ref`; only its insides need names."""
        if not isinstance(value, dict):
            return value
        return self.named(value, ref_name(f"#/{defs}/{key}", value) or class_name(key), root=True, depth=depth + 1, home=home)


def _singular_class(hint: str) -> str:
    """`AddedObservations` -> `AddedObservation`: the last word made singular."""
    words = list(_words(hint))
    return hint[: len(hint) - len(words[-1])] + singular(words[-1]) if words else hint
