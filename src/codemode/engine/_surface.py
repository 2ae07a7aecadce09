"""What a session offers the code and the model that writes it: its servers' tools as a
Python API, for `Session` (a part of it, as `_calls.CallDesk` is).

`_build_api` turns the connected servers' tool lists into `ApiTool`s keyed by (server, tool)
Python names, and teaches the token account their texts; `_setup_message` is what a fresh
worker gets to build its namespaces from. The rest are views of that API: the tools, their
stubs (text and a package for type checkers), search, and the tools listed that no call can
reach. A server is named by its config name or its Python name everywhere.
"""

from __future__ import annotations

import os
import sys
from typing import Any

from codemode.engine._apitool import ApiTool
from codemode.errors import CodemodeError
from codemode.hub import Hub, ServerState
from codemode.schema import (
    Hit,
    NameMap,
    ToolDef,
    name_types,
    parameters,
    render_hits,
    search_tools,
    stub_package,
    suggest,
    to_identifier,
)
from codemode.schema._names import SERVER_ATTRIBUTES
from codemode.tokens.accounting import Accountant
from codemode.trust.approval import ApprovalRule
from codemode.trust.policy import Policy


class ToolSurface:
    """The session's tools as the code and the model see them (a part of `Session`)."""

    _hub: Hub
    _api: dict[tuple[str, str], ApiTool]
    _param_names: dict[tuple[str, str], dict[str, str]]
    _server_names: NameMap
    accountant: Accountant
    approval_rule: ApprovalRule

    def start(self, code: str | None = None) -> None:
        """Connect the servers and start the worker (`Session.start`)."""
        raise NotImplementedError

    @property
    def servers(self) -> dict[str, ServerState]:
        """Every configured server and its state, by config name."""
        return self._hub.servers

    @property
    def failed(self) -> dict[str, str]:
        """The servers that could not be used, each with its full cause (the last lines of
        its stderr included); empty until the servers start."""
        return {name: state.error or state.status for name, state in self.servers.items()
                if state.status in ("failed", "crashed", "invalid")}

    def python_name(self, server: str) -> str:
        """The name cell code uses for a server."""
        return self._server_names.to_python(server)

    def tools(self, server: str | None = None) -> list[ApiTool]:
        """The tools cell code can call, optionally of one server (config or Python name)."""
        key = self._resolve_server(server) if server is not None else None  # before any server starts
        self.start()
        if key is None:
            return list(self._api.values())
        return [tool for (srv, _), tool in self._api.items() if srv == key]

    def unavailable_tools(self, server: str | None = None) -> list[tuple[str, str, str]]:
        """Tools a server lists that no call can reach, as (server, Python name, reason):
        listed apart, never in stubs, search or the token account."""
        self.start()
        return self._unavailable(self._resolve_server(server) if server else None)

    def _unavailable(self, key: str | None = None) -> list[tuple[str, str, str]]:
        keys = [key] if key else None
        found = []
        for name, state in self.servers.items():
            if state.status != "connected":
                continue
            key = self.python_name(name)
            if keys is None or key in keys:
                found += [(key, to_identifier(tool.name), reason) for tool, reason in state.unavailable]
        return found

    def search(self, query: str, limit: int = 10) -> list[ApiTool]:
        """Tools whose names and descriptions match `query`, best first (BM25)."""
        return [self._api[(hit.server, hit.name)] for hit in self._search(query, limit, offers=False)]

    def search_hits(self, query: str, limit: int = 10) -> list[Hit]:
        """Tools, resources, resource templates and prompts that match `query`, best first."""
        return self._search(query, limit)

    def search_text(self, query: str, detail: str = "signatures", limit: int = 10) -> str:
        """The search results as text: "names", "signatures" or "full" stubs; a resource or a
        prompt as the call that reads or gets it."""
        return render_hits(self._search(query, limit), detail)

    def _search(self, query: str, limit: int, policy: Policy | None = None, *, offers: bool = True) -> list[Hit]:
        # With a run's policy, only the tools it may call: its servers and its allow-list
        # (a resource as `resources/read`, a prompt as `prompts/get`, as their calls go).
        scope = Policy(servers=policy.servers, tools=policy.tools) if policy is not None else None
        entries = [(t.server, t.name, t.tool) for t in self.tools()
                   if scope is None or scope.check(ToolDef(t.server, t.name), 0) is None]
        found = []
        servers = {api.tool.server: key for (key, _), api in self._api.items()} if offers else {}
        for name, key in servers.items():  # the servers with tools in the API, by config name
            for offer in self.servers[name].offers or ():
                method = "prompts/get" if offer.kind == "prompt" else "resources/read"
                if scope is None or scope.check(ToolDef(key, method), 0) is None:
                    found.append((key, offer))
        return search_tools(entries, query, limit=limit, offers=found)

    def stubs(self, target: str | None = None) -> str:
        """`.pyi`-style text of every server, of one (`demo`), or of one tool (`demo.list_orders`)."""
        server, _, tool = (target or "").partition(".")
        if server:
            self._resolve_server(server)  # an unknown name starts nothing
        self.start()
        if tool:
            key = self._resolve_server(server)
            api = self._api.get((key, tool))
            if api is None:
                known = sorted(name for srv, name in self._api if srv == key)
                close = suggest(tool, known)
                hint = f"did you mean {close[0]!r}?" if close else f"its tools: {', '.join(known)}"
                raise CodemodeError(f"server {key!r} has no tool {tool!r}; {hint}")
            return api.stub()
        keys = [self._resolve_server(server)] if server else sorted({key for key, _ in self._api})
        return self.accountant.stubs_text(keys)

    def server_key(self, server: str) -> str:
        """The Python name of a server given by its config or Python name, without starting
        anything. Raises CodemodeError naming the servers there are."""
        return self._resolve_server(server)

    def stub_package(self, server: str) -> dict[str, str]:
        """A server's tools as a stub package for type checkers: file texts by relative path
        (`demo/__init__.pyi`, `demo/list_orders.pyi`, ...)."""
        self.start()
        key = self._resolve_server(server)
        tools = [api.tool for (srv, _), api in self._api.items() if srv == key]
        names = NameMap([(api.tool.name, name) for (srv, name), api in self._api.items() if srv == key])
        state = next((state for name, state in self.servers.items() if self.python_name(name) == key), None)
        return stub_package(key, tools, names, offers=state.offers if state is not None else None)

    def _resolve_server(self, server: str) -> str:
        if server in self._server_names:
            return server
        try:
            return self._server_names.to_python(server)
        except KeyError:
            known = ", ".join(sorted(self.servers)) or "none"
            raise CodemodeError(f"no server {server!r} in this session (servers: {known})") from None

    def _build_api(self) -> None:
        # "idle": its tools are known from the cache; it connects on its first call. A server
        # connecting or crashed keeps the tools it had: its calls wait for the connect, or
        # reconnect it (a worker built meanwhile must not lose its namespace).
        connected = [name for name, state in self.servers.items()
                     if state.status in ("connected", "idle") or (state.status in ("connecting", "crashed") and state.tools)]
        self._api = {}
        self._param_names: dict[tuple[str, str], dict[str, str]] = {}
        for name in connected:
            key = self._server_names.to_python(name)
            tools = self.servers[name].tools
            names = NameMap.build([t.name for t in tools], reserved=SERVER_ATTRIBUTES)
            notes = {t.name: self.approval_rule.note(t, [f"{key}.{names.to_python(t.name)}"]) for t in tools}
            self.accountant.learn(key, self.servers[name], names, notes)
            # Inline object schemas named once per server (`entities` -> Entity), so every view
            # of a tool (signature, stub, help, search) names the same types.
            for tool in name_types(tools):
                self._api[(key, names.to_python(tool.name))] = ApiTool(key, names.to_python(tool.name), tool,
                                                                       notes[tool.name])

    def _setup_message(self) -> dict[str, Any]:
        servers: dict[str, Any] = {}
        with_tools = {key for key, _ in self._api}
        for name, problem in self.failed.items():  # a namespace still: its calls say why they fail
            if self._server_names.to_python(name) in with_tools:
                continue  # it crashed after it connected: the hub reconnects it on the next call
            servers[self._server_names.to_python(name)] = {"name": name, "tools": [], "description": "",
                                                           "unavailable": problem}
        for (key, name), api in self._api.items():
            entry = servers.setdefault(key, {"name": api.tool.server, "tools": [],
                                             "description": self.servers[api.tool.server].instructions or ""})
            params = parameters(api.tool.input_schema)
            entry["tools"].append({
                "name": name,
                "mcp": api.tool.name,
                "schema": api.tool.input_schema,
                "signature": api.signature,
                "doc": api.stub(),
                "keys": {p.name: p.key for p in params if p.name != p.key},
            })
        for key, name, reason in self._unavailable():
            if key in servers:  # a tool no call can reach: the proxy says why, not "no such tool"
                servers[key].setdefault("uncallable", {})[name] = reason
        cwd = os.getcwd()
        sys_path = [p for p in sys.path if p and os.path.isabs(p) and p != cwd]
        return {"servers": servers, "sys_path": sys_path}
