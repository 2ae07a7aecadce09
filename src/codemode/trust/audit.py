"""The audit trail: one JSON line per event of a session, appended to a file that outlives it.

A sink of the session's events, beside the trace: run start and end, search, tool call and
approval decision. Only the session writes it (`AuditLog.event`); no face does. Each line has
the time (UTC, milliseconds), the event, the face, the session and run ids, and what applies
of server, tool, a digest of the arguments, duration, outcome and error code.

Invariants:
- No secret reaches the file: arguments are written only with `auditArguments: true`, and
  then, like every other string in a line (search queries, error messages), through the
  config's `Redactor` (`${VAR}` values and `redact` patterns). The digest is a SHA-256 of the
  arguments' canonical JSON: two calls with the same arguments share it, and it gives back
  nothing of them.
- Lines are whole: each is one `write` on an `O_APPEND` descriptor under an exclusive
  `flock`, so several processes (a serve and a notebook, two CLIs) can share one file.
- The file is created readable by its owner only (0600).

Where it goes (`codemode.audit` in the config): a path; `false` for off; unset for the face's
default, which is on for `codemode serve` (`$XDG_STATE_HOME/codemode/audit.jsonl`, by default
`~/.local/state/codemode/audit.jsonl`) and off elsewhere.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import time
from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from codemode.errors import ConfigError
from codemode.shared.escape import escaped
from codemode.trust.redact import Redactor

if TYPE_CHECKING:
    from codemode.config import Config

try:
    import fcntl
except ImportError:  # Windows: appends of one write each, without the lock
    fcntl = None  # type: ignore[assignment]

__all__ = ["AuditLog", "audit_path", "default_audit_path", "digest", "parse_since", "read_events",
           "render_table"]

#: The faces whose audit trail is on unless the config turns it off.
AUDITED_BY_DEFAULT = frozenset({"serve"})
FILE_NAME = "audit.jsonl"


def default_audit_path(environ: Mapping[str, str] | None = None) -> Path:
    """`$XDG_STATE_HOME/codemode/audit.jsonl` (`~/.local/state/...` when unset or relative)."""
    env = os.environ if environ is None else environ
    state = env.get("XDG_STATE_HOME", "")
    base = Path(state) if os.path.isabs(state) else Path(env.get("HOME") or Path.home()) / ".local" / "state"
    return base / "codemode" / FILE_NAME


def audit_path(config: Config, face: str, environ: Mapping[str, str] | None = None) -> Path | None:
    """The file a session of `face` audits to under `config`, or None when auditing is off."""
    if config.audit is False:
        return None
    if config.audit:
        path = Path(config.audit)
        if not path.is_absolute():
            base = Path(config.source).parent if config.source else Path.cwd()
            path = base / path
        return path
    return default_audit_path(environ) if face in AUDITED_BY_DEFAULT else None


def digest(arguments: Any) -> str:
    """`sha256:` and 32 hex digits of the arguments' canonical JSON."""
    text = json.dumps(arguments, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


def now() -> str:
    """The time as the file writes it: `2026-11-30T09:12:03.123Z`."""
    stamp = datetime.now(timezone.utc)
    return stamp.strftime("%Y-%m-%dT%H:%M:%S.") + f"{stamp.microsecond // 1000:03d}Z"


class AuditLog:
    """An open audit file for one session.

    Args:
        path: the JSON Lines file (created, with its directory, when missing).
        face: "notebook", "kernel", "cli", "serve" or "python".
        session: the session's id.
        redactor: what blanks out secrets in every string written.
        arguments: write the calls' arguments (redacted) besides their digest.

    Raises:
        ConfigError: the file cannot be opened for appending.
    """

    def __init__(self, path: Path, *, face: str, session: str, redactor: Redactor,
                 arguments: bool = False) -> None:
        self.path = path
        self.face = face
        self.session = session
        self._redactor = redactor
        self._arguments = arguments
        self._warned = False
        #: Facts every line carries besides its own: who drives the session now (a face sets
        #: it: `codemode serve` names the client and a digest of the session's handle).
        self.context: dict[str, Any] = {}
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._fd: int | None = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)
        except OSError as exc:
            raise ConfigError(f"cannot open the audit file for appending: {exc.strerror or exc}; "
                              "fix the path or set \"audit\": false", path=str(path), field="codemode.audit") from exc

    @classmethod
    def of(cls, config: Config, *, face: str, session: str) -> AuditLog | None:
        """The session's audit log under `config`, or None when auditing is off for `face`."""
        path = audit_path(config, face)
        if path is None:
            return None
        return cls(path, face=face, session=session, redactor=Redactor.of(config),
                   arguments=config.audit_arguments)

    def event(self, event: str, *, run: str | None = None, server: str | None = None, tool: str | None = None,
              arguments: dict[str, Any] | None = None, duration: float | None = None,
              outcome: str | None = None, code: str | None = None, **extra: Any) -> None:
        """Append one line. `extra` holds event-specific facts (a query, who decided)."""
        line: dict[str, Any] = {"time": now(), "event": event, "face": self.face, "session": self.session,
                                **self.context}
        for key, value in (("run", run), ("server", server), ("tool", tool)):
            if value is not None:
                line[key] = value
        if arguments is not None:
            line["args"] = digest(arguments)
            if self._arguments:
                line["arguments"] = arguments
        if duration is not None:
            line["duration"] = round(duration, 6)
        if outcome is not None:
            line["outcome"] = outcome
        if code is not None:
            line["code"] = code
        line.update({key: value for key, value in extra.items() if value is not None})
        self._write(self._redactor.value(line))

    def _write(self, line: dict[str, Any]) -> None:
        if self._fd is None:
            return
        data = (json.dumps(line, ensure_ascii=False, separators=(",", ":"), default=str) + "\n").encode("utf-8")
        try:
            if fcntl is not None:
                fcntl.flock(self._fd, fcntl.LOCK_EX)
            try:
                written = os.write(self._fd, data)
                while written < len(data):  # a short write: keep going under the lock
                    written += os.write(self._fd, data[written:])
            finally:
                if fcntl is not None:
                    fcntl.flock(self._fd, fcntl.LOCK_UN)
        except OSError as exc:
            # A full disk must not stop the user's work; it must not go unnoticed either.
            if not self._warned:
                self._warned = True
                print(f"codemode: cannot write the audit file {self.path}: {exc.strerror or exc}", file=sys.stderr)

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


