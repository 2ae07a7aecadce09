"""Text that reaches a person (a terminal, a prompt, a table), shown as it is.

Cell code chooses what it prints, what its errors say and the server and tool names of the
calls it forges; an upstream server chooses its tool names, descriptions and stderr. Written
raw to a terminal, an escape sequence in any of them can erase the lines above and draw a
fake headline ("ok · 0 tool calls") or a fake "approved" row; a bidirectional override
(U+202E, U+2066) makes text read other than it is. `escaped` shows every such character as
a visible escape (`\\x1b`, `\\r`, `\\u202e`), so what a reader sees is what was sent. It is the
one helper for this: the text report, the CLI, the audit table, approval prompts, search
output and start-up lines all go through it.

Standard library only, cheap to import.
"""

from __future__ import annotations

import re

__all__ = ["escaped"]

# C0 and C1 controls and DEL; the Unicode bidirectional controls (embeddings, overrides,
# isolates and marks); and the line and paragraph separators, which some terminals and
# editors break lines at.
_CONTROLS = [*range(0x20), 0x7F, *range(0x80, 0xA0), *range(0x202A, 0x202F), *range(0x2066, 0x206A),
             0x200E, 0x200F, 0x061C, 0x2028, 0x2029]
_TABLE = {c: (f"\\x{c:02x}" if c < 0x100 else f"\\u{c:04x}") for c in _CONTROLS}
_FIND = re.compile("[" + "".join(re.escape(chr(c)) for c in _TABLE) + "]")
_LINES = {ord("\n"), ord("\t")}
_TABLE_LINES = {c: e for c, e in _TABLE.items() if c not in _LINES}


def escaped(text: str, *, lines: bool = True) -> str:
    """`text` with control and bidirectional characters shown as escapes.

    Args:
        text: what may hold them.
        lines: keep newline and tab as they are (a Windows line end, CR LF, reads as a
            newline); False escapes them too, for one cell of a table or one line of a log.
    """
    if _FIND.search(text) is None:
        return text
    if not lines:
        return text.translate(_TABLE)
    return text.replace("\r\n", "\n").translate(_TABLE_LINES)
