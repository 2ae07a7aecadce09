"""Tools as `.pyi`-style stub text: what a person or a model reads to write code against them.

Invariants:
- Output is deterministic text and valid Python syntax (the tests parse it): a tool is a
  keyword-only `def` with its docstring and `...` as its body; a server is a class holding its
  tools, preceded by the `TypedDict`s its annotations name and the `typing` import they need.
- Annotations come from `_types`, so the stub, `signature()` and the worker's proxies agree.
- A docstring is the description (indentation cleaned), then `Args:` for the parameters that
  have a description, `Returns:` when the tool declares an output schema, and one line for a
  destructive tool. Nothing else: each line costs the reader's (and the model's) attention.
- When two schemas define the same type name, the first definition is rendered.
"""

from __future__ import annotations

from keyword import iskeyword

from codemode.schema._doctext import docstring as _docstring
from codemode.schema._names import SERVER_ATTRIBUTES, NameMap, to_identifier
from codemode.schema._offers import accessor_lines
from codemode.schema._params import (
    NO_DEFAULT,
    is_wrapped_output,
    parameters,
    return_annotation,
)
from codemode.schema._tooldef import summarize
from codemode.schema._typenames import name_types
from codemode.schema._types import (
    MAX_DEPTH,
    NAME_KEY,
    annotation,
    is_named_object,
    python_literal,
    ref_name,
    resolve_ref,
)

TYPE_CHECKING = False  # not `typing.TYPE_CHECKING`: importing typing costs the worker ~10 ms
if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence
    from typing import Any

    from codemode.schema._offers import Offer
    from codemode.schema._params import Param
    from codemode.schema._tooldef import ToolDef

__all__ = ["server_stub", "signature_line", "stub", "types_stub"]

#: A `def` longer than this is written one parameter per line (the common formatter width).
MAX_LINE = 100

#: A default whose literal is longer than this shows as `...`; the docstring is no place for it.
MAX_DEFAULT = 40

#: A field comment in a TypedDict is the description's first sentence, cut to this length.
MAX_FIELD_COMMENT = 80

#: The line a destructive tool's docstring ends with.
DESTRUCTIVE_NOTE = "Destructive: yes (needs approval)"

_TYPING_NAMES = ("Any", "Literal", "NotRequired", "TypedDict")


def stub(tool: ToolDef, name: str | None = None, *, with_types: bool = False, note: str | None = "") -> str:
    """The tool as a stub: `def name(*, ...) -> R:`, its docstring and `...`.

    Args:
        tool: the tool.
        name: its Python name; by default `to_identifier(tool.name)`.
        with_types: put the `TypedDict`s its annotations name before the `def`.
        note: the docstring's last line, saying what the approval policy does for the tool;
            None for no line; "" (the default) for `DESTRUCTIVE_NOTE` when the server marks
            the tool destructive.
    """
    name = name or to_identifier(tool.name)
    tool = name_types([tool])[0]
    params = parameters(tool.input_schema)
    returns = return_annotation(tool.output_schema)
    lines = _def_lines(name, params, returns)
    lines += _docstring(_doc_lines(tool, params, returns, note), "    ")
    lines.append("    ...")
    text = "\n".join(lines)
    types = types_stub([tool]) if with_types else ""
    return f"{types}\n\n\n{text}" if types else text


def signature_line(tool: ToolDef, name: str | None = None) -> str:
    """The one-line call form: `list_orders(*, status: str | None = None) -> list[Order]`."""
    name = name or to_identifier(tool.name)
    tool = name_types([tool])[0]
    params = ", ".join(_param_text(p) for p in parameters(tool.input_schema))
    inner = f"*, {params}" if params else ""
    return f"{name}({inner}) -> {return_annotation(tool.output_schema)}"