# -- reading ---------------------------------------------------------------------------------

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_since(text: str, *, clock: float | None = None) -> datetime:
    """A point in time from `2026-11-30`, `2026-11-30T09:00`, an ISO time with a zone, or an age
    (`90s`, `15m`, `2h`, `7d`, `1w`). Times without a zone are UTC.

    Raises:
        ValueError: the text is neither; the message shows the forms.
    """
    value = text.strip()
    if value[:-1].isdigit() and value[-1:].lower() in _UNITS:
        start = (time.time() if clock is None else clock) - int(value[:-1]) * _UNITS[value[-1].lower()]
        return datetime.fromtimestamp(start, timezone.utc)
    try:
        stamp = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"--since {text!r}: give a time (2026-11-30, 2026-11-30T09:00) or an age "
                         "(90s, 15m, 2h, 7d)") from None
    return stamp if stamp.tzinfo else stamp.replace(tzinfo=timezone.utc)


def _matches_id(value: object, wanted: str) -> bool:
    # Full ids are long: the tail a table shows (or any prefix) is enough to pick one.
    return isinstance(value, str) and (value == wanted or value.startswith(wanted) or value.endswith(wanted))


def read_events(path: Path, *, since: datetime | None = None, session: str | None = None,
                run: str | None = None) -> Iterator[dict[str, Any]]:
    """The events of an audit file, oldest first, filtered; a line that is not JSON is skipped."""
    with path.open(encoding="utf-8", errors="replace") as lines:
        for text in lines:
            try:
                event = json.loads(text)
            except json.JSONDecodeError:
                continue
            if not isinstance(event, dict):
                continue
            if session and not _matches_id(event.get("session"), session):
                continue
            if run and not _matches_id(event.get("run"), run):
                continue
            if since is not None:
                try:
                    stamp = datetime.fromisoformat(str(event.get("time", "")).replace("Z", "+00:00"))
                except ValueError:
                    continue
                if stamp < since:
                    continue
            yield event


def _short(value: object) -> str:
    return str(value)[-8:] if value else ""


def render_table(events: Iterable[dict[str, Any]]) -> str:
    """The events as an aligned text table (ids cut to their last 8 characters)."""
    header = ("time", "face", "session", "run", "event", "what", "outcome", "code", "ms")
    rows = [header]
    for event in events:
        what = ".".join(str(event[k]) for k in ("server", "tool") if event.get(k))
        if event.get("event") == "search":
            what = f"search {event.get('query', '')!r}"
        outcome = str(event.get("outcome", ""))
        if event.get("by"):
            outcome += f" ({event['by']})"
        duration = event.get("duration")
        rows.append((str(event.get("time", "")), str(event.get("face", "")), _short(event.get("session")),
                     _short(event.get("run")), str(event.get("event", "")), what, outcome,
                     str(event.get("code", "") or ""), "" if duration is None else f"{duration * 1000:.1f}"))
    cells = [[escaped(cell, lines=False) for cell in row] for row in rows]  # names come from the worker
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    return "\n".join("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip() for row in cells)
