"""The limits of `codemode serve`: per request, per client session, per server process.

Every refusal is a `Refused` with a stable code, which the server turns into an `isError`
tool result (never a dropped connection or a protocol error):

| code | when |
| --- | --- |
| `MAX_CODE_CHARS` | the code is longer than `codemode.maxCodeChars` |
| `MAX_EXECUTES` | the session made `codemode.maxExecutes` execute calls already |
| `MAX_SESSIONS` | `codemode.maxSessions` sessions hold a worker; this one would be one more |
| `INVALID_ARGUMENTS` | a tool argument has the wrong type or value |

A request narrows the config's ceilings, never widens them: its `timeout` is capped by
`codemode.cellTimeout`, and a client program (not the model) may narrow a call further
through the request's `_meta` key `codemode/limits`: `{"maxToolCalls": 5, "servers":
["demo"], "tools": ["demo.get_*"]}`. Per-run refusals inside the code (`MAX_TOOL_CALLS`,
`SERVER_NOT_ALLOWED`, `TOOL_NOT_ALLOWED`) reach the code as `ToolError`s, as in a cell; so do
the calls past `codemode.maxSessionToolCalls` (`MAX_TOOL_CALLS`): code that calls no tool still runs.
"""

from __future__ import annotations

import fnmatch
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from codemode.config import Config

META_KEY = "codemode/limits"


class Refused(Exception):
    """A request refused before it ran: a stable `code` and a message saying what to do."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class RunLimits:
    """What one `execute` may do, after the request narrowed the config's ceilings."""

    timeout: float
    max_tool_calls: int | None
    servers: tuple[str, ...] | None
    tools: tuple[str, ...] | None


def check_code(config: Config, code: object) -> str:
    if not isinstance(code, str):
        raise Refused("INVALID_ARGUMENTS", "execute needs `code`, a string of Python source")
    if len(code) > config.max_code_chars:
        raise Refused("MAX_CODE_CHARS", f"the code has {len(code):,} characters; this server takes at most "
                                        f"{config.max_code_chars:,} (codemode.maxCodeChars): send less, or "
                                        "split it over several execute calls (variables persist)")
    return code


def run_limits(config: Config, timeout: object, meta: Mapping[str, Any] | None, session_calls_left: int | None,
               servers: list[str]) -> RunLimits:
    """The limits of one run: the config's, narrowed by the request."""
    ceiling = config.cell_timeout
    if timeout is None:
        seconds = ceiling
    elif isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not math.isfinite(timeout) or timeout <= 0:
        raise Refused("INVALID_ARGUMENTS", f"timeout must be a positive number of seconds, not {timeout!r}")
    else:
        seconds = min(float(timeout), ceiling)
    narrow = meta.get(META_KEY) if meta else None
    if narrow is not None and not isinstance(narrow, Mapping):
        raise Refused("INVALID_ARGUMENTS", f"_meta[{META_KEY!r}] must be an object")
    narrow = narrow or {}
    caps = [c for c in (config.max_tool_calls, session_calls_left) if c is not None]
    asked = narrow.get("maxToolCalls")
    if asked is not None:
        if isinstance(asked, bool) or not isinstance(asked, int) or asked < 0:
            raise Refused("INVALID_ARGUMENTS", "maxToolCalls must be a whole number of calls")
        caps.append(asked)
    allowed_servers = _names(narrow.get("servers"), "servers")
    if allowed_servers is not None:
        unknown = [s for s in allowed_servers if s not in servers]
        if unknown:
            raise Refused("INVALID_ARGUMENTS", f"no server {unknown[0]!r} here (servers: {', '.join(servers)})")
    tools = _names(narrow.get("tools"), "tools")
    if tools is not None and config.tools is not None:
        # Narrowing only: a request's pattern counts where a config pattern also covers it.
        tools = tuple(p for p in tools if any(fnmatch.fnmatchcase(p, c) or p == c for c in config.tools))
    return RunLimits(seconds, min(caps) if caps else None, allowed_servers,
                     tools if tools is not None else config.tools)


def _names(value: object, key: str) -> tuple[str, ...] | None:
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise Refused("INVALID_ARGUMENTS", f"{key} must be a list of names")
    return tuple(value)
