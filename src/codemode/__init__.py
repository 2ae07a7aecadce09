"""Code Mode for MCP, in Jupyter.

    from codemode import Session
    with Session() as session:
        print(session.run("demo.list_orders(status='open')").value)

`%load_ext codemode` loads the notebook face. Importing this package stays cheap: the public
names below are loaded on first use (PEP 562 `__getattr__`), so the MCP SDK, IPython and
pydantic are imported only by what needs them.
"""

from __future__ import annotations

TYPE_CHECKING = False  # `typing` costs milliseconds; type checkers see True
if TYPE_CHECKING:
    from typing import Any

    from codemode.config import Config, load_config
    from codemode.engine import Session
    from codemode.errors import CodemodeError
    from codemode.sandbox._api import ToolError
    from codemode.trace import RunReport, ToolCall

from codemode._version import __version__

__all__ = [
    "CodemodeError",
    "Config",
    "RunReport",
    "Session",
    "ToolCall",
    "ToolError",
    "__version__",
    "load_config",
    "load_ipython_extension",
    "unload_ipython_extension",
]

# Each lazy name and the module it lives in.
_LAZY = {
    "CodemodeError": "codemode.errors",
    "Config": "codemode.config",
    "RunReport": "codemode.trace",
    "Session": "codemode.engine",
    "ToolCall": "codemode.trace",
    # The same class cell code catches as `codemode.ToolError` inside the sandbox.
    "ToolError": "codemode.sandbox._api",
    "load_config": "codemode.config",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'codemode' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


def load_ipython_extension(ipython: object) -> None:
    """Register the `%codemode` and `%%codemode` magics (`%load_ext codemode`)."""
    from codemode.notebook import load_ipython_extension as load

    load(ipython)


def unload_ipython_extension(ipython: object) -> None:
    """Close the session the magics opened (`%unload_ext codemode`)."""
    from codemode.notebook import unload_ipython_extension as unload

    unload(ipython)
