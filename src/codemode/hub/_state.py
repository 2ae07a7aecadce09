"""What the hub knows of each server and hands back from each call: its state, its log
records, a call's result, and the readiness every hub (and cassette hub) shares."""

from __future__ import annotations

from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import anyio

from codemode.errors import ServerCrashedError, ToolCallError
from codemode.schema import ToolDef
from codemode.schema._offers import Offer, offers_from_wire

# "idle": its tools are known from the cache (`_toolcache`); it connects on its first call.
Status = Literal["idle", "connecting", "connected", "failed", "crashed", "closed", "disabled", "invalid"]
_SERVER_LOG_LINES = 200
# Awaited with the tool as its connected server lists it now (None: not listed) just before a
# call goes to that server; an error it returns refuses the call (see `Hub.call`).
LiveCheck = Callable[[ToolDef | None], Awaitable[ToolCallError | None]]


@dataclass
class LogRecord:
    """One `notifications/message` from a server."""

    server: str
    level: str
    data: Any
    logger: str | None = None


#: The name a resource read goes by where a tool's name would (errors, cassettes): no tool can
#: have it, since MCP tool names have no `/`.
READ_RESOURCE = "resources/read"
#: Every request of a server's resources and prompts that goes where a tool call would.
SERVER_METHODS = ("resources/list", "resources/templates/list", "resources/read", "prompts/list", "prompts/get")


@dataclass
class CallResult:
    """What one tool call gave back, ready for the trace and for the worker."""

    ok: bool
    payload: dict[str, Any] | None = None  # worker-side value, see _results.result_payload
    error: ToolCallError | ServerCrashedError | None = None
    result_bytes: int = 0
    result_json: str = ""  # the compact wire JSON: what classic tool calling shows a model


@dataclass
class ServerState:
    """A configured server: how it is reached and what it offers."""

    name: str
    transport: str
    status: Status = "connecting"
    tools: list[ToolDef] = field(default_factory=list)
    wire_tools: list[dict[str, Any]] = field(default_factory=list)
    # Tools listed by the server that no call of ours can reach, each with the reason: kept
    # apart from `tools` (and so from stubs, search and the token account), shown as such.
    unavailable: list[tuple[ToolDef, str]] = field(default_factory=list)
    # What it lists besides tools, as wire dicts (`resources/list`, `resources/templates/list`,
    # `prompts/list`), for stubs and search; None: not listed (`offers` then says "unknown").
    resources: list[dict[str, Any]] | None = None
    resource_templates: list[dict[str, Any]] | None = None
    prompts: list[dict[str, Any]] | None = None
    error: str | None = None
    protocol_version: str | None = None
    server_version: str | None = None
    instructions: str | None = None
    connect_seconds: float = 0.0
    log: deque[LogRecord] = field(default_factory=lambda: deque(maxlen=_SERVER_LOG_LINES))
    _index: tuple[list[ToolDef], int, dict[str, ToolDef]] | None = field(default=None, repr=False, compare=False)
    _offers: tuple[tuple[Any, ...], tuple[Offer, ...]] | None = field(default=None, repr=False, compare=False)

    @property
    def offers(self) -> tuple[Offer, ...] | None:
        """Its resources, resource templates and prompts as stubs and search show them; None
        when the hub has not listed them (a replayed cassette, an old cache entry)."""
        lists = (self.resources, self.resource_templates, self.prompts)
        if lists == (None, None, None):
            return None
        # Parsed once per listing (a relisting puts new lists here): stubs and every search read it.
        cached = self._offers
        if cached is None or any(old is not new for old, new in zip(cached[0], lists, strict=True)):
            cached = self._offers = (lists, offers_from_wire(*(items or () for items in lists)))
        return cached[1]

    def tool(self, name: str) -> ToolDef | None:
        index = self._index
        if index is None or index[0] is not self.tools or index[1] != len(self.tools):
            # Built once per tool list (each call looks its tool up); the first of a name wins.
            index = self._index = (self.tools, len(self.tools), {t.name: t for t in reversed(self.tools)})
        return index[2].get(name)


class Readiness:
    """`wait_ready` for a hub and for the hubs that stand in for it (cassettes): set once the
    servers are connected, failed or replayed."""

    _ready: anyio.Event | None = None

    def _ready_event(self) -> anyio.Event:
        if self._ready is None:  # made on the loop, by whichever comes first
            self._ready = anyio.Event()
        return self._ready

    async def wait_ready(self) -> None:
        """Wait until every server has connected or failed (`serve` runs as a task)."""
        await self._ready_event().wait()
