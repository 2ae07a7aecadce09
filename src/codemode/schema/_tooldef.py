"""`ToolDef`, the description of one MCP tool, and the small frozen-record base it shares.

Invariants:
- A `ToolDef` holds the tool exactly as the server described it (wire names, camelCase MCP
  annotations, raw JSON schemas); turning it into Python names and types happens elsewhere.
- Records are immutable and compare by value, like frozen dataclasses. They are written by
  hand because `dataclasses` imports `inspect`, and this package is imported by the sandbox
  worker, which must start in a few milliseconds. Use `.replace(**changes)`, not
  `dataclasses.replace`.
- `as_dict()` / `from_dict()` round-trip through plain JSON values, so a tool list can cross the
  worker channel as a JSON frame.
"""

from __future__ import annotations

TYPE_CHECKING = False  # not `typing.TYPE_CHECKING`: importing typing costs the worker ~10 ms
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any, Self

__all__ = ["ToolDef"]

#: Longest `ToolDef.summary`, in characters: one line of a listing, ellipsis included.
SUMMARY_MAX = 100

#: Characters that end a sentence when a space or the end of the line follows.
_SENTENCE_ENDS = ".!?"
# A period that ends one of these does not end the sentence ("country code, e.g. DE").
_ABBREVIATIONS = frozenset({"e.g.", "i.e.", "etc.", "vs.", "cf."})


class FrozenRecord:
    """Base for immutable value records: equality, hash, repr, `replace`, pickling.

    Subclasses set `__slots__` to their field names, in order, and assign every field once in
    `__init__` through `object.__setattr__`.
    """

    __slots__: tuple[str, ...] = ()

    def _values(self) -> tuple[object, ...]:
        return tuple(getattr(self, name) for name in self.__slots__)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"{type(self).__name__} is frozen; use .replace({name}=...)")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"{type(self).__name__} is frozen")

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return self._values() == other._values()

    def __hash__(self) -> int:
        return hash((type(self).__name__, *self._values()))

    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={getattr(self, name)!r}" for name in self.__slots__)
        return f"{type(self).__name__}({fields})"

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (type(self), self._values()))

    def replace(self, **changes: Any) -> Self:
        """A copy with some fields changed (what `dataclasses.replace` does for dataclasses)."""
        values = {name: getattr(self, name) for name in self.__slots__}
        unknown = set(changes) - set(values)
        if unknown:
            raise TypeError(f"{type(self).__name__} has no field {sorted(unknown)[0]!r}")
        values.update(changes)
        return type(self)(**values)


def _rebuild(cls: type[FrozenRecord], values: tuple[object, ...]) -> FrozenRecord:
    record = object.__new__(cls)
    for name, value in zip(cls.__slots__, values, strict=True):
        object.__setattr__(record, name, value)
    return record


class ToolDef(FrozenRecord):
    """One tool of one MCP server, as the server listed it."""

    __slots__ = (
        "server",
        "name",
        "description",
        "input_schema",
        "output_schema",
        "annotations",
        "title",
    )

    server: str
    """The server's name in the session (the key of `mcpServers`)."""
    name: str
    """The tool's MCP name, exactly as it goes on the wire."""
    description: str
    """The tool's description; may be empty or span many lines."""
    input_schema: dict[str, Any]
    """The JSON schema of the arguments (an object schema)."""
    output_schema: dict[str, Any] | None
    """The JSON schema of the structured result, when the tool declares one."""
    annotations: dict[str, Any]
    """MCP tool annotations in wire spelling, e.g. `{"destructiveHint": True}`."""
    title: str | None
    """A display title, when the server gives one."""

    def __init__(
        self,
        server: str,
        name: str,
        description: str = "",
        input_schema: dict[str, Any] | None = None,
        output_schema: dict[str, Any] | None = None,
        annotations: dict[str, Any] | None = None,
        title: str | None = None,
    ) -> None:
        set_ = object.__setattr__
        set_(self, "server", server)
        set_(self, "name", name)
        set_(self, "description", description or "")
        set_(self, "input_schema", {"type": "object"} if input_schema is None else input_schema)
        set_(self, "output_schema", output_schema)
        set_(self, "annotations", {} if annotations is None else annotations)
        set_(self, "title", title)

    def __hash__(self) -> int:
        return hash((self.server, self.name))  # the schemas are dicts; the pair is the identity

    @property
    def summary(self) -> str:
        """The first sentence (or line) of the description, at most `SUMMARY_MAX` characters."""
        return summarize(self.description)

    @property
    def destructive(self) -> bool:
        """True when the server marks the tool destructive (`destructiveHint: true`, stated)."""
        hints = self.annotations
        return hints.get("destructiveHint") is True and hints.get("readOnlyHint") is not True

    def as_dict(self) -> dict[str, Any]:
        """The tool as plain JSON values, keyed by field name."""
        return {name: getattr(self, name) for name in self.__slots__}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ToolDef:
        """The tool `as_dict()` described; unknown keys are ignored."""
        return cls(**{key: data[key] for key in cls.__slots__ if key in data})


def _ends_sentence(line: str, index: int) -> bool:
    """Whether the mark at `index` ends a sentence: the line's end or a space follows, and the
    word it closes is no abbreviation."""
    if index + 1 < len(line) and line[index + 1] != " ":
        return False
    word = line[: index + 1].rsplit(" ", 1)[-1].lstrip("([\"'")
    return word.lower() not in _ABBREVIATIONS


def summarize(text: str, limit: int = SUMMARY_MAX) -> str:
    """The first sentence or first non-empty line of `text`, cut to `limit` with an ellipsis."""
    line = next((part.strip() for part in text.splitlines() if part.strip()), "")
    for index, char in enumerate(line):
        if char in _SENTENCE_ENDS and _ends_sentence(line, index):
            line = line[: index + 1]
            break
    if len(line) <= limit:
        return line
    cut = line[: limit - 1]
    space = cut.rfind(" ")
    if space > limit // 2:  # cut at a word boundary unless that throws away half the line
        cut = cut[:space]
    return cut.rstrip(" ,;:") + "…"
