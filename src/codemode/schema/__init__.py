"""JSON Schema ⇄ Python: MCP tools as names, types, signatures, checks and stub text.

Pure functions, no I/O, standard library only: the sandbox worker imports this package on
every start, so it must never pull in pydantic, mcp, `typing` or `inspect` at import time
(`signature()` imports `inspect` when called).

- `ToolDef`: one MCP tool as the server listed it.
- `to_identifier`, `NameMap`: MCP names <-> unique Python identifiers, reversibly.
- `annotation`, `parameters`, `Param`, `NO_DEFAULT`, `signature`: schemas as Python types.
- `check_arguments`, `drop_unset`: a call's arguments against the input schema.
- `stub`, `server_stub`, `types_stub`, `signature_line`: `.pyi`-style text for readers
  (`accessors_stub`: the servers' base and accessor classes, once before their stubs);
  `name_types`: class names for inline object schemas (`entities` -> `Entity`);
  `stub_package`, `package_name`: a server as a stub package for type checkers.
- `is_wrapped_output`, `unwrap_structured`, `return_annotation`: the structured result's shape.
- `search_tools`, `Hit`, `render_hits`: tools found by what they do (BM25), shown as names,
  signatures or full stubs.
"""

from __future__ import annotations

from codemode.schema._names import NameMap, suggest, to_identifier
from codemode.schema._offers import accessors_stub
from codemode.schema._package import package_name, stub_package
from codemode.schema._params import (
    NO_DEFAULT,
    Param,
    is_wrapped_output,
    parameters,
    return_annotation,
    signature,
    unwrap_structured,
)
from codemode.schema._search import Hit, render_hits, search_tools
from codemode.schema._stubs import server_stub, signature_line, stub, types_stub
from codemode.schema._tooldef import ToolDef
from codemode.schema._typenames import name_types
from codemode.schema._types import annotation
from codemode.schema._validate import check_arguments, drop_unset

__all__ = [
    "Hit",
    "NO_DEFAULT",
    "NameMap",
    "Param",
    "ToolDef",
    "accessors_stub",
    "annotation",
    "check_arguments",
    "drop_unset",
    "is_wrapped_output",
    "name_types",
    "package_name",
    "parameters",
    "render_hits",
    "return_annotation",
    "search_tools",
    "server_stub",
    "signature",
    "signature_line",
    "stub",
    "stub_package",
    "suggest",
    "to_identifier",
    "types_stub",
    "unwrap_structured",
]
