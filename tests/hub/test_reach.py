"""What the hub shows a server about itself, and what it follows of a server's changes, against
a small server of our own (`peer_server.py`) over real stdio and HTTP, in both protocol eras."""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from _helpers import uvicorn_server, wait_until
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


@pytest.fixture(scope="module")
def peer_url() -> Iterator[str]:
    """The peer over streamable HTTP, at http://127.0.0.1:PORT/mcp."""
    with uvicorn_server(lambda port: [PEER, "streamable-http", str(port)]) as url:
        yield url


@pytest.mark.parametrize("transport", ["stdio", "http"])
@pytest.mark.parametrize("mode", ["legacy", "auto"])  # auto: 2026-07-28 with this peer
def test_a_servers_changed_tool_list_is_in_the_next_runs_namespace_stubs_and_search(
        mode: str, transport: str, request: pytest.FixtureRequest) -> None:
    # Handshake era: the server notifies unasked. 2026-07-28: it has no stream to the client
    # but the `subscriptions/listen` the hub opens; the result must be the same.
    from codemode.engine import Session

    grown = f"echo_{mode[:4]}_{transport}"  # the HTTP peer is shared: a tool name per test
    if transport == "stdio":
        config = peer_config(mode=mode)
    else:
        url = request.getfixturevalue("peer_url")
        config = parse_config({"mcpServers": {"peer": {"url": url, "mode": mode}}}, source=None, environ={})
    config = config.model_copy(update={"preapproved": ("*",)})
    with Session(config) as session:
        first = session.run(f"kept = 41\npeer.grow(name={grown!r})")
        assert first.ok, first.error
        assert session.servers["peer"].protocol_version == ("2026-07-28" if mode != "legacy" else "2025-11-25")
        # Over HTTP the change comes on a stream of its own (the listen stream, or the
        # handshake era's), which may land just after the call's result: wait for the relist.
        wait_until(lambda: session.servers["peer"].tool(grown) is not None, "the peer's tools listed again")
        second = session.run(f"print(peer.{grown}(text='hi'), kept + 1)")
        assert second.ok, second.error
        assert second.stdout.strip() == "hi 42"  # the worker kept its variables
        assert any("'peer' changed its tools" in notice for notice in second.notices)
        assert f"def {grown}(" in session.stubs("peer")
        assert f"peer.{grown}" in session.search_text("echo added at run time", "names", 5)
