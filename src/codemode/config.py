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
"""

from __future__ import annotations

import difflib
import functools
import json
import os
import re
import site
import sys
import sysconfig
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal, Union
from urllib.parse import urlsplit

from pydantic import (
    AliasChoices,
    PrivateAttr,
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    ValidationError,
    field_validator,
)

import codemode
from codemode.errors import ConfigError

__all__ = [
    "CONFIG_ENV_VAR",
    "CONFIG_FILE_NAME",
    "DEFAULT_CALL_TIMEOUT",
    "DEFAULT_APPROVAL_TIMEOUT",
    "DEFAULT_CELL_TIMEOUT",
    "Config",
    "HttpServer",
    "ServerConfig",
    "StdioServer",
    "demo_config",
    "find_config_file",
    "load_config",
    "parse_config",
]

CONFIG_ENV_VAR = "CODEMODE_CONFIG"
CONFIG_FILE_NAME = "mcp.json"

# Long enough for a slow search or a cold API; short enough that a stuck server does not hold
# a notebook cell for minutes. A server's own `timeout` overrides it.
DEFAULT_CALL_TIMEOUT = 60.0
# A cell usually makes several calls, some in sequence: two default calls' worth.
DEFAULT_CELL_TIMEOUT = 120.0
# Long enough to read a call's arguments and answer; shorter than a default cell, whose wall
# clock keeps running while the person decides.
DEFAULT_APPROVAL_TIMEOUT = 60.0

_MODE_DESCRIPTION = (
    "Protocol negotiation. 'legacy' opens with `initialize` and connects at once with every "
    "server we test; 'auto' first probes the 2026-07-28 `server/discover` request and stalls "
    "10 s on servers that silently ignore it, so it is opt-in."
)


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _ServerBase(_Model):
    mode: Literal["legacy", "auto"] = Field("legacy", description=_MODE_DESCRIPTION)
    timeout: float | None = Field(
        None, gt=0, description="Seconds to wait for one tool call; None: `Config.call_timeout`."
    )
    disabled: bool = Field(False, description="Keep the entry but do not connect the server.")
    connect_timeout: float | None = Field(
        None, gt=0, validation_alias=AliasChoices("connectTimeout", "connect_timeout"),
        description="Seconds to start and connect (`connectTimeout`); None: 60 (a first `npx` run is slow)."
    )
    description: str | None = Field(None, description="A note for people (Gemini CLI, others); unused.")
    trust: bool | None = Field(
        None, description="Gemini CLI's confirmation bypass; ignored: approvals follow codemode's own policy."
    )


class StdioServer(_ServerBase):
    """A server the host starts as a subprocess and talks to over its stdin and stdout."""

    command: str = Field(
        min_length=1, description="The program to run (a path or a name on PATH)."
    )
    args: list[str] = Field(default_factory=list, description="Its command-line arguments.")
    env: dict[str, str] = Field(
        default_factory=dict, description="Environment variables for it, over the inherited ones."
    )
    cwd: str | None = Field(None, description="Its working directory; None inherits the host's.")
    type: Literal["stdio"] | None = Field(
        None, description="Accepted as VS Code writes it; only 'stdio'."
    )
    transport: Literal["stdio"] | None = Field(
        None, description="Accepted as other clients write it; only 'stdio'."
    )
    # Set only by `demo_config()`: "module:function" building an SDK server object that the
    # hub serves in this process (no second interpreter importing the SDK). A config file
    # naming `python -m codemode.demo` gets a real stdio server; files cannot set this.
    _in_process: str | None = PrivateAttr(None)

    @property
    def in_process(self) -> str | None:
        """The "module:function" of the server the hub builds in process, or None."""
        return self._in_process


class HttpServer(_ServerBase):
    """A server reached over HTTP at a URL: streamable HTTP, or the legacy SSE transport."""

    url: str = Field(description="The endpoint, an http:// or https:// URL.")
    headers: dict[str, str] = Field(
        default_factory=dict, description="HTTP headers sent with every request (Authorization)."
    )
    transport: Literal["http", "streamable-http", "sse"] = Field(
        "streamable-http", description="'http' and 'streamable-http' are the same; 'sse' is the legacy transport."
    )
    type: Literal["http", "streamable-http", "sse"] | None = Field(
        None, description="As VS Code and Claude Code write it ('http' or 'sse')."
    )

    @field_validator("transport", "type", mode="before")
    @classmethod
    def _lower(cls, value: object) -> object:
        return value.lower() if isinstance(value, str) else value

    @property
    def sse(self) -> bool:
        """True for the legacy HTTP+SSE transport (the SDK's `mcp.client.sse`)."""
        return "sse" in (self.transport, self.type)

    @field_validator("url")
    @classmethod
    def _require_http_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            scheme = f"scheme {parts.scheme!r}" if parts.scheme else "no scheme"
            raise ValueError(f"must be an http:// or https:// URL with a host (got {scheme})")
        return value


ServerConfig = StdioServer | HttpServer


def _server_kind(value: Any) -> str | None:
    """The union tag: 'stdio' for a `command`, 'http' for a `url`, None for both or neither."""
    if isinstance(value, BaseModel):
        return "stdio" if isinstance(value, StdioServer) else "http"
    if isinstance(value, Mapping) and ("command" in value) != ("url" in value):
        return "stdio" if "command" in value else "http"
    return None


_TaggedServer = Annotated[
    Union[Annotated[StdioServer, Tag("stdio")], Annotated[HttpServer, Tag("http")]],
    Discriminator(
        _server_kind,
        custom_error_type="server_kind",
        custom_error_message="a server needs either 'command' (stdio) or 'url' (streamable HTTP)",
    ),
]


class Config(_Model):
    """The servers to connect and the session's default limits."""

    servers: dict[str, _TaggedServer] = Field(description="The servers by name, in file order.")
    broken: dict[str, str] = Field(
        default_factory=dict,
        description="Entries that cannot be used, by name, with the problem: they fail alone.",
    )
    source: str | None = Field(
        None, description="The file this came from; None for the built-in demo."
    )
    call_timeout: float = Field(
        DEFAULT_CALL_TIMEOUT, gt=0, description="Default seconds per tool call (`callTimeout`)."
    )
    cell_timeout: float = Field(
        DEFAULT_CELL_TIMEOUT, gt=0, description="Default seconds per cell (`cellTimeout`)."
    )
    memory_mb: int | None = Field(
        4096, gt=0, description="Heap the worker may allocate, in MiB (`memoryMb`); null: no limit."
    )
    allow_subprocess: bool = Field(
        False, description="Let cell code start processes (`allowSubprocess`); off by default."
    )
    disk_mb: int | None = Field(
        1024, gt=0, description="Total size of the worker's work dir, in MiB (`diskMb`); null: no limit."
    )
    require: tuple[Literal["landlock", "seccomp"], ...] = Field(
        (), description="Isolation layers the worker must have, or refuse to run (`require`)."
    )
    max_tool_calls: int | None = Field(
        None, gt=0, description="The most tool calls one run may make (`maxToolCalls`); null: no cap."
    )
    max_output: int | None = Field(
        None, gt=0, description="Characters of stdout (and of stderr) a run keeps (`maxOutput`)."
    )
    tools: tuple[str, ...] | None = Field(
        None, description="Allow-list of `server.tool` patterns, shell wildcards (`tools`); null: all."
    )
    workdir: str | None = Field(
        None, description="A directory the worker uses as its read-write work dir (`workdir`)."
    )
    allow_read: tuple[str, ...] = Field(
        (), description="Extra paths the worker may read, read-only (`allowRead`)."
    )
    cassette: str | None = Field(
        None, description="A cassette file of tool lists and calls (`cassette`), relative to the config."
    )
    cassette_mode: Literal["record", "replay", "auto"] | None = Field(
        None, description="`cassetteMode`: record, replay, or auto (replay what is recorded, record the "
        "rest); replay when only `cassette` is set."
    )
    redact: tuple[str, ...] = Field(
        (), description="Regular expressions replaced before a cassette or an audit line is written "
        "(`redact`); the values `${VAR}` references expanded to are always replaced."
    )
    approve: Literal["destructive", "all", "none"] | tuple[str, ...] = Field(
        "destructive",
        description="Which calls need a person's yes (`approve`): 'destructive' (MCP annotations, "
        "with the spec's defaults), 'all', 'none', or a list of `server.tool` patterns.",
    )
    preapproved: tuple[str, ...] = Field(
        (), description="`server.tool` patterns that never ask (`preapproved`)."
    )
    approval_timeout: float = Field(
        DEFAULT_APPROVAL_TIMEOUT, gt=0,
        description="Seconds to wait for an answer before the call is refused (`approvalTimeout`).",
    )
    audit: str | Literal[False] | None = Field(
        None, description="A JSON Lines audit file (`audit`); false: off; null: the face's default "
        "(on for `codemode serve`, under the user's state directory; off elsewhere).",
    )
    audit_arguments: bool = Field(
        False, description="Write the calls' arguments, redacted, to the audit file (`auditArguments`)."
    )
    secrets: tuple[str, ...] = Field(
        (), repr=False, exclude=True,
        description="Values that came from `${VAR}` expansion: redacted like `redact` matches.",
    )
    # `codemode serve`: its client sessions, warm workers and per-session limits.
    session_idle: float = Field(
        900.0, gt=0, description="Seconds a served client session may idle before its worker is reclaimed (`sessionIdle`)."
    )
    pool_size: int = Field(2, ge=0, description="Warm workers `codemode serve` keeps for new sessions (`poolSize`).")
    max_executes: int | None = Field(
        None, gt=0, description="The most `execute` calls one served session may make (`maxExecutes`); null: no cap."
    )
    max_session_tool_calls: int | None = Field(
        None, gt=0, description="The most tool calls one served session may make (`maxSessionToolCalls`); null: no cap."
    )
    max_code_chars: int = Field(
        100_000, gt=0, description="The longest code an `execute` call may send, in characters (`maxCodeChars`)."
    )
    max_sessions: int | None = Field(
        None, gt=0, description="Served sessions that may hold a worker at once (`maxSessions`); null: no cap."
    )

    @field_validator("servers")
    @classmethod
    def _names_not_empty(cls, value: dict[str, ServerConfig]) -> dict[str, ServerConfig]:
        if any(not name.strip() for name in value):
            raise ValueError("a server name is empty")
        return value

    def enabled(self) -> dict[str, ServerConfig]:
        """The servers that are not `disabled`, in file order."""
        return {name: server for name, server in self.servers.items() if not server.disabled}


class _Settings(_Model):
    """The optional top-level `codemode` object of a config file."""

    call_timeout: float = Field(DEFAULT_CALL_TIMEOUT, gt=0, alias="callTimeout")
    cell_timeout: float = Field(DEFAULT_CELL_TIMEOUT, gt=0, alias="cellTimeout")
    memory_mb: int | None = Field(4096, gt=0, alias="memoryMb")
    allow_subprocess: bool = Field(False, alias="allowSubprocess")
    disk_mb: int | None = Field(1024, gt=0, alias="diskMb")
    require: tuple[Literal["landlock", "seccomp"], ...] = Field((), alias="require")
    max_tool_calls: int | None = Field(None, gt=0, alias="maxToolCalls")
    max_output: int | None = Field(None, gt=0, alias="maxOutput")
    tools: tuple[str, ...] | None = Field(None, alias="tools")
    workdir: str | None = Field(None, alias="workdir")
    allow_read: tuple[str, ...] = Field((), alias="allowRead")
    cassette: str | None = Field(None, alias="cassette")
    cassette_mode: Literal["record", "replay", "auto"] | None = Field(None, alias="cassetteMode")
    redact: tuple[str, ...] = Field((), alias="redact")
    session_idle: float = Field(900.0, gt=0, alias="sessionIdle")
    pool_size: int = Field(2, ge=0, alias="poolSize")
    max_executes: int | None = Field(None, gt=0, alias="maxExecutes")
    max_session_tool_calls: int | None = Field(None, gt=0, alias="maxSessionToolCalls")
    max_code_chars: int = Field(100_000, gt=0, alias="maxCodeChars")
    max_sessions: int | None = Field(None, gt=0, alias="maxSessions")
    approve: Literal["destructive", "all", "none"] | tuple[str, ...] = Field("destructive", alias="approve")
    preapproved: tuple[str, ...] = Field((), alias="preapproved")
    approval_timeout: float = Field(DEFAULT_APPROVAL_TIMEOUT, gt=0, alias="approvalTimeout")
    audit: str | Literal[False] | None = Field(None, alias="audit")
    audit_arguments: bool = Field(False, alias="auditArguments")


# ---------------------------------------------------------------------------------------------
# Finding and reading the file


def find_config_file(
    path: str | os.PathLike[str] | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> Path | None:
    """The config file `load_config` would read, following the search order of this module.

    Args:
        path: An explicit file; relative paths are taken from `cwd`.
        environ: The environment to read `CODEMODE_CONFIG`, `XDG_CONFIG_HOME` and `HOME` from
            (default `os.environ`).
        cwd: The working directory for `./mcp.json` (default the process's).

    Returns:
        The path, or None when no file is found (then the demo config applies).

    Raises:
        ConfigError: `path` or `$CODEMODE_CONFIG` names a file that does not exist.
    """
    env = os.environ if environ is None else environ
    base = Path.cwd() if cwd is None else Path(cwd)
    if path is not None:
        explicit = _resolve(os.fspath(path), base, env)
        return _existing_file(explicit, "create it or pass another path")
    named = env.get(CONFIG_ENV_VAR)
    if named:
        advice = f"it is named by ${CONFIG_ENV_VAR}; create it or unset the variable"
        return _existing_file(_resolve(named, base, env), advice)
    for candidate in (base / CONFIG_FILE_NAME, _user_config_dir(env) / CONFIG_FILE_NAME):
        if candidate.is_file():
            return candidate
    return None


def load_config(
    path: str | os.PathLike[str] | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> Config:
    """Find, read and validate the config; the demo config when there is no file.

    Args:
        path: An explicit file, searched for as this module's docstring says when None.
        environ: The environment for the search and for `${VAR}` (default `os.environ`).
        cwd: The working directory for `./mcp.json` and a relative `path`.

    Returns:
        The config, with `source` naming the file read (None for the demo).

    Raises:
        ConfigError: The file is missing (when named), unreadable, not JSON, or invalid.
    """
    env = os.environ if environ is None else environ
    found = find_config_file(path, environ=env, cwd=cwd)
    if found is None:
        return demo_config()
    return parse_config(_read_json(found), source=str(found), environ=env)


def _resolve(text: str, base: Path, environ: Mapping[str, str]) -> Path:
    return base / _expand_user(text, environ)


def _existing_file(path: Path, advice: str) -> Path:
    if not path.is_file():
        problem = "is a directory, not a file" if path.is_dir() else "no such file"
        raise ConfigError(f"{problem}; {advice}", path=str(path))
    return path


def _user_config_dir(environ: Mapping[str, str]) -> Path:
    xdg = environ.get("XDG_CONFIG_HOME", "")
    # The XDG spec says to ignore a relative value.
    base = Path(xdg) if os.path.isabs(xdg) else Path(_home(environ)) / ".config"
    return base / "codemode"


def _read_json(path: Path) -> object:
    try:
        text = path.read_text(encoding="utf-8-sig")  # -sig: Windows editors write a BOM
    except UnicodeDecodeError as exc:
        raise ConfigError("the file is not UTF-8 text", path=str(path)) from exc
    except OSError as exc:
        raise ConfigError(f"cannot read the file: {exc.strerror or exc}", path=str(path)) from exc
    try:
        return json.loads(_blank_jsonc(text))
    except json.JSONDecodeError as exc:
        raise ConfigError(
            f"invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}", path=str(path)
        ) from exc


def _blank_jsonc(text: str) -> str:
    """Blank out comments and trailing commas (VS Code's JSONC), keeping every line and column."""
    out = list(text)
    i, n, comma = 0, len(text), -1
    while i < n:
        if text[i] == '"':
            comma, i = -1, _string_end(text, i)
            continue
        end = _comment_end(text, i)
        if end is not None:
            out[i:end] = [c if c == "\n" else " " for c in text[i:end]]
            i = end
            continue
        if text[i] in "}]" and comma >= 0:
            out[comma] = " "
        if text[i] == ",":
            comma = i
        elif not text[i].isspace():
            comma = -1
        i += 1
    return "".join(out)


def _comment_end(text: str, start: int) -> int | None:
    """The index just past the comment that opens at `start`, or None if none opens there."""
    if text.startswith("//", start):
        end = text.find("\n", start)
        return len(text) if end < 0 else end
    if text.startswith("/*", start):
        end = text.find("*/", start + 2)
        return None if end < 0 else end + 2  # an unclosed /* stays, for json to report
    return None


def _string_end(text: str, start: int) -> int:
    """The index just past the JSON string that opens at `start`."""
    i = start + 1
    while i < len(text):
        if text[i] == "\\":
            i += 2
        elif text[i] == '"':
            return i + 1
        else:
            i += 1
    return len(text)


# ---------------------------------------------------------------------------------------------
# Validating the JSON

_BOTH_PROBLEM = (
    "has both 'command' and 'url'; keep 'command' (with 'args') to start a local stdio server, "
    "or 'url' to reach one over streamable HTTP"
)
_NEITHER_PROBLEM = (
    "needs 'command' (with 'args') to start a local stdio server, "
    "or 'url' to reach one over streamable HTTP"
)


def parse_config(
    data: object,
    *,
    source: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> Config:
    """Validate already-loaded JSON in the file format into a `Config`.

    Args:
        data: The parsed file: an object with `mcpServers` (or `servers`) and maybe `codemode`.
        source: The file it came from, named in errors and kept as `Config.source`.
        environ: The environment for `${VAR}` (default `os.environ`).

    Returns:
        The config, variables expanded, with `source` as given.

    Raises:
        ConfigError: The data does not describe valid servers; it names the server and field.
    """
    env = os.environ if environ is None else environ
    if not isinstance(data, Mapping):
        problem = "the top level must be an object with 'mcpServers' (or 'servers')"
        raise ConfigError(f"{problem}, not {_json_type(data)}", path=source)
    table = _servers_table(data, source)
    settings = _parse_settings(data.get("codemode"), source)
    secrets: list[str] = []
    dialect = _dialect(table, source)
    servers: dict[str, ServerConfig] = {}
    broken: dict[str, str] = {}
    failures: list[ConfigError] = []
    for name, raw in table.items():
        try:
            servers[name] = _parse_server(name, _normalize(raw, dialect), source, env, secrets)
        except ConfigError as exc:  # one unusable entry fails that server only
            broken[name] = str(exc)
            failures.append(exc)
    if failures and not servers:
        raise failures[0]  # nothing usable: the file is the problem
    return Config(
        servers=servers,
        broken=broken,
        source=source,
        call_timeout=settings.call_timeout,
        cell_timeout=settings.cell_timeout,
        memory_mb=settings.memory_mb,
        allow_subprocess=settings.allow_subprocess,
        disk_mb=settings.disk_mb,
        require=settings.require,
        max_tool_calls=settings.max_tool_calls,
        max_output=settings.max_output,
        tools=settings.tools,
        workdir=settings.workdir,
        allow_read=settings.allow_read,
        cassette=settings.cassette,
        cassette_mode=settings.cassette_mode,
        redact=settings.redact,
        **{name: getattr(settings, name) for name in _SERVE_SETTINGS},
        approve=settings.approve,
        preapproved=settings.preapproved,
        approval_timeout=settings.approval_timeout,
        audit=_expand_user(settings.audit, env) if settings.audit else settings.audit,
        audit_arguments=settings.audit_arguments,
        secrets=tuple(sorted(set(secrets), key=len, reverse=True)),
    )


_SERVE_SETTINGS = ("session_idle", "pool_size", "max_executes", "max_session_tool_calls", "max_code_chars",
                   "max_sessions")


def _servers_table(data: Mapping[str, object], source: str | None) -> Mapping[str, object]:
    keys = [key for key in ("mcpServers", "servers") if key in data]
    if not keys:
        raise ConfigError(
            "no 'mcpServers' (or 'servers') object; write "
            '{"mcpServers": {"NAME": {"command": "...", "args": [...]}}}',
            path=source,
        )
    if len(keys) > 1:
        raise ConfigError("has both 'mcpServers' and 'servers'; keep one", path=source)
    table = data[keys[0]]
    if not isinstance(table, Mapping):
        problem = f"must be an object of servers by name, not {_json_type(table)}"
        raise ConfigError(problem, path=source, field=keys[0])
    for name in table:
        if not isinstance(name, str) or not name.strip():
            raise ConfigError("a server has an empty name; give it one", path=source, field=keys[0])
    return table


def _dialect(table: Mapping[str, object], source: str | None) -> str:
    """"gemini" for a Gemini CLI settings file (timeouts in milliseconds, `url` meaning SSE,
    `httpUrl` meaning streamable HTTP), else "mcp" (every other client's format)."""
    in_gemini_dir = source is not None and Path(source).parent.name == ".gemini"
    has_http_url = any(isinstance(raw, Mapping) and "httpUrl" in raw for raw in table.values())
    return "gemini" if in_gemini_dir or has_http_url else "mcp"


def _normalize(raw: object, dialect: str) -> object:
    """A Gemini CLI entry in the common format: `httpUrl` -> `url`, `url` -> SSE, ms -> s."""
    if dialect != "gemini" or not isinstance(raw, Mapping):
        return raw
    out = dict(raw)
    if "httpUrl" in out and "url" not in out:
        out["url"] = out.pop("httpUrl")
        out.setdefault("type", "http")
    elif "url" in out:
        out.setdefault("type", "sse")
    timeout = out.get("timeout")
    if isinstance(timeout, (int, float)) and not isinstance(timeout, bool):
        out["timeout"] = timeout / 1000  # Gemini CLI writes milliseconds
    return out


def _parse_settings(raw: object, source: str | None) -> _Settings:
    if raw is None:
        return _Settings()
    if not isinstance(raw, Mapping):
        problem = f"must be an object, not {_json_type(raw)}"
        raise ConfigError(problem, path=source, field="codemode")
    try:
        return _Settings.model_validate(raw)
    except ValidationError as exc:
        raise _from_validation(exc, _Settings, path=source, server=None, prefix="codemode") from exc


def _parse_server(
    name: str, raw: object, source: str | None, environ: Mapping[str, str], secrets: list[str]
) -> ServerConfig:
    if not isinstance(raw, Mapping):
        problem = f"must be an object with 'command' or 'url', not {_json_type(raw)}"
        raise ConfigError(problem, path=source, server=name)
    kind = _server_kind(raw)
    if kind is None:
        problem = _BOTH_PROBLEM if "command" in raw else _NEITHER_PROBLEM
        raise ConfigError(problem, path=source, server=name)
    model: type[StdioServer] | type[HttpServer] = StdioServer if kind == "stdio" else HttpServer
    expanded = _expand_server(raw, environ, source, name, secrets)
    try:
        return model.model_validate(expanded)
    except ValidationError as exc:
        raise _from_validation(exc, model, path=source, server=name) from exc


def _from_validation(
    exc: ValidationError,
    model: type[BaseModel],
    *,
    path: str | None,
    server: str | None,
    prefix: str | None = None,
) -> ConfigError:
    """The first of pydantic's errors as a one-line ConfigError with a dotted field path."""
    errors = exc.errors(include_url=False)
    first = errors[0]
    loc = ".".join(str(part) for part in first["loc"])
    field = ".".join(part for part in (prefix, loc) if part) or None
    problem = _describe(first, model)
    if len(errors) > 1:
        more = len(errors) - 1
        problem += f" (and {more} more problem{'s' if more > 1 else ''})"
    return ConfigError(problem, path=path, server=server, field=field)


def _describe(error: Any, model: type[BaseModel]) -> str:
    kind: str = error["type"]
    value = error.get("input")
    if kind == "extra_forbidden":
        name = str(error["loc"][-1])
        known = [info.alias or field for field, info in model.model_fields.items()]
        close = difflib.get_close_matches(name, known, n=1)
        hint = f"did you mean {close[0]!r}?" if close else f"the fields are {', '.join(known)}"
        return f"unknown field {name!r}; {hint}"
    if kind == "missing":
        return "this field is required"
    if kind == "value_error":
        return str(error["ctx"]["error"])
    if kind == "literal_error" and isinstance(value, str):
        return f"{error['msg']}, not {value!r}"
    if kind.endswith("_type") or kind == "literal_error":
        # The kind of value only: the value itself may be a secret in the wrong field.
        return f"{error['msg']}, not {_json_type(value)}"
    return str(error["msg"])


def _json_type(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, (list, tuple)):
        return "an array"
    if isinstance(value, Mapping):
        return "an object"
    return type(value).__name__


# ---------------------------------------------------------------------------------------------
# Variables and ~

# `${VAR}` values shorter than this are not treated as secrets (see `_expand`).
MIN_SECRET_CHARS = 4

# `$$`, or `${...}`, or a `${` that is never closed (group 1 is None then).
_REFERENCE = re.compile(r"\$(?:\$|\{([^}]*)\}|\{)")
_VARIABLE = re.compile(r"(?:env:)?([A-Za-z_][A-Za-z0-9_]*)(?::-(.*))?", re.DOTALL)


def _expand_server(
    raw: Mapping[str, object],
    environ: Mapping[str, str],
    source: str | None,
    server: str,
    secrets: list[str] | None = None,
) -> dict[str, object]:
    """A copy of a server's raw entry with variables and `~` expanded where the format allows;
    the values taken from the environment are added to `secrets`."""

    def expand(value: object, field: str) -> object:
        if not isinstance(value, str):
            return value  # a wrong type is left for pydantic to report
        return _expand(value, environ, path=source, server=server, field=field, secrets=secrets)

    out = dict(raw)
    for key in ("command", "cwd", "url"):
        if key in out:
            out[key] = expand(out[key], key)
    args = out.get("args")
    if isinstance(args, list):
        out["args"] = [expand(item, f"args.{i}") for i, item in enumerate(args)]
    for key in ("env", "headers"):
        table = out.get(key)
        if isinstance(table, Mapping):
            out[key] = {k: expand(v, f"{key}.{k}") for k, v in table.items()}
    for key in ("command", "cwd"):
        value = out.get(key)
        if isinstance(value, str):
            out[key] = _expand_user(value, environ)
    return out


def _expand(
    text: str,
    environ: Mapping[str, str],
    *,
    path: str | None,
    server: str | None,
    field: str,
    secrets: list[str] | None = None,
) -> str:
    """`text` with `${NAME}`, `${NAME:-default}` and `$$` replaced (see the module docstring)."""

    def fail(problem: str) -> ConfigError:
        return ConfigError(problem, path=path, server=server, field=field)

    predefined = _predefined(path, environ)

    def replace(match: re.Match[str]) -> str:
        token, body = match.group(0), match.group(1)
        if token == "$$":
            return "$"
        if body is None:
            raise fail("'${' is not closed; write ${NAME}, or $$ for a literal '$'")
        if body in predefined:
            return predefined[body]
        ref = _VARIABLE.fullmatch(body)
        if ref is None:
            if body.startswith("input:"):
                raise fail(
                    f"VS Code input prompts ({token}) cannot be answered here; "
                    "put the value in an environment variable and write ${NAME} instead"
                )
            raise fail(
                f"{token!r} is not a variable; write ${{NAME}} or ${{NAME:-default}}, or $$ for '$'"
            )
        name, default = ref.groups()
        value = environ.get(name)
        if default is not None and not value:
            return default
        if value is None:
            raise fail(
                f"environment variable {name} is not set; set it, "
                f"or write ${{{name}:-default}} to give a default"
            )
        # A value from the environment may be a token: audit files and cassettes redact it.
        # Shorter ones would blank out every matching digit or word and protect nothing.
        if secrets is not None and len(value) >= MIN_SECRET_CHARS:
            secrets.append(value)
        return value

    return _REFERENCE.sub(replace, text)


def _predefined(path: str | None, environ: Mapping[str, str]) -> dict[str, str]:
    """VS Code's predefined variables that mean something outside the editor.

    `${workspaceFolder}` is the folder that holds `.vscode/mcp.json` (or the config file's
    own folder); `${userHome}` is the home directory; `${pathSeparator}` is `/` or `\\`.
    """
    found = {"userHome": _home(environ), "pathSeparator": os.sep, "/": os.sep}
    if path is not None:
        folder = Path(path).resolve().parent
        if folder.name == ".vscode":
            folder = folder.parent
        found["workspaceFolder"] = str(folder)
        found["workspaceFolderBasename"] = folder.name
    return found


def _expand_user(text: str, environ: Mapping[str, str]) -> str:
    if text == "~" or text.startswith(("~/", "~" + os.sep)):
        return _home(environ) + text[1:]
    if text.startswith("~"):
        return os.path.expanduser(text)  # ~user/...
    return text


def _home(environ: Mapping[str, str]) -> str:
    return environ.get("HOME") or str(Path.home())


# ---------------------------------------------------------------------------------------------
# The demo


def demo_config() -> Config:
    """The built-in config: the demo server shipped in the package, run by this interpreter.

    The child gets `PYTHONPATH` only when `codemode` would not import without it (a source
    checkout run with `PYTHONPATH=src`); an installed package needs nothing.
    """
    env: dict[str, str] = {}
    parent = _norm(os.path.dirname(os.path.dirname(codemode.__file__ or __file__)))
    if parent not in _default_import_dirs():
        env["PYTHONPATH"] = parent
    demo = StdioServer(command=sys.executable, args=["-m", "codemode.demo"], env=env)
    demo._in_process = "codemode.demo:build_server"  # named, not imported: the demo is no layer
    return Config(servers={"demo": demo}, source=None)


@functools.cache
def _default_import_dirs() -> frozenset[str]:
    """Where a fresh run of this interpreter imports from, with no PYTHONPATH.

    The MCP SDK starts stdio servers in a minimal environment without PYTHONPATH, so what
    counts is the interpreter's own path: the standard library, site-packages, and the
    directories `.pth` files there add (editable installs). Missing one only costs a redundant
    PYTHONPATH entry, never a failed import.
    """
    paths = sysconfig.get_paths()
    dirs = {paths[key] for key in ("stdlib", "platstdlib", "purelib", "platlib") if key in paths}
    sites = list(site.getsitepackages())
    if site.ENABLE_USER_SITE:
        sites.append(site.getusersitepackages())
    for directory in sites:
        dirs.add(directory)
        dirs.update(_pth_dirs(Path(directory)))
    return frozenset(_norm(d) for d in dirs)


def _pth_dirs(site_dir: Path) -> list[str]:
    """The directories the `.pth` files of a site directory add to sys.path."""
    found: list[str] = []
    try:
        pth_files = sorted(site_dir.glob("*.pth"))
    except OSError:
        return found
    for pth in pth_files:
        try:
            lines = pth.read_text(encoding="utf-8", errors="replace").splitlines()
        except OSError:
            continue
        for line in (raw.strip() for raw in lines):
            if line and not line.startswith(("#", "import ", "import\t")):
                found.append(str(site_dir / line))
    return found


def _norm(path: str) -> str:
    return os.path.normcase(os.path.realpath(path))