def server_stub(
    server: str,
    tools: list[ToolDef],
    names: NameMap | None = None,
    *,
    class_name: str | None = None,
    notes: dict[str, str | None] | None = None,
    offers: Sequence[Offer] | None = None,
) -> str:
    """A server's tools as one stub module: imports, `TypedDict`s, then `class <server>(Server):`
    holding its tools and what it lists (resources, prompts) by its accessors; `Server` and the
    accessor classes are `accessors_stub()`, written once before the servers of a stubs text.

    Args:
        server: the server's name in the session.
        tools: its tools, in the order to show them.
        names: tool name -> Python name; by default `NameMap.build` over the tools' names.
        class_name: the class's name; by default `server` made an identifier.
        notes: each tool's `note` (see `stub`) by MCP name; missing: the default.
        offers: the resources, templates and prompts the server lists (their docstrings name
            them); None when not known.
    """
    names = names if names is not None else NameMap.build((t.name for t in tools), reserved=SERVER_ATTRIBUTES)
    tools = name_types(tools)
    if class_name is None:
        valid = server.isidentifier() and not iskeyword(server)
        class_name = server if valid else to_identifier(server, fallback="server")
    count = f"{len(tools)} tool" if len(tools) == 1 else f"{len(tools)} tools"
    body = [f"class {class_name}(Server):", *_docstring([f"{server} MCP server: {count}."], "    ")]
    for tool in tools:
        body += ["", "    @staticmethod"]  # the server is an object whose attributes are its tools
        body += [
            "    " + line if line else ""
            for line in stub(tool, names.to_python(tool.name), note=(notes or {}).get(tool.name, "")).split("\n")
        ]
    listed = accessor_lines(class_name, offers)
    if listed:
        body += ["", *["    " + line if line else "" for line in listed]]
    blocks = [types_stub(tools), "\n".join(body)]
    code = "\n\n\n".join(block for block in blocks if block)
    used = _identifiers(code)
    imports = [name for name in _TYPING_NAMES if name in used]
    header = f"from typing import {', '.join(imports)}\n\n\n" if imports else ""
    return f"{header}{code}\n"


def types_stub(tools: Iterable[ToolDef]) -> str:
    """The `TypedDict` definitions for the object types the tools' annotations name."""
    found: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {}
    for tool in name_types(tools):
        output = tool.output_schema
        if isinstance(output, dict) and not is_wrapped_output(output) and not isinstance(output.get(NAME_KEY), str):
            title = return_annotation(output)
            if is_named_object(output) and title == output.get("title"):
                found.setdefault(title, (output, output))
        for schema in (tool.input_schema, output):
            if isinstance(schema, dict):
                _collect_named(schema, schema, found, 0)
    return "\n\n\n".join(_typed_dict(name, schema, root) for name, (schema, root) in found.items())


def _collect_named(
    node: object,
    root: dict[str, Any],
    found: dict[str, tuple[dict[str, Any], dict[str, Any]]],
    depth: int,
) -> None:
    """Add every named object type `node` refers to, directly or through other types."""
    if depth > MAX_DEPTH:
        return
    if isinstance(node, list):
        for item in node:
            _collect_named(item, root, found, depth + 1)
        return
    if not isinstance(node, dict):
        return
    own = node.get(NAME_KEY)
    if isinstance(own, str) and is_named_object(node) and own not in found:
        found[own] = (node, root)
    ref = node.get("$ref")
    if isinstance(ref, str):
        target = resolve_ref(root, ref)
        name = ref_name(ref, target) if target is not None and is_named_object(target) else None
        if name and target is not None and name not in found:
            found[name] = (target, root)
            _collect_named(target, root, found, depth + 1)
    for key, value in node.items():
        if key not in ("$defs", "definitions", "default", "examples", "const", "enum"):
            _collect_named(value, root, found, depth + 1)


