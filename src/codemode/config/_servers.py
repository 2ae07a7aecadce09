"""The server entries: a stdio `command` or an HTTP `url`, and other clients' spellings of them.

`StdioServer` and `HttpServer` accept what Claude Desktop, VS Code, Cursor, Claude Code and
Gemini CLI write; `_normalize` turns a Gemini CLI entry (`httpUrl` is streamable HTTP, `url`
is SSE, `timeout` in milliseconds) into the common form before validation.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal, Union
from urllib.parse import urlsplit

from pydantic import (
    AliasChoices,
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    PrivateAttr,
    Tag,
    field_validator,
)

from codemode.config._oauth import OAuthSettings

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
    oauth: OAuthSettings | None = Field(
        None, description="How to sign in when the server asks (OAuth 2.1); None: only with tokens "
                          "from `codemode auth login`. See docs/auth.md."
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


_BOTH_PROBLEM = (
    "has both 'command' and 'url'; keep 'command' (with 'args') to start a local stdio server, "
    "or 'url' to reach one over streamable HTTP"
)
_NEITHER_PROBLEM = (
    "needs 'command' (with 'args') to start a local stdio server, "
    "or 'url' to reach one over streamable HTTP"
)


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

