"""A server's tools as a stub package a type checker reads: `<server>/__init__.pyi` and one
module per tool.

    demo/__init__.pyi        the server's TypedDicts, then each tool re-exported
    demo/list_orders.pyi     `def list_orders(*, ...) -> list[Order]` with its imports

Invariants:
- The files pass `mypy --strict` (the tests check it on the six test servers): every name an
  annotation uses is defined in `__init__.pyi` or imported, `typing` names included.
- The texts come from the same functions as every other view (`stub`, `types_stub`), over the
  same named tools (`name_types`), so the package, `help()` and search show the same types.
- A server whose Python name is a standard-library module (`time`) becomes the package
  `time_`: a stub package named `time` would shadow the standard library's for the checker.
- Pure: it returns file texts by relative path; the caller writes them.
"""

from __future__ import annotations

import sys

from codemode.schema._names import SERVER_ATTRIBUTES, NameMap
from codemode.schema._offers import accessor_lines, accessors_module
from codemode.schema._stubs import _identifiers, stub, types_stub
from codemode.schema._typenames import name_types

TYPE_CHECKING = False  # not `typing.TYPE_CHECKING`: importing typing costs the worker ~10 ms
if TYPE_CHECKING:
    from collections.abc import Sequence

    from codemode.schema._offers import Offer
    from codemode.schema._tooldef import ToolDef

__all__ = ["package_name", "stub_package"]

#: The package's module of the accessor classes (`Resources`, `Prompts`), one per package.
ACCESSORS_MODULE = "_codemode_accessors"

_TYPING_NAMES = ("Any", "Literal", "NotRequired", "TypedDict")


def package_name(server: str) -> str:
    """The package for a server's Python name: itself, or `time_` for a stdlib module's name."""
    return server + "_" if server in sys.stdlib_module_names else server


def stub_package(server: str, tools: list[ToolDef], names: NameMap | None = None, *,
                 offers: Sequence[Offer] | None = None) -> dict[str, str]:
    """The package's files, `{"demo/__init__.pyi": text, "demo/list_orders.pyi": text, ...}`.

    Args:
        server: the server's Python name (the package is `package_name(server)`).
        tools: its tools.
        names: tool name -> Python name; by default `NameMap.build` over the tools' names.
        offers: the resources, templates and prompts it lists, named in the docstrings of its
            `resources` and `prompts` attributes (in `__init__.pyi`; their classes are in
            `_codemode_accessors.pyi`); None when not known.
    """
    names = names if names is not None else NameMap.build((t.name for t in tools), reserved=SERVER_ATTRIBUTES)
    tools = name_types(tools)
    package = package_name(server)
    types = types_stub(tools)
    defined = _defined(types)
    files: dict[str, str] = {}
    exports = []
    for tool in tools:
        name = names.to_python(tool.name)
        body = stub(tool, name)
        used = _identifiers(body)
        header = _typing_import(used)
        local = sorted(defined & used)
        if local:
            header += f"\nfrom . import {', '.join(local)}\n" if header else f"from . import {', '.join(local)}\n"
        files[f"{package}/{name}.pyi"] = f"{header}\n\n{body}\n" if header else f"{body}\n"
        exports.append(f"from .{name} import {name} as {name}")
    count = f"{len(tools)} tool" if len(tools) == 1 else f"{len(tools)} tools"
    doc = (f'"""The {server} MCP server: {count}. Call them as `{server}.<tool>(...)`; read its resources and '
           f'prompts as `{server}.resources.read(uri)` and `{server}.prompts.get(name, ...)`."""\n')
    files[f"{package}/{ACCESSORS_MODULE}.pyi"] = accessors_module()
    accessors = "\n".join([f"from .{ACCESSORS_MODULE} import Prompts, Resources", "",
                            *accessor_lines(server, offers, declare_all=True)])
    header = _typing_import(_identifiers(types))
    parts = [doc + header, types, "\n".join(exports), accessors]
    files[f"{package}/__init__.pyi"] = "\n\n\n".join(part.strip("\n") for part in parts if part) + "\n"
    return files


def _typing_import(used: set[str]) -> str:
    imports = [name for name in _TYPING_NAMES if name in used]
    return f"from typing import {', '.join(imports)}\n" if imports else ""


def _defined(types: str) -> set[str]:
    """The class names `types_stub` text defines (`class X(TypedDict):` or `X = TypedDict(`)."""
    found = set()
    for line in types.split("\n"):
        if line.startswith("class ") and "(TypedDict)" in line:
            found.add(line[6:line.index("(")])
        elif " = TypedDict(" in line and not line.startswith(" "):
            found.add(line.split(" = ", 1)[0])
    return found
