"""Session handles of `codemode serve`: what a client passes back to continue a session.

A handle is `ROUTE.SECRET`. SECRET is 24 random URL-safe characters (144 bits): nobody guesses
one. ROUTE names the server process that minted it, so a load balancer in front can send the
session's later requests back to it without reading the body: it is the name the proxy gives
this backend in the `X-Codemode-Backend` request header (HAProxy's `http-send-name-header`,
see deploy/haproxy.cfg), else `local`. A 2026-07-28 client mirrors the handle into the
`Mcp-Param-Session` header (the `execute` schema's `x-mcp-header`), which the proxy reads.

A handle names nothing secret (no token, no path, no user) and is never authentication: the
bearer token still applies, and a session answers only requests with the token that opened
it. Logs, transcripts and the audit name a session by a digest of its handle, never the handle.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Mapping

#: The request header a proxy names this backend in (HAProxy: `http-send-name-header`).
ROUTE_HEADER = "x-codemode-backend"
#: The route of handles minted with no proxy in front.
DEFAULT_ROUTE = "local"
_ROUTE = re.compile(r"[A-Za-z0-9_-]{1,40}")
_HANDLE = re.compile(r"[A-Za-z0-9_-]{1,40}\.[A-Za-z0-9_-]{24}")


def route_of(headers: Mapping[str, str] | None) -> str:
    """The route a proxy named this backend by, when it is a plain name; else the default."""
    value = (headers or {}).get(ROUTE_HEADER, "")
    return value if _ROUTE.fullmatch(value) else DEFAULT_ROUTE


def mint(route: str) -> str:
    """A new handle on `route`."""
    return f"{route}.{secrets.token_urlsafe(18)}"


def well_formed(handle: str) -> bool:
    return _HANDLE.fullmatch(handle) is not None


def route(handle: str) -> str:
    return handle.partition(".")[0]


def digest(text: str) -> str:
    """A short one-way name for a handle or a token (logs, audit, ownership)."""
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:16]


def principal(headers: Mapping[str, str] | None) -> str | None:
    """Who is asking, as far as a session's ownership goes: a digest of the bearer token, or None."""
    value = (headers or {}).get("authorization", "")
    scheme, _, token = value.partition(" ")
    return digest(token.strip()) if scheme.lower() == "bearer" and token.strip() else None
