"""How the hub reaches one server: the link it holds (client, stderr, events), the command
line that tethers a stdio server to us, and what a failed connect is reported as."""

from __future__ import annotations

import os
import shutil
import sys
import warnings
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import anyio

from codemode.config import ServerConfig, StdioServer
from codemode.errors import ServerConnectError, SignInRequiredError
from codemode.hub._state import LogRecord, ServerState

if TYPE_CHECKING:
    from mcp import Client

# A first `npx` run or a cold Python server (the SDK import alone is ~1.2 s) can be slow.
CONNECT_TIMEOUT = 60.0
STDERR_TAIL = 2000
TETHER = str(Path(__file__).with_name("_tether.py"))



def prepare(config: ServerConfig) -> Any:
    """Import the MCP SDK (about a second: pydantic model building) and, for the built-in
    demo, build its server (the shop's models and 13 tools: half a second more). Run on a
    thread at a server's first connect, so a run that calls no tool of a cached server never
    pays it. Returns the in-process server, or None."""
    import mcp  # noqa: F401
    from mcp.shared.exceptions import MCPDeprecationWarning

    # Logging, roots and sampling are deprecated in the 2026 protocol era; the SDK warns on use
    # of the deprecated surfaces, and such a warning must never land in a notebook cell.
    warnings.filterwarnings("ignore", category=MCPDeprecationWarning)
    if isinstance(config, StdioServer) and config.in_process:
        import importlib

        module, _, function = config.in_process.partition(":")
        return getattr(importlib.import_module(module), function)()
    return None


@dataclass
class Link:
    state: ServerState
    config: ServerConfig
    client: Client | None = None
    cached: dict[str, Any] | None = None  # its entry in the tool cache, when it had one
    errlog: IO[str] | None = None
    stop: anyio.Event = field(default_factory=anyio.Event)
    finished: anyio.Event = field(default_factory=anyio.Event)
    inflight: list[Callable[[LogRecord], None]] = field(default_factory=list)
    # Who answers a question the server asks (elicitation): the calls in flight, latest last.
    asking: list[Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]] = field(default_factory=list)
    reconnecting: anyio.Lock = field(default_factory=anyio.Lock)
    connecting: anyio.CancelScope | None = None  # while it connects: `aclose` cancels it
    unauthorized: bool = False  # it answered 401 and the hub had no way to sign in
    # The config's redaction (`trust.redact`): a server's stderr and connection errors may
    # echo a `${VAR}` value given to it (argparse repeats a flag it rejects), and they reach
    # cells, serve clients, /health and terminals.
    redact: Callable[[str], str] = str

    async def note_response(self, response: Any) -> None:
        """An httpx2 response hook for a server with no sign-in configured."""
        if response.status_code == 401:
            self.unauthorized = True


def transport_of(server: ServerConfig) -> str:
    if isinstance(server, StdioServer):
        return "stdio"
    return "sse" if server.sse else "http"


def tethered(command: str, args: list[str], env: dict[str, str] | None, cwd: str | Path | None) -> tuple[str, list[str]]:
    """The command line that runs a stdio server under `_tether.py`, so the server and what
    it starts end with this process and with the server (see that module). Raises
    FileNotFoundError for a command that is not there, as spawning it would."""
    path = (env or {}).get("PATH", os.environ.get("PATH", os.defpath))
    if os.sep in command:
        found = os.path.join(str(cwd), command) if cwd and not os.path.isabs(command) else command
        if not os.access(found, os.X_OK):
            raise FileNotFoundError(command)
    elif shutil.which(command, path=path) is None:
        raise FileNotFoundError(command)
    if not os.path.isdir("/proc"):  # the tether reads its group from /proc (Linux)
        return command, list(args)
    return sys.executable, ["-I", "-S", TETHER, str(os.getpid()), command, *args]


def stderr_tail(link: Link) -> str:
    if link.errlog is None or link.errlog.closed:
        return ""
    try:
        link.errlog.flush()
        link.errlog.seek(0)
        tail = link.errlog.read()[-STDERR_TAIL:].strip()
    except (OSError, ValueError):
        return ""
    return link.redact(f"; its last error output:\n{tail}") if tail else ""


def connect_timeout(link: Link) -> float:
    return link.config.connect_timeout or CONNECT_TIMEOUT


class Stopped(Exception):
    """The hub closed while the server was still connecting."""


def connect_problem(exc: BaseException, link: Link) -> str:
    while isinstance(exc, BaseExceptionGroup) and len(exc.exceptions) == 1:
        exc = exc.exceptions[0]
    if isinstance(exc, Stopped):
        return "the session closed while it was connecting"
    if link.unauthorized:
        return SignInRequiredError(link.state.name).problem
    if isinstance(exc, TimeoutError):
        problem = (f"did not finish connecting within {connect_timeout(link):g} s (connectTimeout); "
                   "it may be hanging in initialize")
    elif isinstance(exc, FileNotFoundError):
        problem = f"command not found: {getattr(link.config, 'command', '?')!r}; check the config's command and PATH"
    elif isinstance(exc, ServerConnectError):
        problem = exc.problem
    elif type(exc).__module__.startswith("mcp.client.auth"):  # the SDK's OAuth errors
        problem = (f"signing in failed ({type(exc).__name__}: {exc}); `codemode auth logout "
                   f"{link.state.name}` forgets what is stored, `codemode auth login {link.state.name}` signs in anew")
    else:
        problem = f"could not connect ({type(exc).__name__}: {exc})".replace("()", "")
    return link.redact(problem + stderr_tail(link))
