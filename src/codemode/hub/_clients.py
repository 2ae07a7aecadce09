"""The SDK `Client` for one link: its transport (stdio streams, streamable HTTP with the
sign-in provider, legacy SSE), how it introduces itself, and the callbacks that carry what the
server sends to the hub's records (logs) and to the run whose call is in flight (questions:
the client declares elicitation, form and URL modes, and declines when no call can ask)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from typing import TYPE_CHECKING, Any

import anyio

from codemode._version import __version__
from codemode.config import HttpServer
from codemode.hub._link import Link, connect_timeout
from codemode.hub._signin import SIGN_IN_TIMEOUT
from codemode.hub._state import LogRecord

if TYPE_CHECKING:
    from mcp import Client
    from mcp_types import ElicitRequestParams, ElicitResult, Implementation, LoggingMessageNotificationParams

# Per HTTP request: the connect and write; a read waits longer (a slow tool's SSE stream).
HTTP_TIMEOUT = 30.0
HTTP_READ_TIMEOUT = 300.0


def client_info() -> Implementation:
    """How the hub introduces itself to every server: codemode and its version."""
    from mcp_types import Implementation

    return Implementation(name="codemode", version=__version__)


def build_client(link: Link, stack: AsyncExitStack, in_process: Any = None, streams: Any = None, *,
                 sign_in: bool = False, on_tools_changed: Callable[[Link], None] | None = None) -> Client:
    """The (not yet entered) client for `link`. `in_process`: an SDK server object to serve in
    this process; `streams`: a stdio server's open streams; else the link's HTTP URL.
    `sign_in`: a browser sign-in even when the entry has no `oauth` (`codemode auth login`)."""
    from mcp import Client
    from mcp.client.sse import sse_client
    from mcp.client.streamable_http import streamable_http_client

    config = link.config
    name = link.state.name

    async def on_log(params: LoggingMessageNotificationParams) -> None:
        record = LogRecord(name, str(params.level), params.data, params.logger)
        link.state.log.append(record)
        for deliver in link.inflight:
            deliver(record)

    async def on_question(context: Any, params: ElicitRequestParams) -> ElicitResult:
        from mcp_types import ElicitResult

        # The latest call in flight on this server asks its run; with none, nobody can answer.
        if not link.asking:
            return ElicitResult(action="decline")
        question = params.model_dump(by_alias=True, mode="json", exclude_none=True)
        question.pop("_meta", None)
        answer = await link.asking[-1](question)
        return ElicitResult.model_validate(answer)

    async def on_message(message: Any) -> None:
        # Handshake-era servers announce a changed tool list here (2026-07-28 ones through
        # the `subscriptions/listen` stream the hub opens: `ToolLists._listen`).
        from mcp_types import ToolListChangedNotification

        if isinstance(message, ToolListChangedNotification) and on_tools_changed is not None:
            on_tools_changed(link)

    options: dict[str, Any] = {"mode": config.mode, "logging_callback": on_log, "log_level": "info",
                               "client_info": client_info(), "elicitation_callback": on_question,
                               "message_handler": on_message}
    if in_process is not None:  # the built-in demo: no second interpreter
        return Client(in_process, **options)
    if streams is not None:  # a stdio server, started already
        transport: Any = _opened(streams)
    elif isinstance(config, HttpServer) and config.sse:
        transport = sse_client(config.url, headers=config.headers or None, timeout=HTTP_TIMEOUT,
                               sse_read_timeout=HTTP_READ_TIMEOUT, auth=_auth(link, config, sign_in))
    else:
        assert isinstance(config, HttpServer)
        import httpx2

        auth = _auth(link, config, sign_in)
        hooks = {} if auth is not None else {"response": [link.note_response]}
        http = httpx2.AsyncClient(headers=config.headers, timeout=httpx2.Timeout(HTTP_TIMEOUT, read=HTTP_READ_TIMEOUT),
                                  auth=auth, event_hooks=hooks)
        stack.push_async_callback(http.aclose)
        transport = streamable_http_client(config.url, http_client=http)
    return Client(transport, **options)


def _auth(link: Link, config: HttpServer, sign_in: bool) -> Any:
    """The SDK's OAuth provider for this server (`_oauth`), or None: then a 401 is noted on
    the link and the connect fails with `SignInRequiredError`."""
    from codemode.hub._oauth import provider_for

    def lift_deadline() -> None:  # a person is signing in: the connect waits for them
        if link.connecting is not None:
            link.connecting.deadline = anyio.current_time() + SIGN_IN_TIMEOUT + connect_timeout(link)

    return provider_for(link.state.name, config, force=sign_in, on_start=lift_deadline)


@asynccontextmanager
async def _opened(streams: Any) -> AsyncIterator[Any]:
    """A transport whose streams are open already (their owner closes them)."""
    yield streams
