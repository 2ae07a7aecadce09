"""Cassettes: record a session's tool lists and calls to a file, replay them without servers.

Replay lives at the hub's boundary: `open_hub(config)` gives the session a live `Hub`, a
`RecordingHub` around one, or a `ReplayHub` in its place, each with the hub's interface.
A `TapHub` around a borrowed hub writes one session's calls to a `SessionCassette` (the
transcripts of `codemode serve --record`).

Which one comes from the config (`codemode.cassette`, `codemode.cassetteMode`: record |
replay | auto) or, over it, the environment a test runner sets for a kernel:
`$CODEMODE_CASSETTE`, `$CODEMODE_CASSETTE_MODE` (record | replay | auto | live) and
`$CODEMODE_CASSETTE_STRICT` (1: a call not in the cassette fails with NOT_RECORDED).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from codemode.cassette._file import CassetteError, Scrubber, record_anew
from codemode.cassette._hubs import RecordingHub, ReplayHub, argument_diff
from codemode.cassette._tap import SessionCassette, TapHub
from codemode.config import Config
from codemode.errors import CodemodeError
from codemode.trust.redact import Redactor

Mode = Literal["record", "replay", "auto", "live"]
_MODES = ("record", "replay", "auto", "live")


@dataclass(frozen=True)
class CassetteSettings:
    """Where a session's cassette is and what it does with it (`mode` live: no cassette)."""

    path: Path | None
    mode: Mode
    strict: bool = False

    def describe(self, written: str | None = None) -> str:
        """`replaying PATH (strict)`; `written`: the path as the user wrote it, shown instead."""
        if self.mode == "live" or self.path is None:
            return "live servers, no cassette"
        verb = {"record": "recording to", "replay": "replaying", "auto": "replaying (recording what is new in)"}
        return f"{verb[self.mode]} {written or self.path}" + (" (strict)" if self.strict and self.mode == "replay" else "")


def settings_of(config: Config, environ: Any = None) -> CassetteSettings:
    """The cassette settings of a config, with the environment's over them."""
    env = os.environ if environ is None else environ
    base = Path(config.source).parent if config.source else Path.cwd()
    path_text = env.get("CODEMODE_CASSETTE") or config.cassette
    mode = env.get("CODEMODE_CASSETTE_MODE") or config.cassette_mode or ("replay" if path_text else "live")
    if mode not in _MODES:
        raise CodemodeError(f"cassette mode {mode!r} is not one of: {', '.join(_MODES)}")
    if mode != "live" and not path_text:
        raise CodemodeError(f"cassette mode {mode} needs a cassette file: set codemode.cassette or "
                            "$CODEMODE_CASSETTE")
    path = (base / Path(path_text).expanduser()).resolve() if path_text and mode != "live" else None
    strict = env.get("CODEMODE_CASSETTE_STRICT", "") not in ("", "0")
    return CassetteSettings(path, mode, strict)  # type: ignore[arg-type]


def open_hub(config: Config, settings: CassetteSettings | None = None) -> Any:
    """The hub a session talks to: live, recording, or replaying, as the settings say."""
    from codemode.hub import Hub

    settings = settings if settings is not None else settings_of(config)
    if settings.mode == "live" or settings.path is None:
        return Hub(config)
    scrubber = Scrubber(settings.path.parent, Redactor.of(config))
    if settings.mode == "record":
        return RecordingHub(config, settings.path, scrubber)
    if settings.mode == "replay" and not settings.path.is_file():
        raise CodemodeError(f"no cassette at {settings.path} to replay; record one first "
                            "(%codemode record PATH, codemode exec --record PATH, codemode test --record)")
    return ReplayHub(config, settings.path, scrubber, strict=settings.strict and settings.mode == "replay",
                     record_missing=settings.mode == "auto")


__all__ = ["CassetteError", "CassetteSettings", "RecordingHub", "ReplayHub", "SessionCassette", "TapHub",
           "argument_diff", "open_hub", "record_anew", "settings_of"]
