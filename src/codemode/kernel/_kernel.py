"""The `codemode` kernel: ipykernel's IPython kernel where every cell is code mode.

A wrapper in sparkmagic's shape: plain cells are rewritten to `%%codemode` cells and run by
the magic (so the kernel and `%load_ext codemode` share one engine and one report); magics,
shell escapes and `%%local` / `%%python` cells run in the kernel itself. Completion and
inspection of code-mode cells answer from the session (the servers, their tools and
parameters, the worker's variables); everything else goes to IPython's own.
"""

from __future__ import annotations

import inspect
from typing import Any

from ipykernel.ipkernel import IPythonKernel

from codemode._version import __version__
from codemode.notebook._complete import Catalog, complete_reply, inspect_reply
from codemode.kernel._routing import route
from codemode.notebook import CodeModeMagics


class CodeModeKernel(IPythonKernel):
    """Python 3 (Code Mode): cells run sandboxed against the configured MCP servers."""

    implementation = "codemode"
    implementation_version = __version__
    banner = (
        "Python 3 (Code Mode): cells run in a sandboxed worker with the MCP servers' tools as "
        "Python objects.\n%%local (or %%python) runs a cell in the kernel itself; "
        "%codemode servers | tools | search | stubs | isolation | tokens | reset."
    )

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        assert self.shell is not None  # IPythonKernel makes its shell in __init__
        self.shell.extension_manager.load_extension("codemode")
        self.magics.face = "kernel"
        self._catalog: Catalog | None = None

    @property
    def magics(self) -> CodeModeMagics:
        assert self.shell is not None
        magics = self.shell.magics_manager.registry["CodeModeMagics"]
        assert isinstance(magics, CodeModeMagics)
        return magics

    async def do_execute(self, code: str, silent: bool, store_history: bool = True,
                         user_expressions: dict[str, Any] | None = None, allow_stdin: bool = False,
                         **kwargs: Any) -> dict[str, Any]:
        cell = route(code)
        if cell.engine == "help":
            return self._help(cell.body)
        self._catalog = None  # a cell can change the worker's names
        return await super().do_execute(cell.execute, silent, store_history, user_expressions, allow_stdin,
                                        **kwargs)

    async def do_complete(self, code: str, cursor_pos: int | None) -> dict[str, Any]:
        cursor = len(code) if cursor_pos is None else cursor_pos
        cell = route(code)
        if cell.engine == "kernel" or cursor < cell.offset:
            return await _maybe_await(super().do_complete(code, cursor_pos))
        return complete_reply(self.catalog, cell.body[: cursor - cell.offset], cell.offset)

    async def do_inspect(self, code: str, cursor_pos: int, detail_level: int = 0,
                         omit_sections: Any = ()) -> dict[str, Any]:
        cell = route(code)
        if cell.engine == "kernel" or cursor_pos < cell.offset:
            return await _maybe_await(super().do_inspect(code, cursor_pos, detail_level, omit_sections))
        return inspect_reply(self.catalog, cell.body, cursor_pos - cell.offset)

    async def do_shutdown(self, restart: bool) -> dict[str, Any]:
        self.magics.close()  # the worker and the servers end with the kernel, not after it
        return await _maybe_await(super().do_shutdown(restart))

    @property
    def catalog(self) -> Catalog:
        if self._catalog is None:
            self._catalog = Catalog(self.magics.session)
        return self._catalog

    def _help(self, name: str) -> dict[str, Any]:
        text = self.catalog.help(name)
        if text is None:
            text = f"{name}: no such server or tool; %codemode tools lists them"
        # As IPython answers `name?`: a "page" payload, which front ends show in a pager.
        page = {"source": "page", "data": {"text/plain": text}, "start": 0}
        return {"status": "ok", "execution_count": self.execution_count, "payload": [page],
                "user_expressions": {}}


async def _maybe_await(value: Any) -> Any:
    # ipykernel 7.4's IPythonKernel has an async do_execute but plain do_complete/do_inspect.
    return await value if inspect.isawaitable(value) else value
