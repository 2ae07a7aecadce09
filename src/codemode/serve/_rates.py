"""Per-token rate limits of `codemode serve` (`codemode.rateLimit`).

Each bearer token (its digest: `_handles.principal`; no token on stdio or a token-less
loopback server: one shared account) has a window of the last minute's `execute` calls and
tool calls. An `execute` past either limit is refused with `RATE_LIMITED` and the seconds until
the window has room again (`retryAfter`); an admitted run may make only the tool calls left in
the window (past them, its calls get MAX_TOOL_CALLS in the code). A tier's token has its own
limits; the others have the defaults. Tier tokens are accepted as bearer tokens beside
`--token` (see `_app`).
"""

from __future__ import annotations

import math
import time
from collections import deque
from dataclasses import dataclass, field

from codemode.config import Config
from codemode.serve._handles import digest
from codemode.serve._limits import Refused

WINDOW = 60.0


class RateLimited(Refused):
    """RATE_LIMITED, with the seconds until a retry can pass."""

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__("RATE_LIMITED", message)
        self.retry_after = retry_after


@dataclass
class _Window:
    executes: deque[float] = field(default_factory=deque)
    calls: deque[float] = field(default_factory=deque)


class Rates:
    """The windows of one server process, by token digest."""

    def __init__(self, config: Config) -> None:
        limit = config.rate_limit
        self.default = (limit.executes_per_minute, limit.tool_calls_per_minute) if limit else (None, None)
        self.tiers = {digest(tier.token): (tier.executes_per_minute or self.default[0],
                                           tier.tool_calls_per_minute or self.default[1])
                      for tier in (limit.tiers if limit else ())}
        self.tokens = tuple(tier.token for tier in (limit.tiers if limit else ()))
        self._windows: dict[str | None, _Window] = {}

    def admit(self, owner: str | None) -> int | None:
        """Count an execute for `owner`; the tool calls it may make (None: no cap).

        Raises:
            RateLimited: a limit of the last minute is reached.
        """
        executes, calls = self.tiers.get(owner or "", self.default)
        if executes is None and calls is None:
            return None
        now = time.monotonic()
        window = self._windows.setdefault(owner, _Window())
        for stamps in (window.executes, window.calls):
            while stamps and now - stamps[0] >= WINDOW:
                stamps.popleft()
        if executes is not None and len(window.executes) >= executes:
            raise _limited(f"{executes} execute calls a minute", window.executes[0], now)
        if calls is not None and len(window.calls) >= calls:
            raise _limited(f"{calls} tool calls a minute", window.calls[0], now)
        window.executes.append(now)
        return None if calls is None else calls - len(window.calls)

    def note_calls(self, owner: str | None, count: int) -> None:
        """The tool calls an admitted run made."""
        if count and self.tiers.get(owner or "", self.default)[1] is not None:
            now = time.monotonic()
            self._windows.setdefault(owner, _Window()).calls.extend([now] * count)


def _limited(what: str, oldest: float, now: float) -> RateLimited:
    retry = max(1, math.ceil(WINDOW - (now - oldest)))
    return RateLimited(f"this token may make {what} (codemode.rateLimit); try again in {retry} s", retry)
