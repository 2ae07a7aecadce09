"""The layering of DESIGN.md holds, and the cheap imports stay cheap."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import codemode

PACKAGE = Path(codemode.__file__).parent
SRC = str(PACKAGE.parent)

# Each layer may import only the layers before it in this list (DESIGN.md, "Layers").
LAYERS = ["errors", "ids", "_pipes", "_b64", "config", "redact", "schema", "hub", "cassette", "approval", "policy", "outputs", "sandbox",
          "metrics", "trace", "accounting", "audit", "inputs", "_turns",
          "sandbox_options", "_apitool", "_surface", "_runstate", "_calls", "_runpath", "session", "faces"]
FACES = {"magics", "_cellviews", "display", "cli", "kernel", "server", "serve", "replay", "testing", "approvers", "__main__", "__init__"}


def _layer(module: str) -> str | None:
    top = module.split(".")[1] if module.startswith("codemode.") else None
    if top is None:
        return None
    if top == "demo":
        return "demo"
    return "faces" if top in FACES else top


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return {name for name in found if name.startswith("codemode.")}


def test_no_module_imports_a_layer_below_its_own() -> None:
    back_edges = []
    for path in PACKAGE.rglob("*.py"):
        module = "codemode." + ".".join(path.relative_to(PACKAGE).with_suffix("").parts)
        own = _layer(module)
        if own is None or own == "faces":
            continue
        for target in _imports(path):
            other = _layer(target)
            if other is None or other == own:
                continue
            if own == "demo" or other == "demo" or LAYERS.index(other) > LAYERS.index(own):
                back_edges.append(f"{module} imports {target}")
    assert back_edges == []


def _modules_after(statement: str, *flags: str) -> set[str]:
    code = f"import sys; sys.path.insert(0, {SRC!r}); {statement}; print('\\n'.join(sys.modules))"
    out = subprocess.run([sys.executable, "-I", *flags, "-c", code], capture_output=True, text=True, check=True)
    return set(out.stdout.split()) - {"__main__"}


def test_importing_the_package_pulls_in_no_sdk_ipython_or_pydantic() -> None:
    loaded = _modules_after("import codemode")
    assert not {"mcp", "IPython", "pydantic", "anyio"} & loaded


def test_the_worker_imports_only_the_standard_library_and_its_own_modules() -> None:
    loaded = _modules_after("import codemode.sandbox.worker", "-S")  # as the host starts it
    ours = {m for m in loaded if m.split(".")[0] == "codemode"}
    assert ours <= {"codemode", "codemode._pipes", "codemode._b64", "codemode.sandbox", "codemode.sandbox.worker", "codemode.sandbox._api",
                    "codemode.sandbox._frames", "codemode.sandbox._limits", "codemode.sandbox._channel",
                    "codemode.sandbox._display", "codemode.sandbox._lifeline", "codemode.sandbox._threads",
                    "codemode.sandbox._reserve"} | {m for m in ours if m.startswith("codemode.schema")}
    third_party = {m.split(".")[0] for m in loaded} - set(sys.stdlib_module_names) - {"codemode"}
    assert third_party == set()
    assert not {"asyncio", "typing", "inspect", "traceback"} & loaded


def test_the_public_names_import_from_the_package_and_only_on_use() -> None:
    assert set(codemode.__all__) == {"CodemodeError", "Config", "RunReport", "Session", "ToolCall", "ToolError",
                                     "__version__", "load_config", "load_ipython_extension",
                                     "unload_ipython_extension"}
    loaded = _modules_after("from codemode import Session, load_config, RunReport, ToolError")
    assert {"codemode.session", "codemode.config", "codemode.trace"} <= loaded
    from codemode import RunReport, Session, ToolError, load_config
    from codemode.sandbox._api import ToolError as CellToolError

    assert Session.__name__ == "Session" and callable(load_config) and RunReport.__name__ == "RunReport"
    assert ToolError is CellToolError  # the class cell code catches
