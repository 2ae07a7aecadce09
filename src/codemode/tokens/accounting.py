"""The session's token bookkeeping: what a run would have cost as classic tool calling.

For each run, `Accountant.account` builds the two columns of `codemode.tokens.metrics.account`:

- classic tool calling: the compact wire JSON of every tool definition of the servers the
  run may use (what a classic client puts in a model's context), then each call's
  arguments and each result as they would pass through the model;
- code mode: the API surface the model read to write the code (all the stubs of those
  servers, or, with `disclosure="search"`, only the search results the code asked for),
  the code itself, and the run's output (printed text and result).

The large texts (definitions and stubs of a server) are built and counted once per server.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

from codemode.hub import ServerState
from codemode.schema import NameMap, accessors_stub, server_stub
from codemode.tokens.metrics import TokenAccount, Tokenizer, account, default_tokenizer

DISCLOSURES = ("stubs", "search")


class Accountant:
    """Counts tokens for the runs of one session, caching the per-server texts."""

    def __init__(self, disclosure: str = "stubs", tokenizer: Tokenizer | None = None) -> None:
        if disclosure not in DISCLOSURES:
            raise ValueError(f"disclosure must be 'stubs' or 'search', not {disclosure!r}")
        self.disclosure = disclosure
        self._tokenizer = tokenizer
        self._texts: dict[str, tuple[str, str]] = {}  # server key → (definitions JSON, stub text)
        # The same servers' texts joined, kept: the same string object each run, so its
        # count is a lookup of an already hashed key (a notebook's runs use the same servers).
        self._joined: dict[tuple[str, ...], tuple[str, str]] = {}
        self.total: TokenAccount | None = None

    @property
    def tokenizer(self) -> Tokenizer:
        if self._tokenizer is None:
            self._tokenizer = _Memo(default_tokenizer())
        return self._tokenizer

    def learn(self, key: str, state: ServerState, names: NameMap,
              notes: dict[str, str | None] | None = None) -> None:
        """Record a connected server's definitions and stub text (once per connection);
        `notes` are the tools' approval notes by MCP name (see `schema.stub`)."""
        definitions = json.dumps(state.wire_tools, separators=(",", ":"), ensure_ascii=False)
        self._texts[key] = (definitions, server_stub(key, state.tools, names, notes=notes, offers=state.offers))
        self._joined.clear()

    def stub_text(self, key: str) -> str:
        """The stub text of one server, as the "stubs" disclosure shows it (without the
        accessor classes: `stubs_text` puts them once before the servers)."""
        return self._texts[key][1]

    def stubs_text(self, keys: Sequence[str]) -> str:
        """The stubs of these servers as one text: the servers' base and accessor classes
        once (`schema.accessors_stub`), then each server's stub text."""
        return "\n\n".join([accessors_stub(), *(self._texts[key][1] for key in keys)]) if keys else ""

    def warm(self) -> None:
        """Load the tokenizer and count the per-server texts known so far, ahead of the first
        run. (A session warms before its servers are known: the load is what matters.)"""
        tokenizer = self.tokenizer
        for definitions, stubs in list(self._texts.values()):  # a snapshot: it may run on a thread
            tokenizer.count(definitions)
            tokenizer.count(stubs)

    def account(
        self,
        servers: Iterable[str],
        *,
        arguments: Sequence[str],
        results: Sequence[str],
        searches: Sequence[str],
        code: str,
        output: str,
        counted: dict[str, int] | None = None,
    ) -> TokenAccount:
        """The run's account; `counted` holds classic tokens already counted during the run
        (a big run counts its arguments and results in batches, keeping only the totals)."""
        keys = tuple(key for key in servers if key in self._texts)
        joined = self._joined.get(keys)
        if joined is None:
            joined = ("".join(self._texts[key][0] for key in keys), self.stubs_text(keys))
            self._joined[keys] = joined
        definitions, stubs = joined
        surface = stubs if self.disclosure == "stubs" else "\n\n".join(searches)
        run = account(self.tokenizer, definitions=definitions, arguments=arguments, results=results,
                      surface=surface, code=code, output=output)
        if counted:
            classic = {key: value + counted.get(key, 0) for key, value in run.classic.items()}
            run = TokenAccount(run.tokenizer, run.exact, classic, dict(run.code_mode))
        self.total = run if self.total is None else self.total + run
        return run


class _Memo:
    """A tokenizer that remembers the counts of large texts (definitions, stubs)."""

    def __init__(self, inner: Tokenizer) -> None:
        self._inner = inner
        self.name = inner.name
        self.exact = inner.exact
        self._counts: dict[str, int] = {}

    def count(self, text: str) -> int:
        if len(text) < 2048:
            return self._inner.count(text)
        if text not in self._counts:
            self._counts[text] = self._inner.count(text)
        return self._counts[text]


def output_text(stdout: str, stderr: str, result: dict[str, Any] | None) -> str:
    """What a run hands back to a model: its printed text and its result."""
    parts = [stdout, stderr]
    if result is not None:
        kind = result.get("kind")
        if kind == "json":
            parts.append(json.dumps(result.get("value"), ensure_ascii=False))
        elif kind == "repr":
            parts.append(str(result.get("text", "")))
        elif kind == "mime":  # a model reads the text form of a table or a figure
            parts.append(str((result.get("data") or {}).get("text/plain", "")))
        else:
            parts.append(f"<{kind} {result.get('mimeType', '')}>")
    return "".join(parts)
