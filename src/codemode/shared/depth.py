"""How deep a JSON value nests, and the same value cut to a depth.

A frame between the worker and the host may nest at most `sandbox._frames.MAX_DEPTH` levels:
deeper is a hostile frame, and the host stops the worker. An honest value can still be deep
(a server's result nested 150 lists deep, a cell's own recursive structure), so each side
cuts what it sends to a depth the frame can carry: a part below the cut arrives as its JSON
text, with a note, and nobody is stopped.

Both functions walk at most `levels` deep with recursion bounded by `levels`, and
`nests_deeper` not at all: a value nested 100,000 deep costs a loop, never a RecursionError.

Standard library only: the sandbox worker imports this module.
"""

from __future__ import annotations

import json

TYPE_CHECKING = False  # importing `typing` costs ~10 ms of worker start-up
if TYPE_CHECKING:
    from typing import Any

__all__ = ["cut_to", "nests_deeper"]

_CONTAINERS = (dict, list, tuple)


def nests_deeper(value: Any, levels: int) -> bool:
    """Whether `value` has more than `levels` levels of lists and objects (`[[1]]` has 2)."""
    stack = [(value, 1)]
    while stack:
        item, level = stack.pop()
        if not isinstance(item, _CONTAINERS):
            continue
        if level > levels:
            return True
        children = item.values() if isinstance(item, dict) else item
        stack.extend((child, level + 1) for child in children if isinstance(child, _CONTAINERS))
    return False


def cut_to(value: Any, levels: int) -> Any:
    """A copy of `value` with at most `levels` levels: each list or object at the cut is
    replaced by its compact JSON text (a marker when even that is too deep to write)."""
    if not isinstance(value, _CONTAINERS):
        return value
    if levels <= 0:
        try:
            return json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=repr)
        except (RecursionError, ValueError):
            return "<a value nested too deep to show>"
    if isinstance(value, dict):
        return {key: cut_to(item, levels - 1) for key, item in value.items()}
    return [cut_to(item, levels - 1) for item in value]
