"""The token line of `codemode serve`: what this session's model read, against classic calling.

Code mode's side counts what the model behind this session read of this server: the
`tools/list` it got (once per session), each `search` result counted toward it (a search
that passes the session's handle as `session`, in either era, or any search of a handshake-era
connection whose own session it is: see `_search`), the code it wrote and each `execute`
result it read. Classic tool calling's side is what the same work would have cost
with every upstream tool listed to the model: their definitions once, and each call's arguments
and result. Both add up over the session. The tokenizer is o200k_base when `bpe-openai` loads
(a dependency), else characters / 4, and then every figure is marked as an estimate (`~`).
`codemode.showTokens: false` drops the line.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from codemode.serve._sessions import ClientSession, Sessions
    from codemode.trace import RunReport


def count(sessions: Sessions, text: str) -> int:
    return int(sessions.root.accountant.tokenizer.count(text))


def note_search(sessions: Sessions, client: ClientSession | None, text: str) -> None:
    """A search result the model read, on its session's account (when it names one)."""
    if client is not None:
        client.tokens_read += count(sessions, text)


def note_run(sessions: Sessions, client: ClientSession, report: RunReport, code: str, text: str,
             listing: list[dict[str, Any]]) -> dict[str, Any]:
    """Add a run to its session's account; the account as `structuredContent.sessionTokens`."""
    tokenizer = sessions.root.accountant.tokenizer
    if not client.tokens_listed:
        client.tokens_listed = True
        client.tokens_read += count(sessions, json.dumps(listing, separators=(",", ":")))
        if report.tokens is not None:
            client.tokens_classic += report.tokens.classic["definitions"]
    client.tokens_read += count(sessions, code) + count(sessions, text)
    if report.tokens is not None:
        client.tokens_classic += report.tokens.classic["arguments"] + report.tokens.classic["results"]
    return {"read": client.tokens_read, "classic": client.tokens_classic, "tokenizer": tokenizer.name,
            "exact": bool(tokenizer.exact)}


def token_line(account: dict[str, Any]) -> str:
    mark = "" if account["exact"] else "~"
    line = f"{mark}{account['read']:,} tokens read this session vs {mark}{account['classic']:,} classic"
    return line if account["exact"] else line + " (estimate)"
