"""Tool lists cached on disk by server identity, so a session can build its API before (or
without) connecting a server.

A run whose code calls no tool then never starts the server nor imports the MCP SDK (about a
second of a first result); a server in the cache connects on its first call instead. The
cache is a hint, never the truth: the hub checks it against the live list once the server
connects, rewrites it when it differs, and tells the session (see `Hub.generation`).

Invariants:
- The key is everything that decides which program answers: transport, command (and the
  modification time of the file it resolves to, so an upgrade is a new key), args, env, cwd,
  URL and headers, the protocol mode, and codemode's version. Header and env values are
  hashed into the key, never written into the file.
- Only a server that connected and listed its tools is ever written; a server that fails
  has no entry, so it is started (and its failure reported) at session start as before.
- Writes are atomic (a temporary file renamed), so concurrent sessions never read half a file.
- `CODEMODE_TOOL_CACHE=0` turns it off; `CODEMODE_CACHE_DIR` moves it (default
  `$XDG_CACHE_HOME/codemode/tools`, else `~/.cache/codemode/tools`).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from codemode._version import __version__
from codemode.config import HttpServer, ServerConfig, StdioServer
from codemode.hub._state import ServerState
from codemode.schema import ToolDef

FORMAT = 1  # bump when the file's shape changes: old entries are then ignored


def enabled() -> bool:
    return os.environ.get("CODEMODE_TOOL_CACHE", "1").strip().lower() not in ("0", "off", "false", "no")


def cache_dir() -> Path:
    explicit = os.environ.get("CODEMODE_CACHE_DIR")
    if explicit:
        return Path(explicit).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "codemode" / "tools"


def identity(config: ServerConfig) -> str:
    """The cache key of a server: a hash of what decides which program answers."""
    parts: dict[str, Any] = {"codemode": __version__, "format": FORMAT, "mode": config.mode,
                             "in_process": getattr(config, "in_process", False)}
    if isinstance(config, StdioServer):
        path = (config.env or {}).get("PATH", os.environ.get("PATH", os.defpath))
        found = shutil.which(config.command, path=path)
        try:
            stamp = os.stat(found).st_mtime_ns if found else None
        except OSError:
            stamp = None
        parts.update(command=config.command, resolved=found, stamp=stamp, args=config.args,
                     env=sorted((config.env or {}).items()), cwd=config.cwd)
    elif isinstance(config, HttpServer):
        parts.update(url=config.url, headers=sorted(config.headers.items()))
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:32]


def load(config: ServerConfig) -> dict[str, Any] | None:
    """The cached entry of a server: `tools` (ToolDef fields), `wire` (tools/list as sent),
    `instructions`, `serverVersion`, `protocolVersion`; None when there is none usable."""
    if not enabled():
        return None
    try:
        data = json.loads((cache_dir() / f"{identity(config)}.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not (isinstance(data, dict) and data.get("format") == FORMAT and isinstance(data.get("tools"), list)
            and isinstance(data.get("wire"), list)):
        return None
    return data


def save(config: ServerConfig, entry: dict[str, Any]) -> None:
    """Write a server's entry (best effort: a read-only home only costs the next start)."""
    if not enabled():
        return
    directory = cache_dir()
    try:
        directory.mkdir(parents=True, exist_ok=True)
        fd, temp = tempfile.mkstemp(dir=directory, prefix=".tools-", suffix=".json")
        with os.fdopen(fd, "w", encoding="utf-8") as file:
            json.dump({"format": FORMAT, **entry}, file, ensure_ascii=False)
        os.replace(temp, directory / f"{identity(config)}.json")
    except (OSError, TypeError, ValueError):
        pass


def entry_of(state: ServerState) -> dict[str, Any]:
    """A connected server's tool-cache entry."""
    return {"tools": [{k: v for k, v in tool.as_dict().items() if k != "server"} for tool in state.tools],
            "wire": state.wire_tools, "instructions": state.instructions,
            "unavailable": [[{k: v for k, v in tool.as_dict().items() if k != "server"}, why]
                            for tool, why in state.unavailable],
            "serverVersion": state.server_version, "protocolVersion": state.protocol_version,
            "resources": state.resources, "templates": state.resource_templates, "prompts": state.prompts}


#: What decides a session's API (its namespaces): a change rebuilds it (`Hub.generation`).
API_KEYS = ("tools", "wire", "instructions", "unavailable")
#: What only stubs and search show: a change is saved, and the next API built shows it.
OFFER_KEYS = ("resources", "templates", "prompts")


def same_entry(a: dict[str, Any], b: dict[str, Any], keys: tuple[str, ...] = API_KEYS) -> bool:
    # Through JSON: the cache's lists and the SDK's values compare alike.
    def text(entry: dict[str, Any]) -> str:
        return json.dumps({k: entry.get(k) for k in keys}, sort_keys=True, default=str)

    return text(a) == text(b)


def adopt(state: ServerState, entry: dict[str, Any]) -> None:
    """Fill a server's state from its cache entry: known tools, not connected."""
    state.tools = [ToolDef(server=state.name, **tool) for tool in entry["tools"] if isinstance(tool, dict)]
    state.wire_tools = list(entry["wire"])
    state.unavailable = [(ToolDef(server=state.name, **tool), why) for tool, why in entry.get("unavailable") or []]
    state.instructions = entry.get("instructions")
    state.server_version = entry.get("serverVersion")
    state.protocol_version = entry.get("protocolVersion")
    state.resources, state.resource_templates, state.prompts = (
        value if isinstance(value, list) else None for value in (entry.get(k) for k in OFFER_KEYS))
    state.status = "idle"
