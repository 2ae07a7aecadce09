"""Completion and inspection of code-mode cells, from what the session knows.

The kernel's own completer (Jedi) sees the kernel's namespace, not the sandbox's: it knows
nothing of `demo.list_orders`. These functions answer from the session instead: the servers
and their tools, each tool's parameters, and the worker's global names. One implementation
for both ways in: the `codemode` kernel's cells and `%%codemode` cells on any kernel
(`codemode.notebook._hooks`).
"""

from __future__ import annotations

import builtins
import keyword
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from codemode.schema import parameters

if TYPE_CHECKING:
    from codemode.engine import ApiTool, Session

# What the sandbox's `codemode` module offers cell code (codemode.sandbox._api.__all__).
API_NAMES = ("search", "help", "ToolError", "Image", "Audio", "Resource")
_WORD = re.compile(r"[A-Za-z_]\w*$")
_DOTTED = re.compile(r"([A-Za-z_]\w*)\.(\w*)$")
_DOTTED_NAME = re.compile(r"[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*\.\w*$")
_CALLEE = re.compile(r"([A-Za-z_]\w*)\.([A-Za-z_]\w*)(?:\.acall)?\s*$")
_KEYWORD_GIVEN = re.compile(r"([A-Za-z_]\w*)\s*=(?!=)")


@dataclass
class Completion:
    """Matches for the text before the cursor, replacing `[start, cursor)`."""

    matches: list[str]
    start: int
    types: list[str] = field(default_factory=list)
    signatures: list[str] = field(default_factory=list)


class Catalog:
    """The session's servers and tools, and the worker's names, as completion sees them."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.tools: dict[str, dict[str, ApiTool]] = {}
        for tool in session.tools():
            self.tools.setdefault(tool.server, {})[tool.name] = tool

    def tool(self, server: str, name: str) -> ApiTool | None:
        return self.tools.get(server, {}).get(name)

    def complete(self, text: str) -> Completion:
        """What can follow `text` (the cell up to the cursor)."""
        cursor = len(text)
        if (call := self._open_call(text)) is not None:
            tool, inside = call
            word = _WORD.search(inside)
            partial = word.group(0) if word else ""
            given = set(_KEYWORD_GIVEN.findall(inside))
            names = [p.name for p in parameters(tool.tool.input_schema) if p.name not in given]
            matches = [f"{name}=" for name in names if name.startswith(partial)]
            if matches and not inside[: len(inside) - len(partial)].rstrip().endswith("="):
                return Completion(matches, cursor - len(partial), ["param"] * len(matches), [""] * len(matches))
        if dotted := _DOTTED.search(text):
            owner, partial = dotted.groups()
            start = cursor - len(partial)
            if owner in self.tools:
                tools = [t for name, t in sorted(self.tools[owner].items()) if name.startswith(partial)]
                return Completion([t.name for t in tools], start, ["function"] * len(tools),
                                  [t.signature for t in tools])
            if owner == "codemode":
                names = [n for n in API_NAMES if n.startswith(partial)]
                return Completion(names, start, ["function"] * len(names), [""] * len(names))
            chain = _DOTTED_NAME.search(text)  # a variable of the worker's: it knows the attributes
            known = self.session.names(chain.group(0)) if chain else []
            attributes = [name.rsplit(".", 1)[-1] for name in known]
            return Completion(attributes, start, ["attribute"] * len(attributes), [""] * len(attributes))
        word = _WORD.search(text)
        partial = word.group(0) if word else ""
        if not partial or _after_dot(text, partial):
            return Completion([], cursor)
        found: dict[str, str] = {}
        for name in sorted(self.tools):
            found.setdefault(name, "module")
        for name in self.session.names():
            found.setdefault(name, "instance")
        for name in keyword.kwlist:
            found.setdefault(name, "keyword")
        for name in dir(builtins):
            if not name.startswith("_"):
                found.setdefault(name, "builtin")
        matches = [name for name in found if name.startswith(partial) and name != partial]
        return Completion(matches, cursor - len(partial), [found[m] for m in matches], [""] * len(matches))

    def _open_call(self, text: str) -> tuple[ApiTool, str] | None:
        """The tool whose argument list the cursor is in, and the text after its `(`."""
        depth = 0
        for at in range(len(text) - 1, -1, -1):
            char = text[at]
            if char in ")]}":
                depth += 1
            elif char in "([{":
                if depth == 0:
                    if char != "(":
                        return None
                    callee = _CALLEE.search(text[:at])
                    if callee is None:
                        return None
                    tool = self.tool(*callee.groups())
                    return (tool, text[at + 1 :]) if tool is not None else None
                depth -= 1
        return None

    def inspect(self, text: str, cursor: int) -> str | None:
        """Help for the name at `cursor` (or the tool whose call it is in), or None."""
        name = _name_at(text, cursor)
        if name is None:
            call = self._open_call(text[:cursor])
            return call[0].stub() if call is not None else None
        return self.help(name)

    def help(self, name: str) -> str | None:
        """The stub of `server.tool`, or a server's tools with their summaries."""
        server, _, tool = name.removesuffix(".acall").partition(".")
        if tool:
            found = self.tool(server, tool)
            return found.stub() if found is not None else None
        if server in self.tools:
            config_name = next(iter(self.tools[server].values())).tool.server
            state = self.session.servers.get(config_name)
            description = (state.instructions or "").strip() if state is not None else ""
            lines = [f"server {server}" + (f": {description}" if description else ""), ""]
            lines += [f"{server}.{t.signature}\n    {t.summary}" for _, t in sorted(self.tools[server].items())]
            return "\n".join(lines)
        return None


def _after_dot(text: str, partial: str) -> bool:
    return text[: len(text) - len(partial)].endswith(".")


def _name_at(text: str, cursor: int) -> str | None:
    """The dotted name the cursor is on or just after (`demo.list_ord|ers` → demo.list_orders)."""
    left = re.search(r"[\w.]*$", text[:cursor])
    right = re.match(r"\w*", text[cursor:])
    name = (left.group(0) if left else "") + (right.group(0) if right else "")
    name = name.strip(".")
    return name if name and re.fullmatch(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)*", name) else None


def complete_reply(catalog: Catalog, before: str, offset: int) -> dict[str, Any]:
    """A Jupyter `complete_reply` for code-mode text `before` the cursor, which sits `offset`
    characters into the cell."""
    found = catalog.complete(before)
    start, cursor = found.start + offset, len(before) + offset
    types = [{"start": start, "end": cursor, "text": text, "type": kind, "signature": signature}
             for text, kind, signature in zip(found.matches, found.types, found.signatures)]
    return {"status": "ok", "matches": found.matches, "cursor_start": start, "cursor_end": cursor,
            "metadata": {"_jupyter_types_experimental": types}}


def inspect_reply(catalog: Catalog, body: str, cursor: int) -> dict[str, Any]:
    """A Jupyter `inspect_reply` for the code-mode `body` with the cursor at `cursor` in it."""
    text = catalog.inspect(body, cursor)
    data = {"text/plain": text} if text else {}
    return {"status": "ok", "found": bool(text), "data": data, "metadata": {}}
