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


def test_a_servers_changed_tool_list_is_in_the_next_runs_namespace_stubs_and_search() -> None:
    from codemode.engine import Session

    config = peer_config(mode="legacy").model_copy(update={"preapproved": ("*",)})
    with Session(config) as session:
        first = session.run("kept = 41\npeer.grow(name='echo_back')")
        assert first.ok, first.error
        second = session.run("print(peer.echo_back(text='hi'), kept + 1)")
        assert second.ok, second.error
        assert second.stdout.strip() == "hi 42"  # the worker kept its variables
        assert any("'peer' changed its tools" in notice for notice in second.notices)
        assert "def echo_back(" in session.stubs("peer")
        assert "peer.echo_back" in session.search_text("echo added at run time", "names", 5)
