"""Which MCP servers to connect, read from the `mcpServers` JSON that MCP users already have.

A config file is a JSON object with the servers under `mcpServers` (Claude Desktop, Cursor) or
`servers` (VS Code `mcp.json`), and our own settings under an optional `codemode` key:

    {"mcpServers": {"fs": {"command": "npx", "args": ["-y", "server-filesystem", "${HOME}"]},
                    "api": {"url": "https://example.com/mcp",
                            "headers": {"Authorization": "Bearer ${API_TOKEN}"}}},
     "codemode": {"callTimeout": 30, "cellTimeout": 120}}

Other top-level keys (VS Code's `inputs`) are ignored. `//` and `/* */` comments and trailing
commas are accepted, as VS Code accepts them in `mcp.json`. A server is a stdio `command`, or
a `url` reached over streamable HTTP or, with `"type": "sse"`, the legacy SSE transport.

Gemini CLI's settings (a file in `.gemini/`, or any file with an `httpUrl` entry) are read
as Gemini documents them: `httpUrl` is streamable HTTP, `url` is SSE, and `timeout` is in
milliseconds.

One unusable entry (a typo, a missing variable, a VS Code `${input:...}` prompt) fails that
server only: it is left out of `servers` and kept in `Config.broken` with its problem, so a
listing shows it. Only a file with no usable entry is an error.

Search order of `load_config()` when no path is given; the first hit wins:

1. `$CODEMODE_CONFIG` (an error if it names a file that does not exist),
2. `./mcp.json` in the working directory,
3. `$XDG_CONFIG_HOME/codemode/mcp.json` (default `~/.config/codemode/mcp.json`),
4. otherwise `demo_config()`: the demo server shipped in the package.

An explicit path that does not exist is an error too.

Variables: `${NAME}` in `command`, `args`, `env` values, `cwd`, `url` and `headers` values is
replaced by the environment variable NAME, and `${NAME:-default}` uses `default` when NAME is
unset or empty (as the shell does). VS Code's `${env:NAME}` spelling works the same, and so do
its `${workspaceFolder}` (the folder holding `.vscode/`, else the file's own folder),
`${userHome}` and `${pathSeparator}`. A missing
variable with no default is an error naming it. The escape is `$$`: it stands for a literal
`$`. A `$` not followed by `{` or `$` is kept as is, so `$HOME` is not expanded. After
variables, a leading `~` in `command` and `cwd` becomes the home directory.

Every problem is a `ConfigError` naming the file, the server and the dotted field (`args.2`);
pydantic's errors are mapped at this boundary and never reach the user. This module imports
pydantic (it runs on the host only) but nothing of `mcp`.

The package, one job per module: `_servers` (the server entries and other clients' spellings
of them), `_settings` (`Config` and the file's `codemode` object), `_variables` (`${VAR}` and
`~`), `_parse` (JSON to `Config`, errors mapped), `_files` (the search order and JSONC) and
`_demo` (the built-in config).
"""

from __future__ import annotations

from codemode.config._demo import demo_config
from codemode.config._files import (
    CONFIG_ENV_VAR,
    CONFIG_FILE_NAME,
    find_config_file,
    load_config,
)
from codemode.config._oauth import OAuthSettings
from codemode.config._parse import parse_config
from codemode.config._servers import HttpServer, ServerConfig, StdioServer
from codemode.config._settings import (
    DEFAULT_APPROVAL_TIMEOUT,
    DEFAULT_CALL_TIMEOUT,
    DEFAULT_CELL_TIMEOUT,
    Config,
)

__all__ = [
    "CONFIG_ENV_VAR",
    "CONFIG_FILE_NAME",
    "DEFAULT_CALL_TIMEOUT",
    "DEFAULT_APPROVAL_TIMEOUT",
    "DEFAULT_CELL_TIMEOUT",
    "Config",
    "HttpServer",
    "OAuthSettings",
    "ServerConfig",
    "StdioServer",
    "demo_config",
    "find_config_file",
    "load_config",
    "parse_config",
]
