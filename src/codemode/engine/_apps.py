"""MCP Apps on the host side: which tools have a view, and the view's `ui://` resource.

A tool whose definition carries `_meta.ui.resourceUri` (the `io.modelcontextprotocol/ui`
extension, 2026-01-26; the flat `_meta["ui/resourceUri"]` is its deprecated spelling) has an
app: an HTML page a host draws in a sandboxed frame and hands the call's input and result.
When a cell calls such a tool, the session reads the resource through the hub as it reads
anything from a server (policy already passed for the server; the read goes to the cassette
and the audit), once per session and URI, alongside the call. The call's record then holds
the app (`ToolCall.app`): the page (shared by digest in the report's metadata), its CSP and
permissions as the server declared them, the tool's definition and the call's full result,
which the JupyterLab renderer hands the app. No page ever runs outside the renderer's
sandboxed frame; every other view of the report shows the tool's result.

Invariants:
- Only `ui://` URIs, only `text/html;profile=mcp-app` contents, at most `MAX_APP_BYTES`;
  anything else is no app (the reason is kept, and shown in the report's metadata).
- The result handed to an app is the call's wire result, at most `MAX_APP_RESULT_BYTES`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from dataclasses import dataclass
from typing import Any

APP_MIME_TYPE = "text/html;profile=mcp-app"
#: Bytes of one app page: larger pages are not drawn (a real app's bundle is ~200 KB).
MAX_APP_BYTES = 4 * 1024 * 1024
#: Bytes of a call's wire result handed to its app (kept in the output's metadata).
MAX_APP_RESULT_BYTES = 2 * 1024 * 1024
_FLAT_KEY = "ui/resourceUri"


def app_uri(wire_tool: dict[str, Any] | None) -> str | None:
    """The `ui://` resource of a tool's app, from its wire definition; None without one."""
    meta = (wire_tool or {}).get("_meta")
    if not isinstance(meta, dict):
        return None
    ui = meta.get("ui")
    uri = ui.get("resourceUri") if isinstance(ui, dict) else None
    if uri is None:
        uri = meta.get(_FLAT_KEY)
    return uri if isinstance(uri, str) and uri.startswith("ui://") else None


def visibility(wire_tool: dict[str, Any] | None) -> list[str]:
    """Who may call the tool: `model` (code), `app` (an app's frame); both by default."""
    meta = (wire_tool or {}).get("_meta")
    ui = meta.get("ui") if isinstance(meta, dict) else None
    seen = ui.get("visibility") if isinstance(ui, dict) else None
    if not isinstance(seen, list) or not all(isinstance(v, str) for v in seen):
        return ["model", "app"]
    return list(seen)


@dataclass(frozen=True)
class AppPage:
    """One app's page, as its server served it."""

    server: str
    uri: str
    html: str
    digest: str  # sha256 of the page's UTF-8 bytes: names it in saved outputs and the report
    ui: dict[str, Any]  # the contents' `_meta.ui`: csp, permissions, domain, prefersBorder

    def to_json(self) -> dict[str, Any]:
        return {"server": self.server, "uri": self.uri, "html": self.html, "ui": self.ui}


def page_of(server: str, uri: str, result: dict[str, Any]) -> AppPage | str:
    """The page in a `resources/read` result (wire form), or why there is none."""
    contents = result.get("contents")
    if not isinstance(contents, list):
        return "the server's answer has no contents"
    entry = next((c for c in contents if isinstance(c, dict) and c.get("uri") == uri), None)
    if entry is None:
        entry = contents[0] if len(contents) == 1 and isinstance(contents[0], dict) else None
    if entry is None:
        return f"the server's answer has no content for {uri}"
    mime = str(entry.get("mimeType") or "")
    if mime.replace(" ", "").lower() != APP_MIME_TYPE:
        return f"its mimeType is {mime or 'missing'}, not {APP_MIME_TYPE}"
    if isinstance(entry.get("text"), str):
        html = entry["text"]
    elif isinstance(entry.get("blob"), str):
        try:
            html = base64.b64decode(entry["blob"], validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return "its blob is not base64 of UTF-8 text"
    else:
        return "it has neither text nor blob"
    data = html.encode("utf-8", errors="surrogatepass")
    if len(data) > MAX_APP_BYTES:
        return f"the page is {len(data):,} bytes, over the {MAX_APP_BYTES:,} an app may have"
    meta = entry.get("_meta")
    ui = meta.get("ui") if isinstance(meta, dict) else None
    return AppPage(server, uri, html, hashlib.sha256(data).hexdigest(), dict(ui) if isinstance(ui, dict) else {})


def call_app(page: AppPage, wire_tool: dict[str, Any] | None, result_json: str) -> dict[str, Any]:
    """What a call's record keeps of its app: the page's digest, the tool, the wire result."""
    app: dict[str, Any] = {"uri": page.uri, "digest": page.digest, "tool": wire_tool or {}}
    if len(result_json.encode()) <= MAX_APP_RESULT_BYTES:
        app["result"] = json.loads(result_json) if result_json else None
    else:
        app["result"] = None
        app["problem"] = f"the result is over {MAX_APP_RESULT_BYTES:,} bytes: the app gets none"
    return app
