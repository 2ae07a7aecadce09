"""What must never reach a file written for later reading: secrets, blanked out.

Audit files and cassettes keep what a session did, and both outlive it; neither may carry a
credential. A `Redactor` blanks out two things wherever they appear in a string, a JSON
value or a JSON key: the values that came from `${VAR}` expansion in the config (tokens in
headers, env and args: `Config.secrets`) and the matches of the config's `redact` regular
expressions. Longer secrets are replaced first, so one that contains another goes whole.

Standard library only, cheap to build; `Redactor.of(config)` is the usual way in.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from codemode.errors import ConfigError

if TYPE_CHECKING:
    from codemode.config import Config

__all__ = ["REDACTED", "Redactor"]

#: What a secret becomes.
REDACTED = "[REDACTED]"


class Redactor:
    """Blanks out literal secrets and pattern matches in text and JSON values.

    Args:
        literals: exact strings to remove (the config's `${VAR}` values).
        patterns: regular expressions whose matches are removed (the config's `redact`).
    """

    def __init__(self, literals: Iterable[str] = (), patterns: Iterable[str] = ()) -> None:
        parts = [re.escape(s) for s in sorted(set(filter(None, literals)), key=len, reverse=True)]
        for pattern in patterns:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ConfigError(f"{pattern!r} is not a regular expression ({exc})", field="codemode.redact") from None
            parts.append(f"(?:{pattern})")
        self._regex = re.compile("|".join(parts)) if parts else None

    @classmethod
    def of(cls, config: Config) -> Redactor:
        """The redactor of a config: its `${VAR}` values and its `redact` patterns."""
        return cls(config.secrets, config.redact)

    def __bool__(self) -> bool:
        return self._regex is not None

    def text(self, text: str) -> str:
        """`text` with every secret replaced by `REDACTED`."""
        if self._regex is None:
            return text
        return self._regex.sub(REDACTED, text)

    def value(self, value: Any) -> Any:
        """A copy of a JSON value with every string (keys too) redacted."""
        if self._regex is None:
            return value
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {self.text(str(k)): self.value(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [self.value(v) for v in value]
        return value
