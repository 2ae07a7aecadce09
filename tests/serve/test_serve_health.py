"""`GET /health` as a load balancer reads it: 503 when no upstream server is usable, 200 with
`degraded` when some are, and which ones (the names only with the token)."""

from __future__ import annotations

import json
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from _serving import start_http, write_config

from codemode.config import demo_config

SETTLE = 60.0
"""Seconds for the servers to connect or fail (a missing command fails at once)."""
BROKEN = {"command": sys.executable, "args": ["-c", "import sys; sys.exit('no such server')"]}


def _health(url: str, token: str | None = None) -> tuple[int, dict[str, Any]]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    request = urllib.request.Request(url.replace("/mcp", "/health"), headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as refused:
        with refused:
            return refused.code, json.loads(refused.read())


def _settled(url: str, token: str | None = None) -> tuple[int, dict[str, Any]]:
    """/health once no server is still starting (connected or failed)."""
    deadline = time.monotonic() + SETTLE
    while True:
        code, report = _health(url, token)
        if report["status"] != "starting" or time.monotonic() > deadline:
            return code, report
        time.sleep(0.05)


def _demo() -> dict[str, Any]:
    demo = demo_config().servers["demo"]
    return {"command": demo.command, "args": demo.args, "env": demo.env}  # type: ignore[union-attr]


def test_health_is_200_degraded_and_names_the_failed_server_when_some_are_usable(tmp_path: Path) -> None:
    config = write_config(tmp_path / "mcp.json", {"poolSize": 0}, servers={"demo": _demo(), "broken": BROKEN})
    for server in start_http(config, env={"CODEMODE_SERVE_TOKEN": "tok"}):
        code, report = _settled(server.url, "tok")
        assert code == 200 and report["status"] == "degraded", report
        assert report["usable"] == ["demo"] and report["unusable"] == ["broken"]
        assert report["servers"]["broken"]["status"] == "failed"
        assert _health(server.url) == (200, {"status": "degraded"})  # without the token: no names


def test_health_is_503_when_no_upstream_server_is_usable(tmp_path: Path) -> None:
    config = write_config(tmp_path / "mcp.json", {"poolSize": 0}, servers={"broken": BROKEN})
    for server in start_http(config):
        code, report = _settled(server.url)
        assert code == 503 and report["status"] == "unavailable", report
        assert report["usable"] == [] and report["unusable"] == ["broken"]
