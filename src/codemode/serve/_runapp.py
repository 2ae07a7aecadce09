"""The run report as an MCP App (the `io.modelcontextprotocol/ui` extension, 2026-01-26).

`execute`'s tool definition links the `ui://codemode/run` resource (`_meta.ui.resourceUri`);
a host that supports apps reads it with `resources/read` and draws it in a sandboxed iframe,
handing it the call's input (the code) and its result, whose `structuredContent` the app
draws: the calls with their timing, the output, the error and the tokens. A host without apps
reads the same result's text block, which stays as it is.

The page (`run_app.html`, beside this module) is self-contained: no network, no external
resource, and the strictest CSP a host derives (no `_meta.ui.csp`: nothing to allow). It puts
every value into the page with `textContent`.
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from typing import Any

import mcp_types as types
from mcp.server.apps import APP_MIME_TYPE, EXTENSION_ID

#: The resource `execute` links; its one view of a run.
RUN_APP_URI = "ui://codemode/run"
RUN_APP_NAME = "codemode run report"
RUN_APP_DESCRIPTION = "An execute call drawn: its tool calls with their timing, output, errors and tokens."

__all__ = ["APP_MIME_TYPE", "EXTENSION_ID", "RUN_APP_URI", "execute_meta", "list_app_resources", "read_app_resource"]


def execute_meta() -> dict[str, Any]:
    """The `_meta` of `execute`'s tool definition: the app that draws its result."""
    return {"ui": {"resourceUri": RUN_APP_URI}}


@cache
def run_app_html() -> str:
    """The app's HTML document, as shipped in the package."""
    return resources.files("codemode.serve").joinpath("run_app.html").read_text(encoding="utf-8")


def list_app_resources() -> list[types.Resource]:
    """The `resources/list` entries of the apps this server offers."""
    return [types.Resource(uri=RUN_APP_URI, name=RUN_APP_NAME, description=RUN_APP_DESCRIPTION,
                           mime_type=APP_MIME_TYPE)]


def read_app_resource(uri: str) -> types.ReadResourceResult | None:
    """The `resources/read` answer for an app's `ui://` URI; None for any other URI."""
    if uri != RUN_APP_URI:
        return None
    # `prefersBorder`: a host frames the report as it frames a tool's output. No `csp`: the
    # page loads nothing, so a host applies its restrictive default.
    content = types.TextResourceContents(uri=RUN_APP_URI, mime_type=APP_MIME_TYPE, text=run_app_html(),
                                         _meta={"ui": {"prefersBorder": True}})
    return types.ReadResourceResult(contents=[content])
