"""What cell code sees as the module `codemode`, and the tool proxies it calls.

Runs inside the worker: standard library only. A `Server` proxy holds one `Tool` per MCP
tool as a plain attribute (fast lookup, `dir()` lists them). Calling a tool validates the
keyword arguments against the tool's input schema here, before anything leaves the worker,
then hands the call to the channel installed by the worker (`_channel`).
"""

from __future__ import annotations

import base64

TYPE_CHECKING = False  # importing `typing` costs ~10 ms of worker start-up
if TYPE_CHECKING:
    from typing import Any, Protocol

    class _Channel(Protocol):
        def call(self, server: str, tool: str, arguments: dict[str, Any]) -> Any: ...

        async def acall(self, server: str, tool: str, arguments: dict[str, Any]) -> Any: ...

        def search(self, arguments: dict[str, Any]) -> Any: ...

        def refused(self, server: str, tool: str, arguments: dict[str, Any], code: str, message: str) -> None: ...

from codemode.schema import check_arguments, drop_unset, suggest
from codemode.shared.b64 import decoded_size

__all__ = ["Audio", "Image", "Resource", "ResourceLink", "Server", "Tool", "ToolError", "help", "search", "servers"]


_channel: _Channel | None = None
servers: dict[str, Server] = {}


class ToolError(Exception):
    """A tool call failed: refused by the host's policy, rejected by the server, or in error.

    Attributes: `server` and `tool` (Python names), `code` (a stable name such as
    INVALID_ARGUMENTS, UNKNOWN_TOOL, UPSTREAM_ERROR, TIMEOUT, SERVER_NOT_ALLOWED,
    SERVER_UNAVAILABLE) and `message`.
    """

    def __init__(self, message: str, *, server: str = "", tool: str = "", code: str = "UPSTREAM_ERROR") -> None:
        super().__init__(message)
        self.message = message
        self.server = server
        self.tool = tool
        self.code = code

    __module__ = "codemode"  # as cell code imports it

    def __str__(self) -> str:
        where = f"{self.server}.{self.tool}: " if self.server else ""
        return f"{where}{self.message} [{self.code}]"


class Image:
    """An image a tool returned. `data` is the raw bytes; `mime_type` says what they are."""

    def __init__(self, data_b64: str, mime_type: str) -> None:
        self.data_b64 = data_b64
        self.mime_type = mime_type

    @property
    def data(self) -> bytes:
        return base64.b64decode(self.data_b64)

    def __repr__(self) -> str:
        return f"<Image {self.mime_type}, {decoded_size(self.data_b64)} bytes>"

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]:
        """Shown by `display()` as the image itself (the host keeps only image types it knows)."""
        return {self.mime_type: self.data_b64, "text/plain": repr(self)}


class Audio(Image):
    """Audio a tool returned, as bytes and a MIME type."""

    def __repr__(self) -> str:
        return f"<Audio {self.mime_type}, {decoded_size(self.data_b64)} bytes>"


class Resource:
    """A resource embedded in a tool result: its `uri`, and `text` or `blob` (base64)."""

    def __init__(self, uri: str, mime_type: str | None, text: str | None, blob: str | None) -> None:
        self.uri = uri
        self.mime_type = mime_type
        self.text = text
        self.blob = blob

    def __repr__(self) -> str:
        return f"<Resource {self.uri}>"


class ResourceLink:
    """A link to a resource that a tool returned instead of its contents."""

    def __init__(self, uri: str, name: str, mime_type: str | None, description: str | None) -> None:
        self.uri = uri
        self.name = name
        self.mime_type = mime_type
        self.description = description

    def __repr__(self) -> str:
        return f"<ResourceLink {self.uri}>"


def _content_block(block: dict[str, Any]) -> Any:
    kind = block.get("type")
    if kind == "text":
        return block.get("text", "")
    if kind == "image":
        return Image(block.get("data", ""), block.get("mimeType", "application/octet-stream"))
    if kind == "audio":
        return Audio(block.get("data", ""), block.get("mimeType", "application/octet-stream"))
    if kind == "resource_link":
        return ResourceLink(block.get("uri", ""), block.get("name", ""), block.get("mimeType"), block.get("description"))
    if kind == "resource":
        res = block.get("resource") or {}
        return Resource(res.get("uri", ""), res.get("mimeType"), res.get("text"), res.get("blob"))
    return block


