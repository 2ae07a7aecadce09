"""Signing in where nobody types a command: `codemode serve` at its start (headless, `$BROWSER`
only), and a notebook cell whose sign-in a person abandons with the stop button.

The OAuth server is `oauth_server.py` (the SDK's server-side auth, its own authorization
server), started by `test_signin.py`'s fixture. The browsers are stand-ins run as `$BROWSER`:
`tests/conformance/browser.py` follows the redirect as a person who signs in does,
`refusing_browser.py` lands on the redirect URI with `access_denied`, and `true` opens
nothing (a person who never comes back).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import stat
import sys
from pathlib import Path
from typing import Any

import pytest
from test_signin import BROWSER, SRC, oauth_url, token_files  # noqa: F401 - oauth_url is a fixture

HERE = Path(__file__).parent
REFUSING_BROWSER = HERE / "refusing_browser.py"


def _config(directory: Path, url: str) -> Path:
    """The OAuth server beside the embedded demo server."""
    path = directory / "mcp.json"
    path.write_text(json.dumps({"mcpServers": {
        "api": {"url": url, "oauth": {}},
        "demo": {"command": sys.executable, "args": ["-m", "codemode.demo"]}}}))
    return path


def _serve(directory: Path, url: str, browser: str, code: str) -> tuple[Any, str]:
    """`codemode serve` over stdio, as an agent host starts it: run `code` with `execute`; the
    result, and what the server wrote to its stderr."""
    import anyio
    from mcp import Client
    from mcp.client.stdio import StdioServerParameters, stdio_client

    env = {k: v for k, v in os.environ.items() if k not in ("CODEMODE_CONFIG", "BROWSER")}
    env.update(PYTHONPATH=os.pathsep.join(filter(None, [SRC, env.get("PYTHONPATH")])),
               XDG_CONFIG_HOME=str(directory / "no-config"), XDG_STATE_HOME=str(directory / "state"),
               BROWSER=browser)
    params = StdioServerParameters(command=sys.executable, cwd=str(directory), env=env,
                                   args=["-m", "codemode", "serve", "--config", str(_config(directory, url))])
    errors = directory / "serve.stderr"

    async def main(errlog: Any) -> Any:
        async with Client(stdio_client(params, errlog=errlog), mode="legacy") as client:
            return await client.call_tool("execute", {"code": code})

    with open(errors, "w") as errlog:
        result = anyio.run(main, errlog)
    return result, errors.read_text()


@pytest.fixture
def url(oauth_url: str) -> str:  # noqa: F811 - the module's OAuth server, from test_signin
    return oauth_url


def test_codemode_serve_signs_in_to_an_upstream_at_start_with_only_a_browser_command(tmp_path: Path, url: str) -> None:
    result, errors = _serve(tmp_path, url, str(BROWSER), "api.counts()")
    assert not result.is_error, result.content[0].text
    assert json.loads(result.structured_content["result"])["scopes"] == ["tools.read"]
    # The link went where the operator reads (the server's stderr), never to the client's result.
    assert re.search(r"codemode: sign in to api: opening http://127\.0\.0\.1:\d+/authorize\?", errors), errors
    assert "authorize?" not in json.dumps(result.structured_content)
    [stored] = token_files(tmp_path)
    assert stat.S_IMODE(stored.stat().st_mode) == 0o600
    assert stat.S_IMODE(stored.parent.stat().st_mode) == 0o700


def test_codemode_serve_refuses_an_upstream_whose_sign_in_fails_and_says_why(tmp_path: Path, url: str) -> None:
    code = ("from codemode import ToolError\ntry:\n    api.counts()\nexcept ToolError as exc:\n    refused = exc\n"
            "refused.code, str(refused), demo.get_customer(customer_id=1)['name']")
    result, errors = _serve(tmp_path, url, str(REFUSING_BROWSER), code)
    assert not result.is_error, result.content[0].text
    # The other upstream serves on; the refused one's calls say why, with the server's own words.
    code_, message, name = result.structured_content["result"]
    assert (code_, name) == ("SERVER_UNAVAILABLE", "Anna Keller")
    assert "the sign-in failed: the person said no" in message, message
    assert "server 'api' is failed: the sign-in failed: the person said no" in errors, errors
    # The client's registration is kept (a later sign-in reuses it); no token is.
    assert all("tokens" not in json.loads(path.read_text()) for path in token_files(tmp_path))


def test_the_stop_button_ends_a_cell_that_waits_for_a_sign_in_and_the_sign_in_can_still_finish(
        tmp_path: Path, url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    import subprocess

    from kernels import Kernel

    _config(tmp_path, url)
    true = shutil.which("true")
    assert true is not None
    monkeypatch.setenv("BROWSER", true)  # the page opens, and nobody signs in yet
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    links: list[str] = []
    with Kernel(tmp_path) as kernel:
        kernel.run("%load_ext codemode")

        def stop_once_the_link_shows(kind: str, content: dict[str, Any]) -> None:
            found = re.search(r"sign in to api: opening (\S+)", str(content.get("text") or content.get("data")))
            if found and not links:
                links.append(found.group(1))
                kernel.manager.interrupt_kernel()

        # The cell would wait 300 s for the redirect; the kernel helper gives it 60 s in all.
        cell = kernel.execute("%%codemode\napi.counts()", on_output=stop_once_the_link_shows)
        assert links, cell.all_text
        assert cell.reply["status"] == "error", cell.all_text
        assert "interrupted while the servers connect" in cell.reply["evalue"], cell.all_text
        # The kernel is free at once; the sign-in goes on in the background, as the servers'
        # start does, so the tab the person left open can still finish it...
        assert kernel.run("1 + 1").value == "2"
        subprocess.run([sys.executable, str(BROWSER), links[0]], check=True, timeout=60)
        # ...and the next cell uses it, with no new link.
        shown: list[str] = []
        after = kernel.run("%%codemode\napi.counts()", on_output=lambda kind, content: shown.append(str(content)))
        assert '"tools.read"' in after.all_text + str(after.updates), after.all_text  # the report, or its update
        assert not any("sign in to api" in text for text in shown), shown
        redirect = re.search(r"redirect_uri=http%3A%2F%2F127\.0\.0\.1%3A(\d+)", links[0])
        assert redirect is not None, links
        with socket.socket() as probe:  # the loopback listener closed with the sign-in
            assert probe.connect_ex(("127.0.0.1", int(redirect.group(1)))) != 0
    [stored] = token_files(tmp_path)
    assert "tokens" in json.loads(stored.read_text())
