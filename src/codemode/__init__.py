"""Code Mode for MCP, in Jupyter.

`%load_ext codemode` loads the notebook face. Importing this package stays cheap: the MCP SDK,
IPython and pydantic are imported only by the faces that need them.
"""

from __future__ import annotations

__version__ = "0.1.0"
__all__ = ["__version__", "load_ipython_extension", "unload_ipython_extension"]


def load_ipython_extension(ipython: object) -> None:
    """Register the `%codemode` and `%%codemode` magics (`%load_ext codemode`)."""
    from codemode.magics import load_ipython_extension as load

    load(ipython)


def unload_ipython_extension(ipython: object) -> None:
    """Close the session the magics opened (`%unload_ext codemode`)."""
    from codemode.magics import unload_ipython_extension as unload

    unload(ipython)
