"""A lapsed stored token is refreshed at the authorization server's own token endpoint, found
by discovery and stored with the tokens, never guessed as the origin's `/token`: against a
local server whose authorization server lives under `/as` (tests/hub/oauth_server.py), with a
`$BROWSER` that records each call and must not be called for the refresh."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from _helpers import uvicorn_server

import codemode

SRC = str(Path(codemode.__file__).parent.parent)
HERE = Path(__file__).parent
FOLLOWING_BROWSER = HERE.parent / "conformance" / "browser.py"


@pytest.fixture(scope="module")
def oauth_url() -> Iterator[str]:
    """An MCP server whose authorization server's token endpoint is /as/token."""
    with uvicorn_server(lambda port: [str(HERE / "oauth_server.py"), str(port), "/as"]) as url:
        yield url


def browser(directory: Path, *, follow: bool) -> Path:
    """A `$BROWSER` that notes each URL it is given in `browser.log`; it then signs in (`follow`),
    or fails as a browser that cannot open the page."""
    script = directory / ("following-browser" if follow else "refusing-browser")
    then = f'exec {sys.executable} {FOLLOWING_BROWSER} "$1"' if follow else "exit 1"
    script.write_text(f'#!/bin/sh\necho "$1" >> {directory / "browser.log"}\n{then}\n')
    script.chmod(0o755)
    return script


def cli(directory: Path, browser_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("CODEMODE_CONFIG", "BROWSER")}
    env.update(PYTHONPATH=os.pathsep.join(filter(None, [SRC, env.get("PYTHONPATH")])),
               XDG_CONFIG_HOME=str(directory / "no-config"), XDG_STATE_HOME=str(directory / "state"),
               BROWSER=str(browser_path))
    return subprocess.run([sys.executable, "-m", "codemode", *args], cwd=directory, env=env,
                          capture_output=True, text=True, timeout=120)


def counts(directory: Path, browser_path: Path) -> dict[str, Any]:
    done = cli(directory, browser_path, "exec", "-c", "print(api.counts())")
    assert done.returncode == 0, done.stderr
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def browser_calls(directory: Path) -> list[str]:
    log = directory / "browser.log"
    return log.read_text().splitlines() if log.exists() else []


def lapse(directory: Path) -> dict[str, Any]:
    [stored] = sorted((directory / "state" / "codemode" / "oauth").glob("*.json"))
    data = json.loads(stored.read_text())
    data["expiresAt"] = 1.0  # the stored token has lapsed (1 s past the epoch)
    stored.write_text(json.dumps(data))
    return dict(data)


def test_a_lapsed_token_is_refreshed_at_the_discovered_token_endpoint_without_a_browser(
        tmp_path: Path, oauth_url: str) -> None:
    (tmp_path / "mcp.json").write_text(json.dumps({"mcpServers": {"api": {"url": oauth_url}}}))
    login = cli(tmp_path, browser(tmp_path, follow=True), "auth", "login", "api")
    assert login.returncode == 0, login.stderr
    assert len(browser_calls(tmp_path)) == 1
    refusing = browser(tmp_path, follow=False)
    first = counts(tmp_path, refusing)
    stored = lapse(tmp_path)
    assert stored["authorizationServer"]["metadata"]["token_endpoint"].endswith("/as/token")
    after = counts(tmp_path, refusing)
    assert after["refreshes"] == first["refreshes"] + 1
    assert after["authorizations"] == first["authorizations"]
    assert len(browser_calls(tmp_path)) == 1  # the login's only


def test_a_token_file_without_stored_metadata_discovers_before_it_refreshes(tmp_path: Path, oauth_url: str) -> None:
    # As an older codemode wrote it: tokens and the registration, no authorization server.
    (tmp_path / "mcp.json").write_text(json.dumps({"mcpServers": {"api": {"url": oauth_url}}}))
    assert cli(tmp_path, browser(tmp_path, follow=True), "auth", "login", "api").returncode == 0
    refusing = browser(tmp_path, follow=False)
    first = counts(tmp_path, refusing)
    stored = lapse(tmp_path)
    stored.pop("authorizationServer", None)
    [path] = sorted((tmp_path / "state" / "codemode" / "oauth").glob("*.json"))
    path.write_text(json.dumps(stored))
    after = counts(tmp_path, refusing)
    assert after["refreshes"] == first["refreshes"] + 1 and after["authorizations"] == first["authorizations"]
    assert len(browser_calls(tmp_path)) == 1
    assert "authorizationServer" in json.loads(path.read_text())  # stored now, for the next refresh
