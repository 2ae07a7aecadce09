"""Tests of codemode.config: the mcpServers file, variables, the search order, the demo."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import BaseModel, ValidationError

from codemode.config import (
    Config,
    HttpServer,
    OAuthSettings,
    StdioServer,
    demo_config,
    find_config_file,
    load_config,
    parse_config,
)
from codemode.errors import ConfigError

# Generous: the child imports mcp (about 1.3 s) on a busy CI machine.
SPAWN_TIMEOUT = 60.0


def write(path: Path, data: object) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(data if isinstance(data, str) else json.dumps(data, indent=2), encoding="utf-8")
    return path


def config_error(data: object, environ: dict[str, str] | None = None) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        parse_config(data, source="/etc/mcp.json", environ=environ or {})
    return info.value


# --- file formats -----------------------------------------------------------------------------


def test_a_claude_desktop_file_loads_its_stdio_servers(tmp_path: Path) -> None:
    path = write(
        tmp_path / "claude_desktop_config.json",
        {
            "mcpServers": {
                "filesystem": {
                    "command": "npx",
                    "args": ["-y", "@modelcontextprotocol/server-filesystem", "/tmp"],
                },
                "memory": {
                    "command": "mcp-server-memory",
                    "env": {"MEMORY_FILE_PATH": "/tmp/m.json"},
                },
            },
            "globalShortcut": "Ctrl+Space",
        },
    )
    config = load_config(path, environ={})
    assert config.source == str(path)
    assert list(config.servers) == ["filesystem", "memory"]
    fs = config.servers["filesystem"]
    assert isinstance(fs, StdioServer)
    assert fs.command == "npx"
    assert fs.args == ["-y", "@modelcontextprotocol/server-filesystem", "/tmp"]
    assert fs.env == {} and fs.cwd is None
    assert fs.mode == "legacy" and fs.timeout is None and not fs.disabled
    memory = config.servers["memory"]
    assert isinstance(memory, StdioServer)
    assert memory.env == {"MEMORY_FILE_PATH": "/tmp/m.json"}
    assert config.call_timeout == 60.0 and config.cell_timeout == 120.0


def test_a_vscode_file_with_type_fields_and_inputs_loads(tmp_path: Path) -> None:
    path = write(
        tmp_path / ".vscode" / "mcp.json",
        {
            "inputs": [
                {"type": "promptString", "id": "token", "description": "Token", "password": True}
            ],
            "servers": {
                "time": {
                    "type": "stdio",
                    "command": "mcp-server-time",
                    "args": ["--local-timezone", "UTC"],
                },
                "remote": {"type": "http", "url": "https://example.com/mcp"},
            },
        },
    )
    config = load_config(path, environ={})
    time, remote = config.servers["time"], config.servers["remote"]
    assert isinstance(time, StdioServer) and time.type == "stdio"
    assert isinstance(remote, HttpServer) and remote.type == "http"
    assert remote.transport == "streamable-http"


def test_an_http_server_gets_headers_and_streamable_http_by_default() -> None:
    entry = {"url": "http://127.0.0.1:8000/mcp", "headers": {"X-Key": "k"}, "timeout": 5}
    config = parse_config({"mcpServers": {"api": entry}}, source=None, environ={})
    api = config.servers["api"]
    assert isinstance(api, HttpServer)
    assert api.url == "http://127.0.0.1:8000/mcp"
    assert api.headers == {"X-Key": "k"}
    assert api.transport == "streamable-http"
    assert api.timeout == 5.0


def test_the_codemode_section_sets_the_default_timeouts() -> None:
    data = {"mcpServers": {}, "codemode": {"callTimeout": 30, "cellTimeout": 300}}
    config = parse_config(data, source=None, environ={})
    assert config.call_timeout == 30.0 and config.cell_timeout == 300.0


def test_comments_and_trailing_commas_are_accepted_as_vscode_accepts_them(tmp_path: Path) -> None:
    text = """{
      // my servers
      "servers": {
        /* local */ "t": {"command": "x", "args": ["a//b", "/*c*/",],},
      },
    }"""
    path = write(tmp_path / "mcp.json", text)
    server = load_config(path, environ={}).servers["t"]
    assert isinstance(server, StdioServer) and server.args == ["a//b", "/*c*/"]


def test_disabled_servers_are_left_out_of_enabled() -> None:
    config = parse_config(
        {"mcpServers": {"on": {"command": "a"}, "off": {"command": "b", "disabled": True}}},
        source=None,
        environ={},
    )
    assert list(config.servers) == ["on", "off"]
    assert list(config.enabled()) == ["on"]


def test_every_field_of_every_model_has_a_description() -> None:
    models: list[type[BaseModel]] = [StdioServer, HttpServer, OAuthSettings, Config]
    for model in models:
        for name, info in model.model_fields.items():
            assert info.description, f"{model.__name__}.{name}"
    assert "10 s" in (StdioServer.model_fields["mode"].description or "")


# --- variables ----------------------------------------------------------------------------------


def test_variables_expand_in_command_args_env_cwd_url_and_headers() -> None:
    environ = {"BIN": "/opt/bin", "ROOT": "/data", "TOKEN": "s3cret", "HOST": "h.example"}
    config = parse_config(
        {
            "mcpServers": {
                "local": {
                    "command": "${BIN}/server",
                    "args": ["--root", "${ROOT}", "--level=${LEVEL:-info}", "${env:ROOT}"],
                    "env": {"API_TOKEN": "${TOKEN}", "PRICE": "$$5 and $HOME"},
                    "cwd": "${ROOT}/work",
                },
                "remote": {
                    "url": "https://${HOST}/mcp",
                    "headers": {"Authorization": "Bearer ${TOKEN}"},
                },
            }
        },
        source=None,
        environ=environ,
    )
    local, remote = config.servers["local"], config.servers["remote"]
    assert isinstance(local, StdioServer) and isinstance(remote, HttpServer)
    assert local.command == "/opt/bin/server"
    assert local.args == ["--root", "/data", "--level=info", "/data"]
    assert local.env == {"API_TOKEN": "s3cret", "PRICE": "$5 and $HOME"}
    assert local.cwd == "/data/work"
    assert remote.url == "https://h.example/mcp"
    assert remote.headers == {"Authorization": "Bearer s3cret"}


def test_a_default_applies_when_the_variable_is_unset_or_empty() -> None:
    data = {"mcpServers": {"s": {"command": "x", "args": ["${A:-one}", "${B:-two}", "${C:-}"]}}}
    server = parse_config(data, source=None, environ={"B": ""}).servers["s"]
    assert isinstance(server, StdioServer)
    assert server.args == ["one", "two", ""]


def test_a_missing_variable_names_the_file_server_field_and_variable() -> None:
    entry = {"command": "gh-mcp", "env": {"GITHUB_TOKEN": "${GH_TOKEN}"}}
    err = config_error({"mcpServers": {"gh": entry}})
    assert err.path == "/etc/mcp.json"
    assert err.server == "gh"
    assert err.field == "env.GITHUB_TOKEN"
    assert "GH_TOKEN" in err.problem


def test_a_missing_variable_in_an_argument_names_its_index() -> None:
    err = config_error({"mcpServers": {"s": {"command": "x", "args": ["a", "${NOPE}"]}}})
    assert (err.server, err.field) == ("s", "args.1")


def test_a_vscode_input_reference_is_rejected_with_advice() -> None:
    entry = {"url": "https://h/mcp", "headers": {"K": "${input:token}"}}
    err = config_error({"servers": {"s": entry}})
    assert (err.server, err.field) == ("s", "headers.K")


def test_an_unclosed_reference_is_an_error() -> None:
    err = config_error({"mcpServers": {"s": {"command": "${BIN"}}})
    assert (err.server, err.field) == ("s", "command")


def test_tilde_expands_in_cwd_and_command_but_not_in_args() -> None:
    data = {"mcpServers": {"s": {"command": "~/bin/srv", "args": ["~/x"], "cwd": "${D:-~}/proj"}}}
    server = parse_config(data, source=None, environ={"HOME": "/home/ada"}).servers["s"]
    assert isinstance(server, StdioServer)
    assert server.command == "/home/ada/bin/srv"
    assert server.args == ["~/x"]
    assert server.cwd == "/home/ada/proj"


# --- mistakes -----------------------------------------------------------------------------------


def test_a_misspelled_field_suggests_the_right_one() -> None:
    err = config_error({"mcpServers": {"s": {"command": "x", "argz": ["a"]}}})
    assert (err.server, err.field) == ("s", "argz")
    assert "'args'" in err.problem
    assert isinstance(err.__cause__, ValidationError)


def test_a_misspelled_setting_suggests_the_right_one() -> None:
    err = config_error({"mcpServers": {}, "codemode": {"callTimout": 5}})
    assert err.field == "codemode.callTimout"
    assert "'callTimeout'" in err.problem


def test_a_wrong_type_names_the_dotted_field() -> None:
    err = config_error({"mcpServers": {"s": {"command": "x", "args": ["a", "b", 3]}}})
    assert (err.path, err.server, err.field) == ("/etc/mcp.json", "s", "args.2")
    assert "\n" not in str(err)


def test_a_server_with_both_command_and_url_is_rejected() -> None:
    err = config_error({"mcpServers": {"s": {"command": "x", "url": "https://h/mcp"}}})
    assert err.server == "s"


def test_a_server_with_neither_command_nor_url_is_rejected() -> None:
    err = config_error({"mcpServers": {"s": {"args": ["a"]}}})
    assert err.server == "s"


@pytest.mark.parametrize("key", ["type", "transport"])
def test_an_sse_server_is_the_legacy_http_transport(key: str) -> None:
    server = parse_config({"mcpServers": {"s": {"url": "https://h/sse", key: "SSE"}}}, source=None).servers["s"]
    assert isinstance(server, HttpServer) and server.sse


def test_a_url_must_be_http_or_https() -> None:
    err = config_error({"mcpServers": {"s": {"url": "ftp://h/mcp"}}})
    assert (err.server, err.field) == ("s", "url")


def test_an_empty_server_name_is_rejected() -> None:
    err = config_error({"mcpServers": {"": {"command": "x"}}})
    assert err.field == "mcpServers"


def test_a_file_without_mcpservers_or_servers_is_rejected(tmp_path: Path) -> None:
    path = write(tmp_path / "mcp.json", {"inputs": []})
    with pytest.raises(ConfigError) as info:
        load_config(path, environ={})
    assert info.value.path == str(path)


def test_invalid_json_reports_the_file_line_and_column(tmp_path: Path) -> None:
    path = write(tmp_path / "mcp.json", '{\n  "mcpServers": {\n    "s" {"command": "x"}\n  }\n}\n')
    with pytest.raises(ConfigError) as info:
        load_config(path, environ={})
    err = info.value
    assert err.path == str(path)
    assert isinstance(err.__cause__, json.JSONDecodeError)
    assert (err.__cause__.lineno, err.__cause__.colno) == (3, 9)
    assert "line 3, column 9" in str(err)


# --- search order -------------------------------------------------------------------------------


def make_candidates(tmp_path: Path) -> tuple[Path, dict[str, str], Path]:
    """A ./mcp.json, a $CODEMODE_CONFIG file and an XDG file, each with one server named for it."""
    work = tmp_path / "work"
    write(work / "mcp.json", {"mcpServers": {"cwd": {"command": "x"}}})
    named = write(tmp_path / "named.json", {"mcpServers": {"env": {"command": "x"}}})
    write(tmp_path / "xdg" / "codemode" / "mcp.json", {"mcpServers": {"xdg": {"command": "x"}}})
    environ = {
        "CODEMODE_CONFIG": str(named),
        "XDG_CONFIG_HOME": str(tmp_path / "xdg"),
        "HOME": str(tmp_path),
    }
    return work, environ, tmp_path / "explicit.json"


def test_an_explicit_path_wins_over_everything(tmp_path: Path) -> None:
    work, environ, explicit = make_candidates(tmp_path)
    write(explicit, {"mcpServers": {"explicit": {"command": "x"}}})
    assert list(load_config(explicit, environ=environ, cwd=work).servers) == ["explicit"]
    assert list(load_config("../explicit.json", environ=environ, cwd=work).servers) == ["explicit"]


def test_codemode_config_wins_over_the_working_directory(tmp_path: Path) -> None:
    work, environ, _ = make_candidates(tmp_path)
    assert list(load_config(environ=environ, cwd=work).servers) == ["env"]


def test_the_working_directory_wins_over_the_user_config_dir(tmp_path: Path) -> None:
    work, environ, _ = make_candidates(tmp_path)
    del environ["CODEMODE_CONFIG"]
    assert list(load_config(environ=environ, cwd=work).servers) == ["cwd"]


def test_the_user_config_dir_is_used_last(tmp_path: Path) -> None:
    work, environ, _ = make_candidates(tmp_path)
    del environ["CODEMODE_CONFIG"]
    (work / "mcp.json").unlink()
    assert list(load_config(environ=environ, cwd=work).servers) == ["xdg"]


def test_the_user_config_dir_defaults_to_dot_config_under_home(tmp_path: Path) -> None:
    expected = tmp_path / ".config" / "codemode" / "mcp.json"
    write(expected, {"mcpServers": {"home": {"command": "x"}}})
    found = find_config_file(environ={"HOME": str(tmp_path)}, cwd=tmp_path / "empty")
    assert found == expected


def test_the_demo_applies_when_no_file_is_found(tmp_path: Path) -> None:
    environ = {"HOME": str(tmp_path), "XDG_CONFIG_HOME": str(tmp_path / "xdg")}
    assert find_config_file(environ=environ, cwd=tmp_path) is None
    config = load_config(environ=environ, cwd=tmp_path)
    assert config == demo_config()
    assert config.source is None


def test_a_missing_explicit_path_is_an_error_naming_it(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path / "nope.json", environ={})
    assert info.value.path == str(tmp_path / "nope.json")


def test_a_missing_codemode_config_file_is_an_error_naming_it(tmp_path: Path) -> None:
    environ = {"CODEMODE_CONFIG": str(tmp_path / "gone.json"), "HOME": str(tmp_path)}
    with pytest.raises(ConfigError) as info:
        load_config(environ=environ, cwd=tmp_path)
    assert info.value.path == str(tmp_path / "gone.json")


# --- the demo -----------------------------------------------------------------------------------


def test_demo_config_runs_the_demo_with_this_interpreter() -> None:
    config = demo_config()
    assert config.source is None
    demo = config.servers["demo"]
    assert isinstance(demo, StdioServer)
    assert demo.command == sys.executable
    assert demo.args == ["-m", "codemode.demo"]


def test_the_demo_child_can_import_codemode_from_a_clean_directory(tmp_path: Path) -> None:
    demo = demo_config().servers["demo"]
    assert isinstance(demo, StdioServer)
    # Without the parent's PYTHONPATH, as the MCP SDK starts stdio servers.
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"} | demo.env
    done = subprocess.run(
        [demo.command, "-c", "import codemode"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        timeout=SPAWN_TIMEOUT,
    )
    assert done.returncode == 0, done.stderr.decode()


@pytest.mark.skipif(
    importlib.util.find_spec("codemode.demo") is None, reason="codemode.demo is not written yet"
)
def test_the_demo_command_starts(tmp_path: Path) -> None:
    demo = demo_config().servers["demo"]
    assert isinstance(demo, StdioServer)
    done = subprocess.run(
        [demo.command, *demo.args, "--help"],
        env={**os.environ, **demo.env},
        cwd=tmp_path,
        capture_output=True,
        timeout=SPAWN_TIMEOUT,
    )
    assert done.returncode == 0, done.stderr.decode()


def test_the_config_module_does_not_import_mcp() -> None:
    code = "import sys, codemode.config; sys.exit('mcp' in sys.modules)"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1] / "src")}
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, timeout=SPAWN_TIMEOUT
    )
    assert done.returncode == 0, done.stderr.decode()


def test_the_sandbox_settings_are_read_from_the_codemode_object() -> None:
    config = parse_config(
        {"mcpServers": {"t": {"command": "x"}},
         "codemode": {"memoryMb": 512, "allowSubprocess": True, "require": ["landlock", "seccomp"]}},
        source="f.json", environ={},
    )
    assert config.memory_mb == 512 and config.allow_subprocess and config.require == ("landlock", "seccomp")
    defaults = parse_config({"mcpServers": {"t": {"command": "x"}}}, source="f.json", environ={})
    assert defaults.memory_mb == 4096 and not defaults.allow_subprocess and defaults.require == ()


def test_an_unknown_required_layer_is_a_config_error() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config({"mcpServers": {"t": {"command": "x"}}, "codemode": {"require": ["selinux"]}},
                     source="f.json", environ={})
    assert caught.value.path == "f.json"


def test_a_file_whose_every_server_is_unusable_names_each_of_them() -> None:
    with pytest.raises(ConfigError) as raised:
        parse_config({"mcpServers": {"x": {"command": 5}, "y": {"url": 7}}}, source="mcp.json")
    assert str(raised.value) == (
        "mcp.json: none of its 2 servers is usable: server 'x', field 'command': Input should be a valid string, "
        "not a number; server 'y', field 'url': Input should be a valid string, not a number")
    with pytest.raises(ConfigError) as one:  # one entry: its own error, as before
        parse_config({"mcpServers": {"x": {"command": 5}}}, source="mcp.json")
    assert str(one.value) == "mcp.json, server 'x', field 'command': Input should be a valid string, not a number"


# --- oauth --------------------------------------------------------------------------------------


def _oauth(entry: dict[str, object], environ: dict[str, str] | None = None) -> OAuthSettings:
    config = parse_config({"mcpServers": {"api": {"url": "https://mcp.example/mcp", "oauth": entry}}},
                          source="mcp.json", environ=environ or {})
    server = config.servers["api"]
    assert isinstance(server, HttpServer) and server.oauth is not None
    return server.oauth


def test_an_empty_oauth_object_is_a_browser_sign_in_with_dynamic_registration() -> None:
    oauth = _oauth({})
    assert oauth.grant == "authorization_code" and oauth.client_id is None and oauth.scope is None


def test_a_pre_registered_client_takes_its_secret_from_a_variable_and_it_is_redacted() -> None:
    config = parse_config(
        {"mcpServers": {"api": {"url": "https://mcp.example/mcp",
                                "oauth": {"clientId": "app", "clientSecret": "${SECRET}", "scopes": ["read", "write"]}}}},
        environ={"SECRET": "very-secret-value"})
    server = config.servers["api"]
    assert isinstance(server, HttpServer) and server.oauth is not None
    assert server.oauth.client_secret == "very-secret-value" and server.oauth.scope == "read write"
    assert "very-secret-value" in config.secrets


def test_a_literal_private_key_is_redacted_too() -> None:
    pem = "-----BEGIN PRIVATE KEY-----\nabc\n-----END PRIVATE KEY-----"
    config = parse_config(
        {"mcpServers": {"m2m": {"url": "https://mcp.example/mcp",
                                "oauth": {"grant": "client_credentials", "clientId": "svc", "privateKey": pem,
                                          "signingAlgorithm": "ES256"}}}}, environ={})
    assert pem in config.secrets


def test_an_https_client_id_is_a_client_id_metadata_document() -> None:
    assert _oauth({"clientId": "https://app.example/client.json"}).metadata_document
    assert not _oauth({"clientId": "app"}).metadata_document


@pytest.mark.parametrize(("entry", "field", "words"), [
    ({"grant": "client_credentials", "clientId": "svc"}, "oauth", "clientSecret or privateKey"),
    ({"grant": "identity_assertion", "clientId": "a", "clientSecret": "b"}, "oauth", "'issuer'"),
    ({"grant": "password"}, "oauth.grant", "'password'"),
    ({"clientID": "x"}, "oauth.clientID", "did you mean 'clientId'?"),
    ({"privateKey": "pem"}, "oauth", "client_credentials"),
    ({"scopes": "read"}, "oauth.scopes", "not a string"),
])
def test_a_broken_oauth_entry_names_the_file_the_server_and_the_field(
        entry: dict[str, object], field: str, words: str) -> None:
    with pytest.raises(ConfigError) as caught:
        _oauth(entry)
    error = caught.value
    assert (error.path, error.server, error.field) == ("mcp.json", "api", field)
    assert words in error.problem