def _typed_dict(name: str, schema: dict[str, Any], root: dict[str, Any]) -> str:
    """One `TypedDict`: class syntax, or the call syntax when a key is no identifier."""
    props: dict[str, Any] = schema.get("properties") or {}
    required = schema.get("required")
    required = set(required) if isinstance(required, list) else set()
    fields = []
    for key, prop in props.items():
        text = annotation(prop, root)
        note = prop.get("description") if isinstance(prop, dict) else None
        comment = (
            f"  # {summarize(note, MAX_FIELD_COMMENT)}"
            if isinstance(note, str) and note.strip()
            else ""
        )
        fields.append((key, text if key in required else f"NotRequired[{text}]", comment))
    if all(isinstance(k, str) and k.isidentifier() and not iskeyword(k) for k in props):
        lines = [f"class {name}(TypedDict):"]
        description = schema.get("description")
        if isinstance(description, str) and description.strip():
            lines += _docstring(_clean(description), "    ")
        lines += [f"    {key}: {text}{comment}" for key, text, comment in fields]
        if len(lines) == 1:
            lines.append("    pass")
        return "\n".join(lines)
    entries = [f"    {python_literal(key)}: {text},{comment}" for key, text, comment in fields]
    return "\n".join([f"{name} = TypedDict({python_literal(name)}, {{", *entries, "})"])


def _def_lines(name: str, params: list[Param], returns: str) -> list[str]:
    parts = [_param_text(p) for p in params]
    inner = f"*, {', '.join(parts)}" if parts else ""
    line = f"def {name}({inner}) -> {returns}:"
    if len(line) + 4 <= MAX_LINE:  # + 4: it may sit inside a server's class
        return [line]
    return [f"def {name}(", "    *,", *[f"    {part}," for part in parts], f") -> {returns}:"]


def _param_text(param: Param) -> str:
    text = f"{param.name}: {param.annotation}"
    if param.default is NO_DEFAULT:
        return text
    default = python_literal(param.default)
    return f"{text} = {default if len(default) <= MAX_DEFAULT else '...'}"


def _doc_lines(tool: ToolDef, params: list[Param], returns: str, note: str | None = "") -> list[str]:
    """The docstring's lines, unindented: description, Args, Returns, the approval note."""
    lines = _clean(tool.description)
    described = [p for p in params if p.description]
    if described:
        lines += ["", "Args:"]
        for param in described:
            first, *rest = _clean(param.description)
            lines.append(f"    {param.name}: {first}")
            lines += [f"        {line}" if line else "" for line in rest]
    if tool.output_schema is not None:
        lines += [
            "",
            "Returns:",
            *[f"    {line}" if line else "" for line in _returns_lines(tool, returns)],
        ]
    if note == "" and tool.destructive:
        note = DESTRUCTIVE_NOTE
    if note:
        lines += ["", note]
    return lines  # without a description this starts with "": sections go below the quotes


def _returns_lines(tool: ToolDef, returns: str) -> list[str]:
    """The output schema's description (the `result`'s, when wrapped), else the type."""
    output = tool.output_schema or {}
    described = output.get("properties", {}).get("result") if is_wrapped_output(output) else output
    text = described.get("description") if isinstance(described, dict) else None
    return _clean(text) if isinstance(text, str) and text.strip() else [returns]


def _clean(text: str) -> list[str]:
    """Docstring lines as `inspect.cleandoc` makes them: common indentation and edge blanks gone."""
    lines = [line.rstrip() for line in text.expandtabs().split("\n")]
    if not lines:
        return []
    margins = [len(line) - len(line.lstrip()) for line in lines[1:] if line]
    margin = min(margins) if margins else 0
    lines = [lines[0].strip()] + [line[margin:] for line in lines[1:]]
    while lines and not lines[-1]:
        lines.pop()
    return lines  # without a description this starts with "": sections go below the quotes


def _identifiers(code: str) -> set[str]:
    """The identifier-like words in `code` (a cheap scan for the `typing` names it uses)."""
    return set("".join(c if c.isalnum() or c == "_" else " " for c in code).split())
