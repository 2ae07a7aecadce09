"""`codemode serve` through the TypeScript SDK's client (a small node script,
tests/peers/serve_client.mjs), in both protocol eras over HTTP: the tools, state kept by the
session handle, a big value read back by its resource link, an unknown tool as -32602."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from _serving import HttpServer, start_http

PEERS = Path(__file__).resolve().parents[1] / "peers"
SCRIPT = PEERS / "serve_client.mjs"
if not (PEERS / "node_modules" / "@modelcontextprotocol" / "client").exists() or shutil.which("node") is None:
    pytest.skip("the TypeScript SDK's client is not installed: run `make peers` (npm ci in tests/peers)",
                allow_module_level=True)
RUN_TIMEOUT = 180.0


@pytest.fixture(scope="module")
def server(demo_config_file: Path) -> Iterator[HttpServer]:
    yield from start_http(demo_config_file)


@pytest.mark.parametrize("era", ["legacy", "2026-07-28"])
def test_the_typescript_client_keeps_state_by_handle_and_reads_a_big_value(server: HttpServer, era: str) -> None:
    done = subprocess.run(["node", str(SCRIPT), server.url, era], capture_output=True, text=True,
                          timeout=RUN_TIMEOUT, cwd=PEERS)
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen == {"protocolVersion": "2025-11-25" if era == "legacy" else era, "tools": ["search", "execute"],
                    "first": 21, "second": 40, "sameSession": True, "bigRead": 300_000, "unknown": -32602}
