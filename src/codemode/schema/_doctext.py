"""Docstrings as stub text: triple-quoted, indented, valid Python whatever the text holds.

Standard library only, no I/O (the worker imports this package).
"""

from __future__ import annotations

__all__ = ["docstring"]


def docstring(lines: list[str], indent: str) -> list[str]:
    """A triple-quoted docstring of `lines` at `indent`; no lines, no docstring."""
    if not lines:
        return []
    text = "\n".join(lines).replace('"""', '\\"\\"\\"')
    prefix = "r" if "\\" in text else ""  # keeps `\d` in a description valid source
    if len(lines) == 1 and not text.endswith(('"', "\\")):
        return [f'{indent}{prefix}"""{text}"""']
    first, *rest = text.split("\n")
    return [
        f'{indent}{prefix}"""{first}',
        *[f"{indent}{line}" if line else "" for line in rest],
        f'{indent}"""',
    ]
