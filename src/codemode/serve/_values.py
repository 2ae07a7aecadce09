"""Values too big for a result, kept in their session and read back with `resources/read`.

A kept value is one or more parts (`_links.chunks`: each part's answer stays under a
transport's event limit), at `codemode://values/ROUTE.SECRET` (one part) or `.../N` (part N):
the route is the session's (a load balancer sends the read to the process that holds it, from
the `Mcp-Name` header of a 2026-07-28 request), the secret unguessable. A value answers only
the token that opened its session, lives as long as the session (its idle reclaim keeps it;
being forgotten or closed drops it), and a session keeps at most `SESSION_BYTES` of them: the
oldest go first. A value over `VALUE_BYTES` is not kept at all (its preview says so).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field

import mcp_types as types

from codemode.serve._handles import mint, route
from codemode.serve._links import CHUNK_BYTES, Link, chunks

SCHEME = "codemode://values/"
#: Bytes of kept values one session holds at most; older values are dropped past it.
SESSION_BYTES = 64 * 1024 * 1024
#: The largest value kept (a bigger one is a run's mistake: print less).
VALUE_BYTES = 32 * 1024 * 1024


@dataclass
class Kept:
    owner: str  # the handle of the session that keeps it
    parts: list[str]
    mime_type: str
    blob: bool  # parts are base64 (an image)
    size: int


@dataclass
class ValueStore:
    """Every kept value of one server process, by id, and each session's in order."""

    values: dict[str, Kept] = field(default_factory=dict)
    by_session: dict[str, OrderedDict[str, int]] = field(default_factory=dict)

    def keep(self, session: str, name: str, text: str, mime_type: str) -> list[Link]:
        """Keep `text` for `session` (a handle); the links that read it back, none if too big."""
        blob = not mime_type.startswith("text/") and mime_type != "application/json"
        size = len(text.encode("utf-8", "surrogatepass")) if not blob else len(text)
        if size > VALUE_BYTES:
            return []
        parts = _blob_chunks(text) if blob else chunks(text)
        value_id = mint(route(session))
        self.values[value_id] = Kept(session, parts, mime_type, blob, size)
        held = self.by_session.setdefault(session, OrderedDict())
        held[value_id] = size
        while sum(held.values()) > SESSION_BYTES and len(held) > 1:
            old, _ = held.popitem(last=False)
            self.values.pop(old, None)
        if len(parts) == 1:
            return [Link(SCHEME + value_id, name, mime_type, size)]
        return [Link(f"{SCHEME}{value_id}/{n}", f"{name} (part {n} of {len(parts)})", mime_type, len(part))
                for n, part in enumerate(parts, 1)]

    def read(self, uri: str, session_ok: Callable[[str], bool]) -> types.ReadResourceResult | None:
        """The answer for a value's URI, if it exists and `session_ok(handle)` says its
        session answers the one asking."""
        if not uri.startswith(SCHEME):
            return None
        value_id, _, number = uri[len(SCHEME):].partition("/")
        kept = self.values.get(value_id)
        if kept is None or not session_ok(kept.owner):
            return None
        index = int(number) - 1 if number.isdigit() else (0 if not number else -1)
        if not 0 <= index < len(kept.parts) or (number and len(kept.parts) == 1):
            return None
        part = kept.parts[index]
        content: types.TextResourceContents | types.BlobResourceContents
        if kept.blob:
            content = types.BlobResourceContents(uri=uri, mime_type=kept.mime_type, blob=part)
        else:
            content = types.TextResourceContents(uri=uri, mime_type=kept.mime_type, text=part)
        return types.ReadResourceResult(contents=[content])

    def drop(self, session: str) -> None:
        """Forget the values of a session that ended or was forgotten."""
        for value_id in self.by_session.pop(session, {}):
            self.values.pop(value_id, None)


def _blob_chunks(data: str) -> list[str]:
    """Base64 in parts that decode on their own (whole 4-character groups)."""
    step = CHUNK_BYTES - CHUNK_BYTES % 4
    return [data[start:start + step] for start in range(0, len(data), step)] or [""]

