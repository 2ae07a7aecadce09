"""A hub's tool lists: listing a server's tools (every page), keeping the tool cache in step,
and following a server's `tools/list_changed` (a part of `Hub`, as `Readiness` is)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import anyio
import anyio.abc

from codemode.hub import _toolcache
from codemode.hub._link import Link, connect_timeout
from codemode.hub._state import LogRecord
from codemode.hub._toolcache import OFFER_KEYS, entry_of, same_entry
from codemode.schema import ToolDef

if TYPE_CHECKING:
    from mcp import Client

# Guards against a server that never ends its tools/list pagination.
MAX_TOOL_PAGES = 1000
# What stubs and search index of a server's resources, templates and prompts: listed once at
# connect, so bounded (a database server may list a row per resource). Stubs name the first
# few; past this, code still reaches every one with `srv.resources.list()`.
MAX_OFFER_PAGES = 5
MAX_OFFERS = 500
# How often in a row a dropped `subscriptions/listen` stream is opened again (a stream that
# drops at once, over and over, would otherwise spin).
MAX_RELISTENS = 5
# A stream that stayed open this many seconds before it dropped was not failing at once.
LIVED = 10.0
# Why a tool with `execution.taskSupport: "required"` is listed apart: the SDK's client has no
# task-augmented `tools/call` (2025-11-25 tasks), and a plain call is refused (-32601).
TASK_REQUIRED = ("runs only as an MCP task (execution.taskSupport \"required\"), which this client "
                 "cannot start yet; every plain call would fail")


class ToolLists:
    """The tool-list half of `Hub`."""

    generation: int
    changed: set[str]
    _relisting: list[anyio.Event]
    _tg: anyio.abc.TaskGroup | None

    async def relist(self, link: Link) -> None:
        """A server said its tools changed (`tools/list_changed`): list them again."""
        if link.client is None or link.state.status != "connected":
            return
        before = entry_of(link.state)
        try:
            with anyio.fail_after(connect_timeout(link)):
                await self._list_tools(link)
        except Exception as exc:  # noqa: BLE001 - the old list stays; the next connect lists again
            link.state.log.append(LogRecord(link.state.name, "warning", f"listing its changed tools failed: {exc}"))
            return
        if not same_entry(before, entry_of(link.state)):
            _toolcache.save(link.config, entry_of(link.state))
            link.cached = entry_of(link.state)
            self.changed.add(link.state.name)

    async def take_changed(self) -> set[str]:
        """The servers whose tools changed since the last call (and forget them), once the
        lists asked for meanwhile are in (each bounded by its server's connect timeout)."""
        pending, self._relisting = self._relisting, []
        for done in pending:
            await done.wait()
        changed, self.changed = self.changed, set()
        return changed

    def _check_cache(self, link: Link) -> None:
        """Compare the live tool list with the cached one; write the cache when they differ."""
        entry, cached = entry_of(link.state), link.cached
        same_api = cached is not None and same_entry(cached, entry)
        if same_api and cached is not None and same_entry(cached, entry, OFFER_KEYS):
            return
        _toolcache.save(link.config, entry)
        if cached is not None and not same_api:
            self.generation += 1  # the session built its API on a list that was stale
        link.cached = entry

    async def _list_offers(self, link: Link) -> None:
        """List what the server offers besides tools (resources, templates, prompts), for
        stubs and search: the kinds its capabilities declare, each bounded by `MAX_OFFERS`.
        A failed list stays unknown (None) and is noted in the server's log: calls from code
        are unaffected (they ask the server themselves)."""
        assert link.client is not None
        client = link.client
        capabilities = client.server_capabilities
        state = link.state
        # The state's field (also the field of each page that holds the items): what lists them.
        asks = {"resources": (capabilities.resources, client.list_resources),
                "resource_templates": (capabilities.resources, client.list_resource_templates),
                "prompts": (capabilities.prompts, client.list_prompts)}

        async def one(field: str) -> None:
            declared, fetch = asks[field]
            if declared is None:
                setattr(state, field, [])
                return
            from codemode.hub._results import wire

            items: list[dict[str, Any]] = []
            cursor = None
            try:
                for _ in range(MAX_OFFER_PAGES):
                    page = await fetch(cursor=cursor)
                    items += [wire(item) for item in getattr(page, field)]
                    cursor = page.next_cursor
                    if cursor is None or len(items) >= MAX_OFFERS:
                        break
            except Exception as exc:  # noqa: BLE001 - stubs and search then say "unknown"; calls still work
                state.log.append(LogRecord(state.name, "warning", f"listing its {field.replace('_', ' ')} failed: {exc}"))
                return
            setattr(state, field, items[:MAX_OFFERS])

        async with anyio.create_task_group() as tg:
            for field in asks:
                tg.start_soon(one, field)

    @staticmethod
    def _listens(client: Client) -> bool:
        """Whether a connection hears of a changed tool list only by asking (2026-07-28: no
        server-to-client stream but a `subscriptions/listen` the client opens) and the server
        says its tool list can change. Handshake-era servers notify unasked (`_clients`)."""
        from mcp_types.version import MODERN_PROTOCOL_VERSIONS

        tools = client.server_capabilities.tools
        return client.protocol_version in MODERN_PROTOCOL_VERSIONS and bool(tools and tools.list_changed)

    async def _listen(self, link: Link) -> None:
        """Hold a `subscriptions/listen` for `tools/list_changed` open while the server is
        connected (a task of its `_hold`), relisting on each event. A stream that drops is
        opened again and the tools listed again (events are not replayed), up to
        `MAX_RELISTENS` times in a row when it drops at once."""
        from mcp.client.subscriptions import SubscriptionLost, ToolsListChanged

        client, state = link.client, link.state
        assert client is not None
        dropped, opened = 0, False
        while dropped <= MAX_RELISTENS:
            started = anyio.current_time()
            try:
                async with client.listen(tools_list_changed=True) as subscription:
                    if not subscription.honored.tools_list_changed:
                        return  # the server will not say: the next connect lists again
                    if opened:
                        self._tools_changed(link)  # what changed while no stream was open
                    opened = True
                    async for event in subscription:
                        if isinstance(event, ToolsListChanged):
                            self._tools_changed(link)
                return  # the server closed the stream gracefully (it is shutting down)
            except (SubscriptionLost, TimeoutError) as exc:
                # A stream that lived a while (an idle HTTP stream's read timeout) starts the count again.
                dropped = dropped + 1 if anyio.current_time() - started < LIVED else 1
                problem: Exception = exc
            except Exception as exc:  # noqa: BLE001 - a server that cannot listen keeps its tools as listed
                state.log.append(LogRecord(state.name, "warning", f"listening for its tool changes failed: {exc}"))
                return
        state.log.append(LogRecord(state.name, "warning", f"its tool-change stream kept dropping: {problem}"))

    def _tools_changed(self, link: Link) -> None:
        if self._tg is None:
            return
        done = anyio.Event()
        self._relisting.append(done)

        async def relist() -> None:
            try:
                await self.relist(link)
            finally:
                done.set()

        self._tg.start_soon(relist, name=f"codemode-relist-{link.state.name}")

    async def _list_tools(self, link: Link) -> None:
        from codemode.hub._results import wire

        assert link.client is not None
        tools, wire_tools, unavailable, cursor = [], [], [], None
        for _ in range(MAX_TOOL_PAGES):
            page = await link.client.list_tools(cursor=cursor)
            for tool in page.tools:
                annotations = tool.annotations.model_dump(by_alias=True, exclude_none=True) if tool.annotations else {}
                definition = ToolDef(
                    server=link.state.name,
                    name=tool.name,
                    description=tool.description or "",
                    input_schema=dict(tool.input_schema or {"type": "object"}),
                    output_schema=dict(tool.output_schema) if tool.output_schema else None,
                    annotations=annotations,
                    title=tool.title,
                )
                execution = getattr(tool, "execution", None)
                if getattr(execution, "task_support", None) == "required":
                    unavailable.append((definition, TASK_REQUIRED))
                    continue
                wire_tools.append(wire(tool))
                tools.append(definition)
            cursor = page.next_cursor
            if cursor is None:
                break
        link.state.tools, link.state.wire_tools, link.state.unavailable = tools, wire_tools, unavailable

