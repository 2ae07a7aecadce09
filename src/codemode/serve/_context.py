"""Which session a request of `codemode serve` belongs to, in either protocol era.

- `execute(session=HANDLE)`: that session, if it is open here and the request carries the token
  that opened it. Else the session is lost (this process restarted, or another one holds it, or
  it was forgotten, or the handle is another token's: to that token it does not exist), and the
  answer is `SESSION_LOST` with a fresh handle (`_handles.mint_fresh`), whose first `execute`
  opens a session under it. Nothing is kept for a lost handle: no record until the fresh
  handle is used. A `session` that is not a handle's shape (`ROUTE.SECRET`) is
  `INVALID_ARGUMENTS`: no process minted it; an empty string is taken as no handle.
- A 2026-07-28 request without a handle: a new session (the era has no connection to keep one).
- A handshake-era request without a handle: its connection's own session, opened on its first
  request and stopped when the connection ends (stdio EOF, HTTP DELETE or idle expiry). A
  connection this process does not know (its `Mcp-Session-Id` came from a process that is gone,
  see `_lost`) has no session of its own: an execute without a handle is `SESSION_LOST`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from mcp.server.context import ServerRequestContext
from mcp_types.version import MODERN_PROTOCOL_VERSIONS

from codemode.serve._handles import is_fresh, mint_fresh, principal, route, route_of, well_formed
from codemode.serve._sessions import ClientSession, Sessions

_STATE_KEY = "codemode.client"
#: Set in `connection.state` by `_lost` for a request whose HTTP session this process lost.
LOST_KEY = "codemode.lost"


@dataclass(frozen=True)
class Asker:
    """What a request says about who asks: its route, its token's digest, its era, and the
    client's name and version as it gave them (`name/version`, for the audit)."""

    route: str
    owner: str | None
    modern: bool
    headers: Mapping[str, str] | None
    client: str | None = None

    @classmethod
    def of(cls, ctx: ServerRequestContext[Any]) -> Asker:
        request = ctx.request
        headers: Mapping[str, str] | None = getattr(request, "headers", None)
        params = getattr(ctx.session, "client_params", None)
        info = getattr(params, "client_info", None)
        client = f"{info.name}/{info.version}"[:200] if info is not None else None
        return cls(route_of(headers), principal(headers), ctx.protocol_version in MODERN_PROTOCOL_VERSIONS, headers,
                   client)


def connection_session(ctx: ServerRequestContext[Any], sessions: Sessions, asker: Asker) -> ClientSession | None:
    """The handshake-era connection's own session (opened now on its first request), or None
    in the 2026 era and for a connection this process lost."""
    if asker.modern:
        return None
    connection = getattr(ctx.session, "_connection", None)
    if connection is None or connection.state.get(LOST_KEY):
        return None
    client: ClientSession | None = connection.state.get(_STATE_KEY)
    if client is None:
        client = connection.state[_STATE_KEY] = sessions.open(asker.route, asker.owner, bound=True)
        connection.exit_stack.push_async_callback(sessions.close, client)
    return client


class SessionLost(Exception):
    """The session a request asked for is not here; `fresh` is the handle of a new one."""

    def __init__(self, reason: str, fresh: str) -> None:
        super().__init__(reason)
        self.fresh = fresh


def session_for(ctx: ServerRequestContext[Any], sessions: Sessions, asker: Asker,
                handle: str | None) -> ClientSession:
    """The session an execute runs in.

    Raises:
        ValueError: `handle` is not a handle's shape.
        SessionLost: the session is not here (nothing is kept for it).
    """
    if handle is not None and handle != "":
        if not isinstance(handle, str) or not well_formed(handle):
            shown = repr(handle) if len(repr(handle)) <= 60 else repr(handle)[:60] + "…"
            raise ValueError(f"session must be the handle an earlier result gave (ROUTE.SECRET, as in "
                             f"'session: local.Hk3…'), not {shown}; omit it to start a new session")
        found = sessions.find(handle, asker.owner)
        if found is not None:
            return found
        if handle not in sessions.open_sessions and is_fresh(handle, asker.owner):
            # Offered by a SESSION_LOST answer (or a refusal): its session opens once code runs in it.
            return sessions.open(owner=asker.owner, handle=handle, enlist=False)
        raise SessionLost(_lost_reason(handle, asker), mint_fresh(asker.route, asker.owner))
    own = connection_session(ctx, sessions, asker)
    if own is not None:
        return own
    connection = getattr(ctx.session, "_connection", None)
    if connection is not None and connection.state.get(LOST_KEY):
        raise SessionLost("this connection's session is gone (the server process that held it stopped or "
                          "restarted): its variables and files are lost", mint_fresh(asker.route, asker.owner))
    # A fresh handle, so that an execute refused before it ran leaves no record, and its
    # handle still opens the session later (see `_handles`).
    return sessions.open(owner=asker.owner, handle=mint_fresh(asker.route, asker.owner), enlist=False)


def _lost_reason(handle: str, asker: Asker) -> str:
    where = route(handle)
    if where != asker.route and asker.route != "local":
        return (f"session {handle!r} is not on this server process ({asker.route!r}; its handle names {where!r}): "
                "that process stopped, or the request did not carry the Mcp-Param-Session header a load balancer "
                "routes by (list the tools first); its variables and files are out of reach")
    return (f"no session {handle!r} here: it ended, was idle too long, or its server process restarted; "
            "its variables and files are lost")
