"""The record of a run and its presentations (JSON payload, static HTML, plain text)."""

from __future__ import annotations

from codemode.trace._content import bundle_content, rich_content
from codemode.trace._records import RunReport, ToolCall
from codemode.trace._render import MIME_TYPE, render_html, render_text, token_line

__all__ = ["MIME_TYPE", "RunReport", "ToolCall", "bundle_content", "render_html", "render_text", "rich_content",
           "token_line"]
