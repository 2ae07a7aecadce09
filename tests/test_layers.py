"""The layering of docs/architecture.md holds, and the cheap imports stay cheap.

Imports are read with `ast`, inside functions too (a lazy import is still an arrow; a name
imported only under `if TYPE_CHECKING:` is not an import): each
layer imports only the layers below it, the package root is imported by nothing inside the
package, and no two modules import each other, directly or round a longer loop.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import codemode

PACKAGE = Path(codemode.__file__).parent
SRC = str(PACKAGE.parent)

# Ground up (docs/architecture.md, "Layers"): each may import only those before it.
LAYERS = ["errors", "_version", "shared", "config", "schema", "trust", "hub", "cassette", "sandbox", "outputs",
          "tokens", "trace", "engine", "notebook", "kernel", "testing", "serve", "cli"]
FACES = {"notebook", "kernel", "testing", "serve", "cli"}
# Beside the stack: the embedded demo server imports only the version and `errors`.
APART = {"demo": {"_version", "errors"}, "__main__": {"cli"}}
ROOT_MODULES = {"__init__.py", "__main__.py", "errors.py", "_version.py"}


def _module_of(path: Path) -> str:
    parts = path.relative_to(PACKAGE).with_suffix("").parts
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(("codemode", *parts))


def _imports(path: Path) -> set[str]:
    """The codemode modules a file imports, anywhere in it; `from pkg import name` counts as
    `pkg.name` when that is a module, else as `pkg`."""
    module = _module_of(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in _runtime_nodes(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                source = f"{base}.{node.module}" if node.module else base
            else:
                source = node.module or ""
            for alias in node.names:
                found.add(f"{source}.{alias.name}" if _exists(f"{source}.{alias.name}") else source)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return {name for name in found if name == "codemode" or name.startswith("codemode.")}


def _runtime_nodes(tree: ast.AST) -> list[ast.AST]:
    """Every node but those under `if TYPE_CHECKING:` (names for the type checker, never imported)."""
    nodes: list[ast.AST] = []
    pending = [tree]
    while pending:
        node = pending.pop()
        nodes.append(node)
        if isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING":
            pending.extend(node.orelse)
            continue
        pending.extend(ast.iter_child_nodes(node))
    return nodes


def _exists(module: str) -> bool:
    relative = Path(*module.split(".")[1:])
    return (PACKAGE / relative).with_suffix(".py").is_file() or (PACKAGE / relative / "__init__.py").is_file()


def _graph() -> dict[str, set[str]]:
    return {_module_of(path): _imports(path) for path in PACKAGE.rglob("*.py")}


def _layer(module: str) -> str:
    parts = module.split(".")
    return "(root)" if len(parts) == 1 else parts[1]


def test_the_package_root_holds_the_public_face_and_at_most_four_modules() -> None:
    modules = {path.name for path in PACKAGE.glob("*.py")}
    assert modules <= ROOT_MODULES
    assert len(modules - {"__init__.py", "__main__.py"}) <= 4


def test_every_layer_says_what_it_does_and_what_it_may_import() -> None:
    for package in sorted(PACKAGE.glob("*/__init__.py")):
        docstring = ast.get_docstring(ast.parse(package.read_text(encoding="utf-8")))
        assert docstring, f"{package.parent.name}/__init__.py has no docstring"


def test_no_module_imports_a_layer_above_its_own_or_the_package_root() -> None:
    arrows_up = []
    for module, targets in _graph().items():
        own = _layer(module)
        if own == "(root)":
            continue  # __init__ is the public face: it names what lies below
        for target in targets:
            other = _layer(target)
            if other == own:
                continue
            if other == "(root)":
                arrows_up.append(f"{module} imports the package root")
            elif own in APART or other in APART:
                if other not in APART.get(own, set()):
                    arrows_up.append(f"{module} imports {target}")
            elif LAYERS.index(other) > LAYERS.index(own):
                arrows_up.append(f"{module} imports {target}")
    assert arrows_up == []


def test_no_two_modules_import_each_other_even_round_a_loop() -> None:
    graph = _graph()
    # A package's __init__ re-exporting its own modules is the package's face, not a loop:
    # count the arrow from a module to its own package only when that package is not its parent.
    edges = {module: {t for t in targets if t in graph and not (module.startswith(t + ".") and t != "codemode")}
             for module, targets in graph.items()}
    cycles = [component for component in _strongly_connected(edges) if len(component) > 1]
    assert cycles == []


def _strongly_connected(edges: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's algorithm, iterative (the graph is small, but recursion limits are not ours)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for start in sorted(edges):
        if start in index:
            continue
        work = [(start, iter(sorted(edges[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(edges[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                found.append(sorted(component))
    return found


def test_no_module_passes_400_lines() -> None:
    long = {str(path.relative_to(PACKAGE)): n for path in PACKAGE.rglob("*.py")
            if (n := len(path.read_text(encoding="utf-8").splitlines())) > 400}
    assert long == {}


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
    assert ours <= {"codemode", "codemode._version", "codemode.shared", "codemode.shared.pipes", "codemode.shared.b64",
                    "codemode.shared.depth",
                    "codemode.sandbox", "codemode.sandbox.worker", "codemode.sandbox._api",
                    "codemode.sandbox._frames", "codemode.sandbox._limits", "codemode.sandbox._channel",
                    "codemode.sandbox._display", "codemode.sandbox._lifeline", "codemode.sandbox._threads",
                    "codemode.sandbox._reserve", "codemode.sandbox._errors", "codemode.shared.words"} | {m for m in ours if m.startswith("codemode.schema")}
    third_party = {m.split(".")[0] for m in loaded} - set(sys.stdlib_module_names) - {"codemode"}
    assert third_party == set()
    assert not {"asyncio", "typing", "inspect", "traceback"} & loaded


def test_the_command_line_shows_its_tables_without_ipython() -> None:
    loaded = _modules_after("import codemode.notebook._display")
    assert "IPython" not in loaded


def test_the_public_names_import_from_the_package_and_only_on_use() -> None:
    assert set(codemode.__all__) == {"CodemodeError", "Config", "RunReport", "Session", "ToolCall", "ToolError",
                                     "__version__", "load_config", "load_ipython_extension",
                                     "unload_ipython_extension"}
    loaded = _modules_after("from codemode import Session, load_config, RunReport, ToolError")
    assert {"codemode.engine", "codemode.config", "codemode.trace"} <= loaded
    from codemode import RunReport, Session, ToolError, load_config
    from codemode.sandbox._api import ToolError as CellToolError

    assert Session.__name__ == "Session" and callable(load_config) and RunReport.__name__ == "RunReport"
    assert ToolError is CellToolError  # the class cell code catches
