"""What the hub shows a server about itself, and what it follows of a server's changes, against
a small server of our own (`peer_server.py`) over real stdio, in both protocol eras."""

from __future__ import annotations

import functools
import json
import sys
from pathlib import Path
from typing import Any

import pytest
from anyio.from_thread import BlockingPortal

from codemode import __version__
from codemode.config import Config, parse_config
from codemode.hub import Hub

PEER = str(Path(__file__).with_name("peer_server.py"))
EXIT_WAIT = 30.0


def peer_config(**options: Any) -> Config:
    server = {"command": sys.executable, "args": [PEER], **options}
    return parse_config({"mcpServers": {"peer": server}}, source=None, environ={})


def call(portal: BlockingPortal, hub: Hub, tool: str, arguments: dict[str, Any]) -> Any:
    result = portal.call(functools.partial(hub.call, "peer", tool, arguments))
    assert result.ok, result.error
    return result.payload


@pytest.fixture(params=["legacy", "auto"])
def peer(request: pytest.FixtureRequest, portal: BlockingPortal) -> Any:
    hub = Hub(peer_config(mode=request.param))
    task, _ = portal.start_task(hub.serve, name="test-hub")
    try:
        assert hub.servers["peer"].status == "connected", hub.servers["peer"].error
        yield hub
    finally:
        portal.call(hub.aclose)
        task.result(timeout=EXIT_WAIT)


def test_the_hub_introduces_itself_as_codemode_and_its_version(portal: BlockingPortal, peer: Hub) -> None:
    payload = call(portal, peer, "whoami", {})
    seen = json.loads(payload["value"] if isinstance(payload, dict) else payload)
    assert seen["clientInfo"] == {"name": "codemode", "version": __version__}
