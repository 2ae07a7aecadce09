"""`codemode serve` offers its run report as an MCP App: `execute` links `ui://codemode/run`,
`resources/read` serves it as `text/html;profile=mcp-app`, and the page draws a real run.

The resource is read through the SDK's own client from a real `codemode serve` over stdio;
the page is drawn by Debian's chromium in a sandboxed iframe (`allow-scripts` only, under the
spec's default CSP) by a small host page that speaks the host side of the protocol and hands
the app the real `execute` result.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

import pytest
from _serving import run_stdio, write_config

APP_URI = "ui://codemode/run"
APP_MIME = "text/html;profile=mcp-app"
CODE = 'orders = demo.list_orders(status="open")\nprint(len(orders), "open orders")\ntry:\n' \
       '    demo.get_customer(customer_id=999)\nexcept ToolError as e:\n    print("no such customer")\nlen(orders)'


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """What one client of a real `codemode serve` saw: tools, resources, the app, a run."""
    config = write_config(tmp_path_factory.mktemp("app") / "mcp.json", {"poolSize": 0})

    async def scenario(client: Any) -> dict[str, Any]:
        from mcp.shared.exceptions import MCPError

        tools = await client.list_tools()
        resources = await client.list_resources()
        read = await client.read_resource(APP_URI)
        try:
            await client.read_resource("ui://codemode/nothing")
            missing = None
        except MCPError as exc:
            missing = exc
        result = await client.call_tool("execute", {"code": CODE})
        return {"tools": tools, "resources": resources, "read": read, "missing": missing, "result": result}

    return dict(run_stdio(config, scenario))


def test_execute_links_the_run_report_app_in_its_meta(served: dict[str, Any]) -> None:
    execute = next(tool for tool in served["tools"].tools if tool.name == "execute")
    wire = execute.model_dump(by_alias=True, mode="json", exclude_none=True)
    assert wire["_meta"] == {"ui": {"resourceUri": APP_URI}}
    search = next(tool for tool in served["tools"].tools if tool.name == "search")
    assert search.meta is None  # only execute's result has a view


def test_the_app_resource_is_listed_and_read_as_an_mcp_app(served: dict[str, Any]) -> None:
    listed = [(r.uri, r.mime_type) for r in served["resources"].resources]
    assert listed == [(APP_URI, APP_MIME)]
    (content,) = served["read"].contents
    wire = content.model_dump(by_alias=True, mode="json", exclude_none=True)
    assert wire["uri"] == APP_URI and wire["mimeType"] == APP_MIME
    assert wire["_meta"] == {"ui": {"prefersBorder": True}}  # no csp: the host's restrictive default
    html = wire["text"]
    assert html.startswith("<!DOCTYPE html>") and "ui/initialize" in html


def test_the_app_is_self_contained_and_builds_its_dom_from_text(served: dict[str, Any]) -> None:
    html = served["read"].contents[0].text
    assert not re.search(r"""\b(src|href)\s*=\s*["']?(https?:)?//""", html, re.I)  # nothing loaded from anywhere
    assert not re.search(r"@import|url\(", html)
    for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function"):
        assert sink not in html


def test_an_unknown_resource_is_an_error_naming_the_one_there_is(served: dict[str, Any]) -> None:
    missing = served["missing"]
    assert missing is not None and missing.code == -32602
    assert APP_URI in missing.error.message


def test_the_execute_result_keeps_its_text_and_gives_the_app_timings(served: dict[str, Any]) -> None:
    result = served["result"]
    assert not result.is_error
    text = result.content[0].text
    assert "6 open orders" in text and "no such customer" in text and "result: 6" in text
    data = result.structured_content
    assert isinstance(data["duration"], float)
    assert [(c["server"], c["tool"], c["status"]) for c in data["calls"]] == [
        ("demo", "list_orders", "ok"), ("demo", "get_customer", "error")]
    assert all(isinstance(c["started"], float) for c in data["calls"])


_HOST = """<!DOCTYPE html><html><body><div id="log"></div><script>
  // A minimal MCP Apps host: the app in an iframe with allow-scripts only (an opaque origin),
  // the spec's default CSP in front of its document, the tool input and result after initialized.
  const run = RUN;
  window.hostLog = [];
  const frame = document.createElement('iframe');
  frame.setAttribute('sandbox', 'allow-scripts');
  frame.style.width = '900px';
  const csp = "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:; " +
              "media-src data:; connect-src 'none'; frame-src 'none'; object-src 'none'; base-uri 'none'";
  const doc = new DOMParser().parseFromString(run.html, 'text/html');
  const meta = doc.createElement('meta');
  meta.setAttribute('http-equiv', 'Content-Security-Policy');
  meta.setAttribute('content', csp);
  doc.head.prepend(meta);
  frame.srcdoc = '<!DOCTYPE html>' + doc.documentElement.outerHTML;
  window.addEventListener('message', (event) => {
    if (event.source !== frame.contentWindow) return;
    const m = event.data;
    window.hostLog.push(m.method || ('reply ' + m.id));
    const reply = (result) => frame.contentWindow.postMessage({jsonrpc: '2.0', id: m.id, result}, '*');
    if (m.method === 'ui/initialize') {
      reply({protocolVersion: '2026-01-26', hostInfo: {name: 'test-host', version: '1'}, hostCapabilities: {},
             hostContext: {theme: 'dark', displayMode: 'inline', containerDimensions: {maxHeight: 2000}}});
    } else if (m.method === 'ui/notifications/initialized') {
      frame.contentWindow.postMessage({jsonrpc: '2.0', method: 'ui/notifications/tool-input',
                                       params: {arguments: run.input}}, '*');
      frame.contentWindow.postMessage({jsonrpc: '2.0', method: 'ui/notifications/tool-result', params: run.result}, '*');
    } else if (m.method === 'ui/notifications/size-changed') {
      frame.style.height = m.params.height + 'px';
      window.lastSize = m.params;
    }
  });
  document.body.appendChild(frame);
</script></body></html>"""


def test_the_app_draws_the_run_it_is_handed_in_a_sandboxed_frame(served: dict[str, Any], tmp_path: Path) -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "lab"))  # the browser tests' launcher
    from _lab import ARTIFACTS, chromium_page

    run = {"html": served["read"].contents[0].text, "input": {"code": CODE},
           "result": served["result"].model_dump(by_alias=True, mode="json", exclude_none=True)}
    with chromium_page(30_000) as page:
        page.set_content(_HOST.replace("RUN", json.dumps(run).replace("</", "<\\/")))  # no </script> in the script
        app = page.frame_locator("iframe")
        app.locator("#run:not([hidden])").wait_for()
        assert app.locator("#state").text_content() == "ok"
        rows = app.locator("tr.call")
        assert rows.count() == 2
        assert rows.nth(0).locator("td.name").text_content() == "demo.list_orders"
        assert "error" in (rows.nth(1).locator("td").nth(1).text_content() or "")
        assert rows.nth(1).locator(".bar.error").count() == 1
        assert app.locator("#stdout").text_content() == "6 open orders\nno such customer\n"
        assert app.locator("#result").text_content() == "6"
        assert app.locator("#code").text_content() == CODE
        assert "tool calls" in (app.locator("#summary").text_content() or "")
        page.wait_for_function("window.lastSize && window.lastSize.height > 100")
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "serve-run-app.png"))
        log = page.evaluate("window.hostLog")
        assert log[:2] == ["ui/initialize", "ui/notifications/initialized"]
        # The app had no way out of its frame: an opaque origin, so the host's document is not its own.
        assert page.evaluate("document.querySelector('iframe').getAttribute('sandbox')") == "allow-scripts"
