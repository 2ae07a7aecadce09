"""MCP names (of servers, tools and argument keys) as Python identifiers, and back.

Invariants:
- `to_identifier` always returns a valid, non-keyword, ASCII, snake_case identifier that never
  starts with two underscores; the same input always gives the same output.
- `NameMap` is a bijection over the names it was built from: `to_mcp(to_python(n)) == n` for
  every one of them, whatever the collisions, and the result does not depend on input order.
- A name that already is its own snake form (`get_item`) keeps it; the rest of a colliding
  group gets `_2`, `_3`, ... in sorted order of their MCP names.
- Only hard keywords are renamed (`class` -> `class_`). Soft keywords (`match`, `type`) and
  builtins (`id`, `filter`, `list`) are legal as attributes and keyword arguments, and are the
  names the server's own documentation uses, so they stay.
"""

from __future__ import annotations

from keyword import iskeyword

TYPE_CHECKING = False  # not `typing.TYPE_CHECKING`: importing typing costs the worker ~10 ms
if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator

__all__ = ["NameMap", "suggest", "to_identifier"]

#: Letters that Unicode decomposition does not reduce to ASCII but have an obvious spelling.
_TRANSLITERATIONS = {
    "ß": "ss", "æ": "ae", "Æ": "AE", "ø": "o", "Ø": "O", "œ": "oe", "Œ": "OE",
    "đ": "d", "Đ": "D", "ł": "l", "Ł": "L", "þ": "th", "Þ": "TH", "ð": "d", "Ð": "D",
}  # fmt: skip


def to_identifier(name: str, *, fallback: str = "tool") -> str:
    """The snake_case Python identifier for an MCP name.

    `getItem`, `get-item`, `read.file`, `read file` and `read/file` all become snake_case
    (`get_item`, `read_file`); `HTTPServer` becomes `http_server`; accents are dropped
    (`café` -> `cafe`) and letters with no ASCII spelling are dropped; a leading digit gets an
    underscore (`3d-view` -> `_3d_view`); a keyword gets a trailing one (`class` -> `class_`).

    Args:
        name: the name as the server spells it.
        fallback: the result when nothing usable is left (an empty or all-symbol name).
    """
    if not name.isascii():
        name = _to_ascii(name)
    snake = "_".join(word.lower() for word in _words(name))
    if not snake:
        snake = fallback
    if snake[0].isdigit():
        snake = "_" + snake
    if iskeyword(snake):
        snake += "_"
    return snake


def _to_ascii(name: str) -> str:
    """`name` with accents stripped and other non-ASCII characters turned into spaces."""
    import unicodedata  # only names with non-ASCII characters pay for it

    out = []
    for char in name:
        if char.isascii():
            out.append(char)
        elif char in _TRANSLITERATIONS:
            out.append(_TRANSLITERATIONS[char])
        else:
            plain = "".join(c for c in unicodedata.normalize("NFKD", char) if c.isascii())
            out.append(plain or " ")
    return "".join(out)


def _words(name: str) -> Iterator[str]:
    """The words of an ASCII name: split at symbols and at camelCase/PascalCase humps."""
    word: list[str] = []
    for index, char in enumerate(name):
        if not char.isalnum():
            if word:
                yield "".join(word)
                word = []
            continue
        if word and char.isupper():
            prev = word[-1]
            nxt = name[index + 1] if index + 1 < len(name) else ""
            # getItem | listS3Buckets | HTTPServer (the last capital of an acronym starts a word)
            if prev.islower() or prev.isdigit() or (prev.isupper() and nxt.islower()):
                yield "".join(word)
                word = []
        word.append(char)
    if word:
        yield "".join(word)


#: What a server's namespace holds besides its tools: a tool named so gets a trailing `_`.
SERVER_ATTRIBUTES = ("resources", "prompts")