def decode_value(payload: dict[str, Any]) -> Any:
    """Turn a tool result sent by the host into plain Python data or content objects."""
    if payload.get("kind") == "content":
        items = [_content_block(block) for block in payload.get("blocks", [])]
        return items[0] if len(items) == 1 else items
    return payload.get("value")


def encode_media(value: Any) -> dict[str, Any] | None:
    """The result payload for a content object returned as a cell's value, else None."""
    if isinstance(value, Image):
        kind = "audio" if isinstance(value, Audio) else "image"
        return {"kind": kind, "mimeType": value.mime_type, "data": value.data_b64}
    return None


class Tool:
    """One MCP tool as a Python callable: `server.tool(arg=...)`, or `await server.tool.acall(...)`."""

    def __init__(self, server: str, spec: dict[str, Any]) -> None:
        self.server = server
        self.name: str = spec["name"]
        self.mcp_name: str = spec["mcp"]
        self.schema: dict[str, Any] = spec.get("schema") or {"type": "object"}
        self.signature_text: str = spec.get("signature", f"{self.name}(**kwargs)")
        self.__doc__ = spec.get("doc") or None
        # Python keyword → wire key, only where they differ (`from_` → `from`).
        self._keys: dict[str, str] = spec.get("keys") or {}

    def __repr__(self) -> str:
        return f"<tool {self.server}.{self.signature_text}>"

    def _arguments(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
        arguments = {self._keys.get(key, key): value for key, value in kwargs.items()}
        if args:
            self._refuse(arguments, f"call tools with keyword arguments: {self.server}.{self.signature_text}")
        arguments = drop_unset(arguments, self.schema)
        problems = check_arguments(self.schema, arguments)
        if problems:
            self._refuse(arguments, "; ".join(problems))
        return arguments

    def _refuse(self, arguments: dict[str, Any], message: str) -> None:
        """Refuse the call here, before it leaves the worker; the host still lists it in the
        run's calls (an attempt is part of what the cell did)."""
        if _channel is not None:
            _channel.refused(self.server, self.name, arguments, "INVALID_ARGUMENTS", message)
        raise ToolError(message, server=self.server, tool=self.name, code="INVALID_ARGUMENTS")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        arguments = self._arguments(args, kwargs)
        assert _channel is not None, "the worker installs the channel before running cells"
        return _channel.call(self.server, self.name, arguments)

    async def acall(self, *args: Any, **kwargs: Any) -> Any:
        """Call the tool without blocking the event loop, so `asyncio.gather` runs calls at once."""
        arguments = self._arguments(args, kwargs)
        assert _channel is not None, "the worker installs the channel before running cells"
        return await _channel.acall(self.server, self.name, arguments)


class _Requests:
    """A server's requests other than tool calls, sent as calls are (report, policy, trace)."""

    def __init__(self, server: str) -> None:
        self._server = server

    def _call(self, method: str, arguments: dict[str, Any]) -> Any:
        assert _channel is not None, "the worker installs the channel before running cells"
        return _channel.call(self._server, method, arguments)

    async def _acall(self, method: str, arguments: dict[str, Any]) -> Any:
        assert _channel is not None, "the worker installs the channel before running cells"
        return await _channel.acall(self._server, method, arguments)


class Resources(_Requests):
    """`srv.resources`: what the server offers to read. Each has an async twin (`alist`, ...)."""

    def list(self) -> Any:
        """The server's resources: dicts with `uri`, `name`, `mimeType`, `description`."""
        return self._call("resources/list", {})

    def templates(self) -> Any:
        """The server's resource templates: dicts with `uriTemplate`, `name`, `description`."""
        return self._call("resources/templates/list", {})

    def read(self, uri: str) -> Any:
        """Read one resource (a `uri` from `list()`, a template filled in, or a tool result's
        `ResourceLink.uri`): a dict with `contents`, each with `uri` and `text` or `blob`."""
        return self._call("resources/read", {"uri": uri})

    async def alist(self) -> Any:
        return await self._acall("resources/list", {})

    async def atemplates(self) -> Any:
        return await self._acall("resources/templates/list", {})

    async def aread(self, uri: str) -> Any:
        return await self._acall("resources/read", {"uri": uri})

    def __repr__(self) -> str:
        return f"<resources of {self._server}: list(), templates(), read(uri)>"


class Prompts(_Requests):
    """`srv.prompts`: the server's prompt templates. Each has an async twin (`alist`, `aget`)."""

    def list(self) -> Any:
        """The server's prompts: dicts with `name`, `description` and `arguments`."""
        return self._call("prompts/list", {})

    def get(self, name: str, **arguments: str) -> Any:
        """One prompt filled in with `arguments` (strings): a dict with `messages`."""
        return self._call("prompts/get", {"name": name, "arguments": arguments})

    async def alist(self) -> Any:
        return await self._acall("prompts/list", {})

    async def aget(self, name: str, **arguments: str) -> Any:
        return await self._acall("prompts/get", {"name": name, "arguments": arguments})

    def __repr__(self) -> str:
        return f"<prompts of {self._server}: list(), get(name, **arguments)>"


class Server:
    """The tools of one MCP server, as attributes; its resources and prompts as `resources`
    and `prompts` (a tool whose name would be one of those is `resources_` / `prompts_`)."""

    def __init__(self, name: str, mcp_name: str, tools: list[Tool], description: str = "",
                 unavailable: str = "", uncallable: dict[str, str] | None = None) -> None:
        self.__name = name
        self.__mcp_name = mcp_name
        self.__description = description
        self.__unavailable = unavailable  # why the server could not be used (it failed to start)
        self.__uncallable = dict(uncallable or {})  # tool -> why no call can reach it
        if not unavailable:
            self.resources = Resources(name)
            self.prompts = Prompts(name)
        for tool in tools:
            setattr(self, tool.name, tool)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        if self.__unavailable and not name.startswith("_"):  # `_repr_*_` probes stay AttributeErrors
            raise ToolError(f"server {self.__mcp_name!r} is unavailable: {self.__unavailable}",
                            server=self.__name, tool=name, code="SERVER_UNAVAILABLE")
        if name in self.__uncallable:
            raise AttributeError(f"{self.__name}.{name} cannot be called: it {self.__uncallable[name]}")
        known = sorted(k for k, v in vars(self).items() if isinstance(v, Tool))
        close = suggest(name, known)
        hint = f"; did you mean {close[0]!r}?" if close else f"; its tools: {', '.join(known)}"
        raise AttributeError(f"server {self.__name!r} has no tool {name!r}{hint}")

    def __dir__(self) -> list[str]:
        return sorted(k for k, v in vars(self).items() if isinstance(v, Tool))

    def __repr__(self) -> str:
        if self.__unavailable:
            return f"<server {self.__name} ({self.__mcp_name}): unavailable, it failed to start>"
        count = len(self.__dir__())
        return f"<server {self.__name} ({self.__mcp_name}): {count} tools>"


def search(query: str, detail: str = "signatures", limit: int = 10) -> str:
    """Find tools by what they do, ranked by relevance of their names and descriptions; servers'
    resources and prompts too, each shown as the call that reaches it.

    Args:
        query: words describing the tool you need, e.g. "read file" or "open orders".
        detail: "names" (one `server.tool` per line), "signatures" (one line each with a
            summary), or "full" (the whole stub with argument docs and output types).
        limit: the most tools to return.

    Returns:
        The matching tools as text, best first.
    """
    if detail not in ("names", "signatures", "full"):
        raise ValueError(f"detail must be 'names', 'signatures' or 'full', not {detail!r}")
    assert _channel is not None, "the worker installs the channel before running cells"
    return _channel.search({"query": str(query), "detail": detail, "limit": int(limit)})


def help(obj: Any = None) -> None:  # noqa: A001 - replaces the builtin inside the worker
    """`help(server.tool)` prints the tool's stub; `help(server)` lists its tools."""
    if isinstance(obj, Tool):
        print(obj.__doc__ or f"{obj.server}.{obj.signature_text}")
    elif isinstance(obj, Server):
        print(repr(obj))
        for name in dir(obj):
            tool = getattr(obj, name)
            print(f"  {tool.signature_text}")
        if isinstance(vars(obj).get("resources"), Resources):
            print("  resources.list(), resources.templates(), resources.read(uri); prompts.list(), "
                  "prompts.get(name, **arguments)")
    elif isinstance(obj, (Resources, Prompts)):
        print(repr(obj))
        for name in ("list", "templates", "read", "get"):
            method = getattr(obj, name, None)
            if method is not None:
                print(f"  {name}: {method.__doc__}")
    elif obj is None:
        print("help(server.tool) shows a tool's stub; codemode.search(query) finds tools")
    else:
        import pydoc

        pydoc.help(obj)
