"""Small display objects for the faces: tables of servers and tools, search results.

Each renders as static HTML and as plain text; none holds any state of its own.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

from codemode.engine import ApiTool, Session
from codemode.hub import ServerState
from codemode.shared.escape import escaped


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    head = "".join(f'<th style="text-align:left">{escape(h)}</th>' for h in headers)
    body = "".join(
        "<tr>" + "".join(f'<td style="text-align:left;vertical-align:top">{cell}</td>' for cell in row) + "</tr>"
        for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _text_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    rows = [[escaped(str(cell), lines=False) for cell in row] for row in rows]  # servers name their tools
    widths = [max(len(str(r[i])) for r in [headers, *rows]) for i in range(len(headers))]
    lines = ["  ".join(str(cell).ljust(w) for cell, w in zip(row, widths)).rstrip() for row in [headers, *rows]]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


@dataclass(frozen=True)
class ServerTable:
    """`%codemode servers`: each server, its transport, status and number of tools."""

    servers: Sequence[tuple[str, ServerState]]  # (Python name, state)

    @classmethod
    def of(cls, session: Session) -> ServerTable:
        """The table for a session, every server connected first (those whose tools were
        cached connect on first use otherwise); servers that did not connect have no Python
        name ("-")."""
        session.connect()
        return cls([(session.python_name(name) if state.status == "connected" else "-", state)
                    for name, state in session.servers.items()])

    def _rows(self) -> list[list[str]]:
        rows = []
        for key, state in self.servers:
            status = state.status if not state.error else f"{state.status}: {state.error.splitlines()[0]}"
            rows.append([key, state.name, state.transport, status, str(len(state.tools))])
        return rows

    _HEADERS = ("name", "config name", "transport", "status", "tools")

    def _repr_html_(self) -> str:
        return _table(self._HEADERS, [[escape(c) for c in row] for row in self._rows()])

    def __repr__(self) -> str:
        return _text_table(self._HEADERS, self._rows())


@dataclass(frozen=True)
class ToolList:
    """`%codemode tools` and `search`: each tool as a Python signature and its summary."""

    tools: Sequence[ApiTool]
    empty: str = "no tools"
    unavailable: Sequence[tuple[str, str, str]] = ()  # (server, tool, why no call can reach it)
    others: Sequence[tuple[str, str]] = ()  # a resource or prompt search found: (its call, what it is)

    def _repr_html_(self) -> str:
        if not self.tools and not self.unavailable and not self.others:
            return f"<p>{escape(self.empty)}</p>"
        rows = [[f"<code>{escape(t.server)}.{escape(t.signature)}</code>", escape(t.summary)] for t in self.tools]
        rows += [[f"<code>{escape(call)}</code>", escape(note)] for call, note in self.others]
        rows += [[f"<code>{escape(server)}.{escape(name)}</code>", f"not callable: {escape(why)}"]
                 for server, name, why in self.unavailable]
        return _table(("tool", "summary"), rows)

    def __repr__(self) -> str:
        if not self.tools and not self.unavailable and not self.others:
            return self.empty
        lines = [f"{t.server}.{t.signature}\n    {t.summary}" if t.summary else f"{t.server}.{t.signature}"
                 for t in self.tools]
        lines += [f"{call}\n    {note}" for call, note in self.others]
        if self.unavailable:
            lines.append("not callable (listed by the server, left out of stubs and search):")
            lines += [f"  {server}.{name}: {why}" for server, name, why in self.unavailable]
        return escaped("\n".join(lines))


@dataclass(frozen=True)
class CodeText:
    """Stubs and search results: Python-like text, shown as a code block."""

    text: str

    def _repr_html_(self) -> str:
        return f"<pre>{escape(self.text)}</pre>"

    def __repr__(self) -> str:
        return escaped(self.text)


@dataclass(frozen=True)
class IsolationTable:
    """`%codemode isolation`: each isolation layer, whether it is active, and what it does."""

    rows: Sequence[dict[str, object]]

    def _cells(self) -> list[list[str]]:
        return [[str(r.get("layer")), "yes" if r.get("active") else "no", str(r.get("detail", ""))] for r in self.rows]

    def _repr_html_(self) -> str:
        return _table(("layer", "active", "detail"), [[escape(c) for c in row] for row in self._cells()])

    def __repr__(self) -> str:
        return _text_table(("layer", "active", "detail"), self._cells())