class NameMap:
    """A reversible mapping between MCP names and unique Python identifiers.

    Build it with `NameMap.build(names)`; it is then read-only.
    """

    __slots__ = ("_to_mcp", "_to_py")

    def __init__(self, pairs: Iterable[tuple[str, str]] = ()) -> None:
        """Wrap (mcp_name, python_name) pairs; prefer `NameMap.build`, which makes them."""
        self._to_py: dict[str, str] = {}
        self._to_mcp: dict[str, str] = {}
        for mcp_name, py_name in pairs:
            if py_name in self._to_mcp or mcp_name in self._to_py:
                raise ValueError(f"duplicate name in NameMap: {mcp_name!r} -> {py_name!r}")
            self._to_py[mcp_name] = py_name
            self._to_mcp[py_name] = mcp_name

    @classmethod
    def build(
        cls,
        names: Iterable[str],
        *,
        fallback: str = "tool",
        reserved: Iterable[str] = (),
    ) -> NameMap:
        """Map each MCP name to a unique identifier, deterministically.

        Args:
            names: the MCP names; duplicates are ignored, order is kept for `python_names()`.
            fallback: the base identifier for a name with nothing usable in it.
            reserved: identifiers the result must not use (attributes the caller's own object
                has); a name that would become one gets a trailing underscore.
        """
        unique = list(dict.fromkeys(names))
        blocked = set(reserved)
        snake: dict[str, str] = {}
        for name in unique:
            base = to_identifier(name, fallback=fallback)
            snake[name] = base + "_" if base in blocked else base
        groups: dict[str, list[str]] = {}
        for name in sorted(unique):
            groups.setdefault(snake[name], []).append(name)
        assigned: dict[str, str] = {}
        for base, members in groups.items():
            owner = base if base in members else members[0]  # the exact spelling wins
            assigned[owner] = base
        taken = set(assigned.values()) | blocked
        for name in sorted(unique):
            if name in assigned:
                continue
            stem, number = snake[name].rstrip("_") or "_", 2
            while f"{stem}_{number}" in taken:
                number += 1
            assigned[name] = f"{stem}_{number}"
            taken.add(assigned[name])
        return cls((name, assigned[name]) for name in unique)

    def to_python(self, mcp_name: str) -> str:
        """The identifier for an MCP name; KeyError if the map was not built with it."""
        return self._to_py[mcp_name]

    def to_mcp(self, py_name: str) -> str:
        """The exact MCP name behind an identifier; KeyError if it is not one of ours."""
        return self._to_mcp[py_name]

    def python_names(self) -> list[str]:
        """Every identifier, in the order the MCP names were given."""
        return list(self._to_mcp)

    def items(self) -> list[tuple[str, str]]:
        """(python_name, mcp_name) pairs, in the order the MCP names were given."""
        return list(self._to_mcp.items())

    def __contains__(self, py_name: object) -> bool:
        return py_name in self._to_mcp

    def __iter__(self) -> Iterator[str]:
        return iter(self._to_mcp)

    def __len__(self) -> int:
        return len(self._to_mcp)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, NameMap):
            return NotImplemented
        return self._to_py == other._to_py

    __hash__ = None  # type: ignore[assignment]  # mutable-looking container: compare, don't hash

    def __repr__(self) -> str:
        pairs = ", ".join(f"{mcp!r}: {py!r}" for py, mcp in self._to_mcp.items())
        return f"NameMap({{{pairs}}})"


#: A suggestion must score at least this (0..1) to be offered as "did you mean".
SUGGEST_CUTOFF = 0.5


def suggest(name: str, candidates: Iterable[str], n: int = 1) -> list[str]:
    """The candidates most like `name`, best first, for a "did you mean".

    Ranks by words and characters together: half the share of `name`'s words that the
    candidate has (`get_time` -> `get_current_time` has both), half difflib's character
    ratio (a typo: `list_order` -> `list_orders`). Ties go to the shorter name.
    """
    import difflib  # only a miss pays for it

    typed = [w.lower() for w in _words(name)]
    scored = []
    for candidate in dict.fromkeys(candidates):
        words = {w.lower() for w in _words(candidate)}
        shared = sum(1 for w in typed if w in words) / len(typed) if typed else 0.0
        ratio = difflib.SequenceMatcher(None, name.lower(), candidate.lower()).ratio()
        score = (shared + ratio) / 2
        if score >= SUGGEST_CUTOFF:
            scored.append((-score, len(candidate), candidate))
    return [candidate for _, _, candidate in sorted(scored)[:n]]
