"""mcpServers entries for the fault suite: the demo server, and the rogue ones."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

from codemode.config import demo_config

ROGUE = str(Path(__file__).with_name("rogue_server.py"))
SRC = str(Path(__file__).resolve().parents[2] / "src")


def demo() -> dict[str, Any]:
    return demo_config().servers["demo"].model_dump(exclude_none=True, exclude_defaults=True)


def rogue(mode: str, *args: str, **settings: Any) -> dict[str, Any]:
    return {"command": sys.executable, "args": [ROGUE, mode, *args], **settings}


def write(path: Path, servers: dict[str, dict[str, Any]], **settings: Any) -> Path:
    body: dict[str, Any] = {"mcpServers": servers}
    if settings:
        body["codemode"] = settings
    path.write_text(json.dumps(body), encoding="utf-8")
    return path


def cli_env() -> dict[str, str]:
    """The environment for `python -m codemode` from this checkout."""
    env = {k: v for k, v in os.environ.items() if k != "CODEMODE_CONFIG"}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [SRC, os.environ.get("PYTHONPATH")]))
    return env
