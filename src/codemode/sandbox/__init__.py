"""The sandbox: a worker subprocess that runs cell code, and its host-side driver.

`worker` (and the `_api` module cell code sees as `codemode`) run inside the worker process
and import only the standard library. `Sandbox` is the host side; it is imported lazily here
so that the worker's `import codemode.sandbox.worker` pulls in nothing else.
"""

from __future__ import annotations

TYPE_CHECKING = False  # `typing` costs ~10 ms at worker start; type checkers see True
if TYPE_CHECKING:
    from typing import Any

    from codemode.sandbox._host import Sandbox
    from codemode.sandbox._messages import CallRequest, CellOutcome
    from codemode.sandbox._workerspec import Limits

__all__ = ["CallRequest", "CellOutcome", "Limits", "Sandbox"]


def __getattr__(name: str) -> object:
    if name in __all__:
        from codemode.sandbox import _host

        return getattr(_host, name)
    raise AttributeError(f"module 'codemode.sandbox' has no attribute {name!r}")
