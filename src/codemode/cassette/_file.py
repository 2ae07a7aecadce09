"""The cassette file: JSON Lines, one object per line, keys sorted, diff-friendly.

    {"codemode": "cassette", "version": 1}
    {"kind": "server", "server": "demo", "tools": [...tools/list, wire form...], ...}
    {"kind": "call", "server": "demo", "tool": "get_order", "arguments": {...},
     "result": {...CallToolResult, wire form...} | "error": {"code", "problem"},
     "progress": [...], "logs": [...]}
    {"kind": "approval", "server": "demo", "tool": "cancel_order", "arguments": {...},
     "decision": "approved" | "denied", "scope": "once" | "session", "by": "a person (kernel stdin)"}

A person's answer to an approval question is a line of its own, written when it was given:
before the line of the call it let through (a denied call has none). Which call it answered
is its server, tool and arguments; who, its `by`; when, its place among the calls (no clock
time: see the invariants).

A line's `order` (when there is one) keeps what sorting the keys would lose: the recorded
key order of each object below it whose keys are not sorted, by JSON pointer. A schema's
`properties` are a tool's argument order, and a result's keys are how it prints.

Invariants:
- Nothing of ours that differs between machines or days is written: no dates, no durations,
  no absolute paths of ours. The cassette's own folder is written as `${CASSETTE_DIR}` and
  put back on reading, so a cassette recorded beside a notebook replays on another machine.
- Redaction happens before anything is written: every match of the `redact` patterns and
  every value a `${VAR}` of the config expanded to (`Config.secrets`, four characters or more)
  becomes `[REDACTED]`, by the config's `Redactor`. Replay matches a call's arguments after
  the same redaction.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from codemode.errors import CodemodeError
from codemode.trust.redact import Redactor, map_strings

FORMAT = "cassette"
VERSION = 1
DIR_PLACEHOLDER = "${CASSETTE_DIR}"


class CassetteError(CodemodeError):
    """A cassette file that cannot be read: not ours, a newer version, a broken line."""

    code = "CASSETTE"


class Scrubber:
    """The config's redaction and the folder placeholder, applied to every string of a record
    (keys too). Redaction is `codemode.trust.redact.Redactor`'s, the same as the audit log's."""

    def __init__(self, directory: Path, redactor: Redactor) -> None:
        self.directory = str(directory.resolve())
        self.redactor = redactor

    def scrub(self, value: Any) -> Any:
        """A copy for writing: secrets and patterns redacted, our folder as a placeholder."""
        return map_strings(value, self._scrub_text)

    def restore(self, value: Any) -> Any:
        """A copy as read: the placeholder back to this machine's folder."""
        return map_strings(value, lambda text: text.replace(DIR_PLACEHOLDER, self.directory))

    def _scrub_text(self, text: str) -> str:
        return self.redactor.text(text).replace(self.directory, DIR_PLACEHOLDER)


@dataclass
class Recording:
    """What a cassette holds, read into memory."""

    servers: dict[str, dict[str, Any]] = field(default_factory=dict)
    calls: list[dict[str, Any]] = field(default_factory=list)
    approvals: list[dict[str, Any]] = field(default_factory=list)


def read(path: Path, scrubber: Scrubber) -> Recording:
    """Read a cassette; a missing file is an empty recording."""
    recording = Recording()
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return recording
    except OSError as exc:
        raise CassetteError(f"cassette {path}: cannot read it ({exc.strerror})") from None
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
        except ValueError as exc:
            raise CassetteError(f"cassette {path}, line {number}: not JSON ({exc}); "
                                "record it again with --record") from None
        if number == 1:
            _check_header(path, entry)
            continue
        orders = entry.pop("order", None)
        entry = scrubber.restore(reorder(entry, orders) if isinstance(orders, dict) else entry)
        if entry.get("kind") == "server":
            recording.servers[str(entry.get("server"))] = entry
        elif entry.get("kind") == "call":
            recording.calls.append(entry)
        elif entry.get("kind") == "approval":
            recording.approvals.append(entry)
    return recording


def _check_header(path: Path, entry: Any) -> None:
    if not isinstance(entry, dict) or entry.get("codemode") != FORMAT:
        raise CassetteError(f"cassette {path}: not a codemode cassette (its first line is no header)")
    version = entry.get("version")
    if version != VERSION:
        raise CassetteError(f"cassette {path}: format version {version}, this codemode reads {VERSION}; "
                            "record it again with --record, or upgrade jupyter-codemode")


# Cassettes this process has begun recording: a later session of the same process (a
# notebook's `%codemode config`, a restart) appends to it rather than starting it over.
_begun: set[Path] = set()


def record_anew(path: Path) -> None:
    """The next recording to `path` in this process starts the file over (`%codemode record`)."""
    _begun.discard(path)


class Writer:
    """Appends records to a cassette, one line each, written and flushed at once (a kernel
    that dies mid-notebook keeps what it recorded)."""

    def __init__(self, path: Path, scrubber: Scrubber, *, fresh: bool) -> None:
        self.path = path
        self._scrubber = scrubber
        path.parent.mkdir(parents=True, exist_ok=True)
        fresh = fresh and path not in _begun
        _begun.add(path)
        if fresh or not path.is_file() or path.stat().st_size == 0:
            path.write_text(_line({"codemode": FORMAT, "version": VERSION}), encoding="utf-8")

    def write(self, entry: dict[str, Any]) -> None:
        entry = self._scrubber.scrub(entry)
        orders = key_orders(entry)
        if orders:
            entry["order"] = orders
        with self.path.open("a", encoding="utf-8") as out:
            out.write(_line(entry))


def key_orders(value: Any, path: str = "") -> dict[str, list[str]]:
    """Where the file's sorted keys lose an order that matters (a schema's `properties` give
    a tool's argument order; a result's keys, how it prints): JSON pointer → keys, for every
    object below the top whose keys are not in sorted order."""
    found: dict[str, list[str]] = {}
    if isinstance(value, dict):
        keys = list(value)
        if path and keys != sorted(keys):
            found[path] = keys
        for key, item in value.items():
            found.update(key_orders(item, f"{path}/{_escape(str(key))}"))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found.update(key_orders(item, f"{path}/{index}"))
    return found


def reorder(value: Any, orders: dict[str, list[str]], path: str = "") -> Any:
    """`value` with the objects' keys back in their recorded order (see `key_orders`)."""
    if isinstance(value, dict):
        order = orders.get(path, [])
        keys = [k for k in order if k in value] + [k for k in value if k not in order]
        return {k: reorder(value[k], orders, f"{path}/{_escape(str(k))}") for k in keys}
    if isinstance(value, list):
        return [reorder(item, orders, f"{path}/{index}") for index, item in enumerate(value)]
    return value


def _escape(key: str) -> str:
    return key.replace("~", "~0").replace("/", "~1")  # RFC 6901


def _line(entry: dict[str, Any]) -> str:
    return json.dumps(entry, sort_keys=True, ensure_ascii=False, allow_nan=False) + "\n"
