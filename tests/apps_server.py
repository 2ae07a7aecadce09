"""An MCP server with an App, on the SDK's `Apps` extension: the tests' own app peer.

`show_notes()` lists notes and links the app `ui://notes/app.html`. The app draws the list it
is handed (the tool's structuredContent) and has buttons that do what a real app does:
`delete_note` (a destructive tool: the host must ask a person first), `admin_reset` (visible
to the model only: the host must refuse it to the app), a link to open, a message, and a
fetch to a loopback port that the host's CSP must block (the app logs the violation).

Run: `python tests/apps_server.py` (stdio). `NOTES_FILE` keeps the notes across calls.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from mcp.server.apps import Apps
from mcp.server.mcpserver import MCPServer
from mcp_types import ToolAnnotations

APP_URI = "ui://notes/app.html"
_FILE = Path(os.environ.get("NOTES_FILE", "notes.json"))

APP_HTML = """<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>notes</title>
<style>body { font: 13px sans-serif; margin: 6px; } li { margin: 2px 0; }</style></head>
<body>
<h3 id="title">notes</h3>
<ul id="notes"></ul>
<div id="input"></div>
<button id="delete">Delete the first note</button>
<button id="forbidden">Reset everything</button>
<button id="link">Open the docs</button>
<button id="message">Say hello</button>
<button id="readme">Read the readme</button>
<div id="answer"></div>
<div id="theme"></div>
<script>
  var nextId = 1, pending = {};
  function send(m) { window.parent.postMessage(m, "*"); }
  function request(method, params) {
    var id = nextId++;
    send({jsonrpc: "2.0", id: id, method: method, params: params});
    return new Promise(function (resolve, reject) { pending[id] = {resolve: resolve, reject: reject}; });
  }
  function notify(method, params) { send({jsonrpc: "2.0", method: method, params: params}); }
  function log(text) { notify("notifications/message", {level: "info", logger: "notes-app", data: text}); }
  var notes = [];
  function draw(list) {
    notes = list;
    var ul = document.getElementById("notes");
    ul.replaceChildren();
    list.forEach(function (n) { var li = document.createElement("li"); li.textContent = n.id + ": " + n.text; ul.appendChild(li); });
    notify("ui/notifications/size-changed", {width: document.body.scrollWidth, height: document.body.scrollHeight + 20});
  }
  function style(context) {
    var variables = (context.styles || {}).variables || {};
    document.body.style.background = variables["--color-background-primary"] || "";
    document.body.style.color = variables["--color-text-primary"] || "";
    document.getElementById("theme").textContent = "theme " + context.theme +
      (variables["--color-background-primary"] ? " with colours" : "");
  }
  function answer(text) { document.getElementById("answer").textContent = text; }
  document.addEventListener("securitypolicyviolation", function (e) { log("csp blocked " + e.effectiveDirective); });
  window.addEventListener("message", function (event) {
    if (event.source !== window.parent) return;
    var m = event.data || {};
    if (m.id !== undefined && !m.method && pending[m.id]) {
      var p = pending[m.id]; delete pending[m.id];
      if (m.error) p.reject(m.error); else p.resolve(m.result);
      return;
    }
    if (m.method === "ui/notifications/tool-input") {
      document.getElementById("input").textContent = "input " + JSON.stringify(m.params.arguments);
    } else if (m.method === "ui/notifications/tool-result") {
      draw((m.params.structuredContent || {}).notes || []);
    } else if (m.method === "ui/notifications/host-context-changed") {
      style(m.params);
    }
  });
  document.getElementById("delete").onclick = function () {
    answer("deleting…");
    request("tools/call", {name: "delete_note", arguments: {note_id: notes[0] ? notes[0].id : 0}}).then(
      function (r) { answer((r.isError ? "failed: " : "deleted: ") + r.content.map(function (b) { return b.text; }).join(" ")); },
      function (e) { answer("refused: " + e.message); });
  };
  document.getElementById("forbidden").onclick = function () {
    request("tools/call", {name: "admin_reset", arguments: {}}).then(
      function () { answer("reset done"); }, function (e) { answer("refused: " + e.message); });
  };
  document.getElementById("link").onclick = function () {
    request("ui/open-link", {url: "https://example.org/notes-docs"}).then(function () { answer("link offered"); });
  };
  document.getElementById("readme").onclick = function () {
    request("resources/read", {uri: "notes://readme"}).then(
      function (r) { answer("readme: " + r.contents[0].text); }, function (e) { answer("refused: " + e.message); });
  };
  document.getElementById("message").onclick = function () {
    request("ui/message", {role: "user", content: [{type: "text", text: "hello from the notes app"}]});
  };
  request("ui/initialize", {appInfo: {name: "notes", version: "1"}, appCapabilities: {}, protocolVersion: "2026-01-26"})
    .then(function (result) {
      style(result.hostContext || {});
      notify("ui/notifications/initialized", {});
      notify("ui/notifications/size-changed", {width: document.body.scrollWidth, height: document.body.scrollHeight + 20});
      fetch("http://127.0.0.1:9/exfiltrate").catch(function () {});
    });
</script></body></html>"""


def _load() -> list[dict[str, Any]]:
    if _FILE.exists():
        return list(json.loads(_FILE.read_text(encoding="utf-8")))
    return [{"id": 1, "text": "buy milk"}, {"id": 2, "text": "call Ada"}]


def _save(notes: list[dict[str, Any]]) -> None:
    _FILE.write_text(json.dumps(notes), encoding="utf-8")


apps = Apps()


@apps.tool(resource_uri=APP_URI, description="List the notes, with an app to manage them.",
           annotations=ToolAnnotations(readOnlyHint=True))
def show_notes() -> dict[str, Any]:
    return {"notes": _load()}


@apps.tool(resource_uri=APP_URI, description="Delete one note by its id.",
           annotations=ToolAnnotations(destructiveHint=True, readOnlyHint=False))
def delete_note(note_id: int) -> str:
    notes = _load()
    kept = [n for n in notes if n["id"] != note_id]
    _save(kept)
    return f"note {note_id} deleted, {len(kept)} left" if len(kept) < len(notes) else f"no note {note_id}"


@apps.tool(resource_uri=APP_URI, visibility=["model"], description="Delete every note (the model's tool only).",
           annotations=ToolAnnotations(destructiveHint=True, readOnlyHint=False))
def admin_reset() -> str:
    _save([])
    return "all notes deleted"


apps.add_html_resource(APP_URI, APP_HTML, name="notes app")

server = MCPServer("notes", extensions=[apps])


@server.resource("notes://readme", name="readme", mime_type="text/plain")
def readme() -> str:
    return "keep notes short"

if __name__ == "__main__":
    server.run()
