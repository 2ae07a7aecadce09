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

Two kinds, alike on the wire:
- A session's handle (`mint`): random; the session's record holds it.
- A fresh handle (`mint_fresh`), the one a `SESSION_LOST` answer offers: no record holds it
  until it is used, so a request with an unknown handle costs this process nothing. Its
  SECRET is its minting time, a nonce and a MAC (a key of this process, never stored) over
  them, its route and the token's digest, so this process alone recognises it (`is_fresh`),
  for that token alone, for `FRESH_SECONDS`: its first `execute` opens its session under it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
import struct
import time
from collections.abc import Mapping

#: The request header a proxy names this backend in (HAProxy: `http-send-name-header`).
ROUTE_HEADER = "x-codemode-backend"
#: The route of handles minted with no proxy in front.
DEFAULT_ROUTE = "local"
_ROUTE = re.compile(r"[A-Za-z0-9_-]{1,40}")
_HANDLE = re.compile(r"[A-Za-z0-9_-]{1,40}\.[A-Za-z0-9_-]{24}")
#: Seconds a fresh handle can open its session. Far below the day a session idle with no
#: worker is remembered (`_sessions.FORGET_SECONDS`): once that session is forgotten, its
#: handle can no longer open a new one unannounced; it answers SESSION_LOST like any other.
FRESH_SECONDS = 3600
# This process's key for fresh handles: another process (or this one restarted) cannot
# recognise them, so they answer SESSION_LOST there, as a lost session's handle does.
_KEY = secrets.token_bytes(32)
_NONCE = 5  # bytes; with the 4 of the time and the 9 of the MAC: 18 bytes, 24 characters


def route_of(headers: Mapping[str, str] | None) -> str:
    """The route a proxy named this backend by, when it is a plain name; else the default."""
    value = (headers or {}).get(ROUTE_HEADER, "")
    return value if _ROUTE.fullmatch(value) else DEFAULT_ROUTE


def mint(route: str) -> str:
    """A new handle on `route`."""
    return f"{route}.{secrets.token_urlsafe(18)}"


def mint_fresh(route: str, owner: str | None, now: float | None = None) -> str:
    """A handle for a session not opened yet, on `route`, for the token whose digest is `owner`."""
    stamp = struct.pack(">I", int(time.time() if now is None else now)) + secrets.token_bytes(_NONCE)
    secret = base64.urlsafe_b64encode(stamp + _tag(route, stamp, owner)).decode("ascii")
    return f"{route}.{secret}"


def is_fresh(handle: str, owner: str | None, now: float | None = None) -> bool:
    """Whether `handle` is a fresh handle this process minted for `owner` in the last `FRESH_SECONDS`."""
    if not well_formed(handle):
        return False
    where, _, secret = handle.partition(".")
    raw = base64.urlsafe_b64decode(secret)
    stamp, tag = raw[:4 + _NONCE], raw[4 + _NONCE:]
    if not hmac.compare_digest(tag, _tag(where, stamp, owner)):
        return False
    age = (time.time() if now is None else now) - struct.unpack(">I", stamp[:4])[0]
    return 0 <= age + 60 and age < FRESH_SECONDS  # a minute of clock skew back


def _tag(route: str, stamp: bytes, owner: str | None) -> bytes:
    message = b"\0".join((b"codemode-fresh-handle", route.encode(), stamp, (owner or "").encode()))
    return hmac.new(_KEY, message, hashlib.sha256).digest()[:18 - 4 - _NONCE]


def well_formed(handle: str) -> bool:
    """Whether `handle` has a handle's shape, `ROUTE.SECRET`."""
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
