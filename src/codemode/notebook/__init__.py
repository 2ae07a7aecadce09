"""The notebook face: `%load_ext codemode`, the `%codemode` and `%%codemode` magics, the
display objects (server and tool tables, code, isolation), and the live panel a cell shows
while it runs.

`_magics` parses a magic's line and runs it through a `Session`; `_cellviews` shows a run's
live events and asks for approvals in a cell; `_display` holds the small display objects the
CLI prints too. Imported only by what needs IPython (`%load_ext`, the kernel).

May import the engine and everything below it.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from codemode.notebook._magics import (
        CodeModeMagics,
        load_ipython_extension,
        unload_ipython_extension,
    )

__all__ = ["CodeModeMagics", "load_ipython_extension", "unload_ipython_extension"]


def __getattr__(name: str) -> object:
    # Lazily: the CLI imports `_display` from here and must not pay for IPython.
    if name in __all__:
        from codemode.notebook import _magics

        return getattr(_magics, name)
    raise AttributeError(f"module 'codemode.notebook' has no attribute {name!r}")
