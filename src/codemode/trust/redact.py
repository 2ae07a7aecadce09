"""What must never reach a file written for later reading: secrets, blanked out.

Audit files and cassettes keep what a session did, and both outlive it; neither may carry a
credential. A `Redactor` blanks out two things wherever they appear in a string, a JSON
value or a JSON key: the values that came from `${VAR}` expansion in the config (tokens in
headers, env and args: `Config.secrets`) and the matches of the config's `redact` regular
expressions. It is the one redaction of the package: the audit log and the cassette both use it.

Invariants:
- Literal secrets go first and whole: longer ones before shorter, so one that contains another
  goes whole, and before any pattern, so a pattern match that overlaps a secret cannot leave
  a piece of it behind.

Standard library only, cheap to build; `Redactor.of(config)` is the usual way in.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from codemode.errors import ConfigError

if TYPE_CHECKING:
    from codemode.config import Config

__all__ = ["REDACTED", "Redactor", "map_strings"]

#: What a secret becomes.
REDACTED = "[REDACTED]"


class Redactor:
    """Blanks out literal secrets and pattern matches in text and JSON values.

    Args:
        literals: exact strings to remove (the config's `${VAR}` values).
        patterns: regular expressions whose matches are removed (the config's `redact`).

    Raises:
        ConfigError: a pattern is not a regular expression (field `codemode.redact`).
    """

    def __init__(self, literals: Iterable[str] = (), patterns: Iterable[str] = ()) -> None:
        secrets = sorted(set(filter(None, literals)), key=len, reverse=True)
        self._literals = re.compile("|".join(map(re.escape, secrets))) if secrets else None
        parts = []
        for pattern in patterns:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ConfigError(f"{pattern!r} is not a regular expression ({exc})", field="codemode.redact") from None
            parts.append(f"(?:{pattern})")
        self._patterns = re.compile("|".join(parts)) if parts else None

    @classmethod
    def of(cls, config: Config) -> Redactor:
        """The redactor of a config: its `${VAR}` values and its `redact` patterns."""
        return cls(config.secrets, config.redact)

    def __bool__(self) -> bool:
        return self._literals is not None or self._patterns is not None

    def text(self, text: str) -> str:
        """`text` with every secret replaced by `REDACTED`."""
        if self._literals is not None:
            text = self._literals.sub(REDACTED, text)
        if self._patterns is not None:
            text = self._patterns.sub(REDACTED, text)
        return text

    def value(self, value: Any) -> Any:
        """A copy of a JSON value with every string (keys too) redacted."""
        return map_strings(value, self.text) if self else value


def map_strings(value: Any, change: Callable[[str], str]) -> Any:
    """A copy of a JSON value with `change` applied to every string in it, object keys too.

    Tuples come back as lists and non-string keys as strings, as JSON would write them.
    """
    if isinstance(value, str):
        return change(value)
    if isinstance(value, dict):
        return {change(str(k)): map_strings(v, change) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [map_strings(v, change) for v in value]
    return value
