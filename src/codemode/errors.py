"""The exceptions of jupyter-codemode, one root and one family per layer.

    CodemodeError
    ├── ConfigError                  a config file or value is wrong (path, server, field)
    ├── ServerError                  an MCP server could not be used (server)
    │   ├── ServerConnectError       it would not start or finish the handshake
    │   │   └── SignInRequiredError  it answered 401 and nothing says how to sign in
    │   └── ServerCrashedError       it died or closed the connection mid-session
    ├── ToolCallError                one tool call failed (server, tool, code)
    │   ├── UnknownToolError         no such tool (or server) in this session
    │   ├── InvalidArgumentsError    the arguments do not fit the tool's input schema
    │   ├── ToolTimeoutError         no answer within the call's timeout
    │   ├── UpstreamError            the server answered with an error
    │   └── NotRecordedError         a strict replay has no such call in its cassette
    └── SandboxError                 the worker process failed (code)
        ├── WorkerCrashedError       it died; its state is lost
        ├── CellTimeoutError         a cell ran past its time limit
        ├── IsolationError           a required isolation layer is missing
        └── ChannelError             it sent a frame the host refuses

Every error carries its context as attributes and builds its one-line message from them.
`code` is the stable, documented name of the condition that cell code sees on `ToolError`.
This module imports nothing outside the standard library: the worker side never imports it,
but `import codemode` does.
"""

from __future__ import annotations

__all__ = [
    "ChannelError",
    "CellTimeoutError",
    "CodemodeError",
    "ConfigError",
    "InvalidArgumentsError",
    "NotRecordedError",
    "IsolationError",
    "SandboxError",
    "ServerConnectError",
    "ServerCrashedError",
    "ServerError",
    "SignInRequiredError",
    "ToolCallError",
    "ToolTimeoutError",
    "UnknownToolError",
    "UpstreamError",
    "WorkerCrashedError",
]


class CodemodeError(Exception):
    """The root of every error this package raises on purpose."""

    code: str = "ERROR"


class ConfigError(CodemodeError):
    """A config file, or a value in it, is wrong."""

    code = "CONFIG"

    def __init__(
        self,
        problem: str,
        *,
        path: str | None = None,
        server: str | None = None,
        field: str | None = None,
    ) -> None:
        self.problem = problem
        self.path = path
        self.server = server
        self.field = field
        where = []
        if path:
            where.append(str(path))
        if server:
            where.append(f"server {server!r}")
        if field:
            where.append(f"field {field!r}")
        prefix = ", ".join(where)
        super().__init__(f"{prefix}: {problem}" if prefix else problem)


class ServerError(CodemodeError):
    """An MCP server could not be used."""

    code = "SERVER"

    def __init__(self, server: str, problem: str) -> None:
        self.server = server
        self.problem = problem
        super().__init__(f"MCP server {server!r}: {problem}")


class ServerConnectError(ServerError):
    """The server would not start, or did not finish the handshake."""

    code = "SERVER_CONNECT"


class SignInRequiredError(ServerConnectError):
    """The server answered 401 and neither its entry nor a stored sign-in says how to sign in."""

    code = "SIGN_IN_REQUIRED"

    def __init__(self, server: str) -> None:
        super().__init__(server, f"it asks to sign in (HTTP 401); run `codemode auth login {server}`, "
                                 "or add \"oauth\": {} to its entry to sign in when it asks")


class ServerCrashedError(ServerError):
    """The server died or closed the connection during the session."""

    code = "SERVER_CRASHED"


class ToolCallError(CodemodeError):
    """One tool call failed."""

    code = "TOOL_ERROR"

    def __init__(self, server: str, tool: str, problem: str) -> None:
        self.server = server
        self.tool = tool
        self.problem = problem
        super().__init__(f"{server}.{tool}: {problem}")


class UnknownToolError(ToolCallError):
    """The session has no such tool, or no such server."""

    code = "UNKNOWN_TOOL"


class InvalidArgumentsError(ToolCallError):
    """The arguments do not fit the tool's input schema."""

    code = "INVALID_ARGUMENTS"


class ToolTimeoutError(ToolCallError):
    """The server did not answer within the call's timeout."""

    code = "TIMEOUT"


class UpstreamError(ToolCallError):
    """The server answered the call with an error (a tool error or a protocol error)."""

    code = "UPSTREAM_ERROR"


class NotRecordedError(ToolCallError):
    """A strict replay has no recording of the call (the message shows the closest one)."""

    code = "NOT_RECORDED"


class SandboxError(CodemodeError):
    """The sandbox worker failed."""

    code = "SANDBOX"


class WorkerCrashedError(SandboxError):
    """The worker process died; the variables of earlier cells are lost."""

    code = "SANDBOX_CRASHED"


class CellTimeoutError(SandboxError):
    """A cell ran past its time limit."""

    code = "TIMEOUT"


class IsolationError(SandboxError):
    """An isolation layer the user required is not available here; nothing was run."""

    code = "ISOLATION"

    def __init__(self, missing: list[str], details: dict[str, str]) -> None:
        self.missing = missing
        reasons = "; ".join(f"{name}: {details.get(name) or 'not reported'}" for name in missing)
        super().__init__(f"required isolation missing ({reasons}); drop it from `require` to run without it")


class ChannelError(SandboxError):
    """The worker sent a frame the host refuses (too large, not JSON, unknown shape)."""

    code = "CHANNEL"
