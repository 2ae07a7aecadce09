"""The config files people already have, read as their clients document them: Claude Desktop,
Claude Code's `.mcp.json`, VS Code's `servers` with `inputs` and predefined variables, Cursor,
Gemini CLI (`httpUrl`, `url` meaning SSE, millisecond timeouts); legacy SSE servers reached
through the SDK's SSE client; disabled and unusable entries listed as what they are."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from _helpers import free_port

from codemode.config import HttpServer, StdioServer, load_config, parse_config
from codemode.engine import Session
from codemode.errors import ConfigError

PEERS = Path(__file__).resolve().parent / "peers" / "node_modules" / ".bin"
ENV = {"HOME": "/home/ada", "API_TOKEN": "t0k"}


def write(path: Path, data: object) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def test_claude_desktop_config() -> None:
    config = parse_config({"mcpServers": {
        "filesystem": {"command": "npx", "args": ["-y", "@modelcontextprotocol/server-filesystem", "/Users/ada/Desktop"]},
        "github": {"command": "docker", "args": ["run", "-i", "--rm", "ghcr.io/github/github-mcp-server"],
                   "env": {"GITHUB_PERSONAL_ACCESS_TOKEN": "${API_TOKEN}"}},
    }}, environ=ENV)
    assert isinstance(config.servers["filesystem"], StdioServer)
    assert config.servers["github"].env == {"GITHUB_PERSONAL_ACCESS_TOKEN": "t0k"}  # type: ignore[union-attr]


def test_claude_code_mcp_json_with_stdio_http_and_sse() -> None:
    config = parse_config({"mcpServers": {
        "local": {"type": "stdio", "command": "python", "args": ["server.py"], "env": {"LEVEL": "${LEVEL:-info}"}},
        "api": {"type": "http", "url": "https://api.example.test/mcp", "headers": {"Authorization": "Bearer ${API_TOKEN}"}},
        "old": {"type": "sse", "url": "https://old.example.test/sse"},
    }}, environ=ENV)
    assert config.servers["local"].env == {"LEVEL": "info"}  # type: ignore[union-attr]
    api, old = config.servers["api"], config.servers["old"]
    assert isinstance(api, HttpServer) and not api.sse and api.headers["Authorization"] == "Bearer t0k"
    assert isinstance(old, HttpServer) and old.sse


def test_vscode_servers_with_inputs_and_predefined_variables(tmp_path: Path) -> None:
    path = write(tmp_path / "project" / ".vscode" / "mcp.json", {
        "inputs": [{"type": "promptString", "id": "api-key", "description": "API key", "password": True}],
        "servers": {
            "fs": {"type": "stdio", "command": "npx",
                   "args": ["-y", "@modelcontextprotocol/server-filesystem", "${workspaceFolder}", "${userHome}/notes"]},
            "remote": {"type": "http", "url": "https://example.test/mcp",
                       "headers": {"Authorization": "Bearer ${input:api-key}"}},
        },
    })
    config = load_config(path, environ=ENV)
    assert config.servers["fs"].args[-2:] == [str(tmp_path / "project"), "/home/ada/notes"]  # type: ignore[union-attr]
    # An input prompt cannot be answered outside the editor: that server fails, alone, saying why.
    assert "remote" not in config.servers
    assert "${input:api-key}" in config.broken["remote"] and "environment variable" in config.broken["remote"]


def test_cursor_config() -> None:
    config = parse_config({"mcpServers": {
        "web": {"url": "http://localhost:3000/mcp", "headers": {"API_KEY": "${API_TOKEN}"}},
        "tool": {"command": "node", "args": ["/abs/path/server.js"], "env": {}},
    }}, environ=ENV)
    assert isinstance(config.servers["web"], HttpServer) and not config.servers["web"].sse
    assert isinstance(config.servers["tool"], StdioServer)


def test_gemini_cli_settings_with_http_url_sse_url_and_millisecond_timeouts(tmp_path: Path) -> None:
    path = write(tmp_path / ".gemini" / "settings.json", {"theme": "Default", "mcpServers": {
        "pythonTools": {"command": "python", "args": ["-m", "my_server"], "cwd": "./srv", "timeout": 15000, "trust": False},
        "httpServer": {"httpUrl": "http://localhost:3000/mcp", "timeout": 30000},
        "sseServer": {"url": "http://localhost:8080/sse"},
    }})
    config = load_config(path, environ=ENV)
    assert config.servers["pythonTools"].timeout == 15.0
    http, sse = config.servers["httpServer"], config.servers["sseServer"]
    assert isinstance(http, HttpServer) and http.url == "http://localhost:3000/mcp" and not http.sse
    assert http.timeout == 30.0  # 30000 ms, not 30,000 s
    assert isinstance(sse, HttpServer) and sse.sse


def test_one_unusable_entry_fails_that_server_only_and_all_unusable_fail_the_file() -> None:
    config = parse_config({"mcpServers": {"ok": {"command": "x"}, "bad": {"comand": "y"}}}, source="mcp.json")
    assert list(config.servers) == ["ok"]
    assert "'bad'" in config.broken["bad"] and "needs 'command'" in config.broken["bad"]
    with pytest.raises(ConfigError):
        parse_config({"mcpServers": {"bad": {"comand": "y"}}}, source="mcp.json")


def test_the_servers_command_lists_disabled_and_unusable_entries(tmp_path: Path) -> None:
    from test_cli import SRC, codemode_cli

    write(tmp_path / "mcp.json", {"mcpServers": {
        "shop": {"command": sys.executable, "args": ["-m", "codemode.demo"], "env": {"PYTHONPATH": SRC}},
        "later": {"command": "nothing-here", "disabled": True},
        "secret": {"url": "https://example.test/mcp", "headers": {"X": "${input:token}"}},
    }})
    done = codemode_cli("servers", cwd=tmp_path)
    assert done.returncode == 1, done.stderr  # a server could not be used
    assert "'secret'" in done.stderr and "${input:token}" in done.stderr
    rows = {line.split()[1]: line for line in done.stdout.splitlines()[2:]}
    assert "connected" in rows["shop"]
    assert "disabled" in rows["later"]
    assert "invalid" in rows["secret"] and "${input:token}" in rows["secret"]


@pytest.fixture
def sse_server() -> Iterator[str]:
    program = PEERS / "mcp-server-everything"
    if not program.exists():
        pytest.skip("the everything server is not installed: run `make peers`")
    port = free_port()
    process = subprocess.Popen([str(program), "sse"], env={**os.environ, "PORT": str(port)},
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stderr is not None
        for line in process.stderr:  # bounded by the server's start; it prints when listening
            if "running on port" in line:
                break
        # Keep reading its log, so a full pipe never blocks the server.
        threading.Thread(target=process.stderr.read, daemon=True).start()
        yield f"http://127.0.0.1:{port}/sse"
    finally:
        process.terminate()
        process.wait(timeout=10)
        if process.stderr is not None:
            process.stderr.close()


def test_a_legacy_sse_server_is_reached_through_the_sdks_sse_client(sse_server: str) -> None:
    config = parse_config({"mcpServers": {"legacy": {"type": "sse", "url": sse_server}}}, source=None)
    with Session(config) as session:
        session.start()
        state = session.servers["legacy"]
        assert state.status == "connected", state.error
        assert state.transport == "sse"
        report = session.run("legacy.echo(message='over sse')")
        assert report.ok, report.error
        assert "over sse" in json.dumps(report.value)
