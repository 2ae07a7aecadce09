"""Completion and inspection inside `%%codemode` cells on any kernel (`%load_ext codemode`).

IPython's own completer (Jedi) and inspector see the kernel's namespace, not the sandbox's:
`files.read_` means nothing to them. `%load_ext codemode` adds an IPython matcher (matcher
API v2, which sees the whole cell) and wraps the kernel's inspection, so Tab and Shift-Tab in
a `%%codemode` cell answer from the session, as the `codemode` kernel does: the same
`Catalog` and the same replies. Outside such cells both leave IPython's answers alone.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from codemode.notebook._complete import Catalog
    from codemode.notebook._magics import CodeModeMagics

CELL_MAGIC = "%%codemode"


def codemode_body(cell: str) -> int | None:
    """Where the code of a `%%codemode` cell starts (after its magic line), or None for any other cell."""
    stripped = cell.lstrip()
    if not stripped.startswith(CELL_MAGIC) or stripped[len(CELL_MAGIC):len(CELL_MAGIC) + 1] not in ("", " ", "\t", "\n"):
        return None
    newline = cell.find("\n", len(cell) - len(stripped))
    return len(cell) if newline < 0 else newline + 1


def install(shell: Any, magics: CodeModeMagics) -> Callable[[], None]:
    """Register the matcher and the inspection hook on `shell` (and its kernel, if any);
    returns what takes them away again (`%unload_ext`)."""
    catalog = _Catalogs(magics)

    def codemode_matcher(context: Any) -> dict[str, Any]:
        lines = context.full_text.split("\n")
        before = "\n".join([*lines[: context.cursor_line], lines[context.cursor_line][: context.cursor_position]])
        offset = codemode_body(context.full_text)
        if offset is None or len(before) < offset:
            return {"completions": [], "suppress": False}
        from IPython.core.completer import SimpleCompletion

        found = catalog.get().complete(before[offset:])
        fragment = before[offset + found.start:]
        return {"completions": [SimpleCompletion(text, type=kind) for text, kind in zip(found.matches, found.types)],
                "matched_fragment": fragment, "suppress": True, "ordered": True}

    codemode_matcher.matcher_api_version = 2  # type: ignore[attr-defined]
    shell.Completer.custom_matchers.append(codemode_matcher)
    kernel = getattr(shell, "kernel", None)
    if kernel is not None and not hasattr(type(kernel), "catalog"):  # the codemode kernel answers itself
        plain = kernel.do_inspect

        async def do_inspect(code: str, cursor_pos: int, detail_level: int = 0, omit_sections: Any = ()) -> Any:
            offset = codemode_body(code)
            if offset is None or cursor_pos < offset:
                reply = plain(code, cursor_pos, detail_level, omit_sections)
                return await reply if inspect.isawaitable(reply) else reply
            from codemode.notebook._complete import inspect_reply

            return inspect_reply(catalog.get(), code[offset:], cursor_pos - offset)

        kernel.do_inspect = do_inspect
    magics.forget_catalog = catalog.forget

    def uninstall() -> None:
        if codemode_matcher in shell.Completer.custom_matchers:
            shell.Completer.custom_matchers.remove(codemode_matcher)
        if kernel is not None and "do_inspect" in vars(kernel):
            del kernel.do_inspect  # the kernel's own again

    return uninstall


class _Catalogs:
    """The session's catalog, made when first asked and forgotten when a cell ran."""

    def __init__(self, magics: CodeModeMagics) -> None:
        self.magics = magics
        self._catalog: Catalog | None = None

    def get(self) -> Catalog:
        if self._catalog is None:
            from codemode.notebook._complete import Catalog

            self._catalog = Catalog(self.magics.session)
        return self._catalog

    def forget(self) -> None:
        self._catalog = None
