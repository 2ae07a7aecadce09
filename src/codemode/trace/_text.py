"""Text from the worker made safe for a terminal and for the text report.

Cell code chooses what it prints, what its errors say and even the server and tool names of
the calls it forges. Written raw to a terminal, an escape sequence in any of them can erase
the lines above it and print a fake headline ("ok · 0 tool calls"); a bidirectional override
can make text read other than it is. `terminal_safe` shows every control character except
newline and tab as a visible escape (`\\x1b`, `\\r`, `\\u202e`), so what a reader sees is what
the worker sent. (Lone surrogates never get this far: the host's frame check replaces them.)
"""

from __future__ import annotations

import re

_KEPT = {"\n", "\t"}
# C0 and C1 controls and DEL, and the Unicode bidirectional controls (embeddings, overrides
# and isolates): the ones a terminal or an editor acts on instead of showing.
_CONTROLS = [chr(c) for c in (*range(0x20), 0x7F, *range(0x80, 0xA0))] + [
    chr(c) for c in (*range(0x202A, 0x202F), *range(0x2066, 0x206A), 0x200E, 0x200F, 0x061C)
]
_TABLE = {ord(c): (f"\\x{ord(c):02x}" if ord(c) < 0x100 else f"\\u{ord(c):04x}") for c in _CONTROLS if c not in _KEPT}
_FIND = re.compile("[" + "".join(re.escape(chr(c)) for c in _TABLE) + "]")


def terminal_safe(text: str) -> str:
    """`text` with control characters (but newline and tab) shown as escapes; a Windows
    line end (CR LF) reads as a newline."""
    if _FIND.search(text) is None:
        return text
    return text.replace("\r\n", "\n").translate(_TABLE)
