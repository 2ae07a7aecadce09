"""A tool as cell code sees it (`server.name(...)`), and what it shows a reader."""

from __future__ import annotations

from dataclasses import dataclass

from codemode.schema import ToolDef, signature_line, stub


@dataclass(frozen=True)
class ApiTool:
    """A tool as cell code sees it: `server.name(...)`, backed by an MCP tool definition;
    `note` says what the session's approval policy does for it (the stub's last line)."""

    server: str
    name: str
    tool: ToolDef
    note: str | None = None

    @property
    def signature(self) -> str:
        return signature_line(self.tool, self.name)

    @property
    def summary(self) -> str:
        return self.tool.summary

    def stub(self) -> str:
        """The tool's stub, after the `TypedDict`s it names (what `help()` shows)."""
        return stub(self.tool, self.name, with_types=True, note=self.note)

    @property
    def names(self) -> tuple[str, str]:
        """`server.tool` as cell code writes it and as the MCP names have it."""
        return f"{self.server}.{self.name}", f"{self.tool.server}.{self.tool.name}"
