"""Which engine runs a cell of the codemode kernel.

Plain cells are code mode: they run in the sandbox, as if they began with `%%codemode`.
Cells of magics and shell escapes, and `%%local` / `%%python` cells, run in the kernel
itself. A cell that is only `name?` or `name??` asks for help on a tool or server.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

# Cell magics that mean "run the rest of this cell in the kernel": `%%local` as in
# sparkmagic's wrapper kernels; `%%python` because that is what a Python user reaches for.
LOCAL_MAGICS = ("%%local", "%%python")
_HELP = re.compile(r"^\s*([A-Za-z_][\w.]*)\s*(\?\??)\s*$")


@dataclass(frozen=True)
class Route:
    """Where a cell goes.

    Args:
        engine: "codemode" (the sandbox), "kernel" (IPython itself) or "help" (a tool's stub).
        execute: what the kernel's IPython shell runs for the cell.
        body: the code as its engine sees it (for completion and inspection), and
        offset: how many characters of the cell precede `body` (a first line that was
            stripped), so a cursor position in the cell maps into `body`.
    """

    engine: Literal["codemode", "kernel", "help"]
    execute: str
    body: str
    offset: int = 0


def route(cell: str) -> Route:
    """Decide where `cell` runs."""
    lines = [line for line in cell.splitlines() if line.strip()]
    if not lines:
        return Route("kernel", cell, cell)
    first = lines[0].lstrip()
    if first.startswith("%%"):
        magic = first.split(None, 1)[0]
        start = cell.index(magic)
        newline = cell.find("\n", start)
        offset = len(cell) if newline < 0 else newline + 1
        if magic in LOCAL_MAGICS:
            return Route("kernel", cell[offset:], cell[offset:], offset)
        if magic == "%%codemode":
            return Route("codemode", cell, cell[offset:], offset)
        return Route("kernel", cell, cell)
    if all(line.lstrip().startswith(("%", "!", "#")) for line in lines):
        return Route("kernel", cell, cell)
    if len(lines) == 1 and (match := _HELP.match(lines[0])):
        return Route("help", "", match.group(1))
    return Route("codemode", "%%codemode\n" + cell, cell)
