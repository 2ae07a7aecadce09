"""Signing in with OAuth 2.1, against a local server that is its own authorization server
(`oauth_server.py`, the SDK's server-side auth): the command line (`codemode auth login`,
`status`, `logout`, a run that signs in, a refresh, a 401 with nothing configured) and a real
kernel. The browser is `tests/conformance/browser.py` as `$BROWSER`: it follows the
authorization server's redirect to codemode's loopback listener, as a person's browser does.
"""

from __future__ import annotations

import json
import os
import stat
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
BROWSER = HERE.parent / "conformance" / "browser.py"


@pytest.fixture(scope="module")
def oauth_url() -> Iterator[str]:
    """An MCP server at http://127.0.0.1:PORT/mcp that asks every client to sign in."""
    with uvicorn_server(lambda port: [str(HERE / "oauth_server.py"), str(port)]) as url:
        yield url


def write_config(directory: Path, url: str, **entry: Any) -> Path:
    path = directory / "mcp.json"
    path.write_text(json.dumps({"mcpServers": {"api": {"url": url, **entry}}}))
    return path


def cli(directory: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("CODEMODE_CONFIG", "BROWSER")}
    env.update(PYTHONPATH=os.pathsep.join(filter(None, [SRC, env.get("PYTHONPATH")])),
               XDG_CONFIG_HOME=str(directory / "no-config"), XDG_STATE_HOME=str(directory / "state"),
               BROWSER=str(BROWSER))
    return subprocess.run([sys.executable, "-m", "codemode", *args], cwd=directory, env=env,
                          capture_output=True, text=True, timeout=120)


def token_files(directory: Path) -> list[Path]:
    return sorted((directory / "state" / "codemode" / "oauth").glob("*.json"))


def counts(directory: Path) -> dict[str, Any]:
    done = cli(directory, "exec", "-c", "print(api.counts())")
    assert done.returncode == 0, done.stderr
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def test_a_401_with_nothing_configured_names_codemode_auth_login(tmp_path: Path, oauth_url: str) -> None:
    write_config(tmp_path, oauth_url)
    done = cli(tmp_path, "tools")
    assert done.returncode == 1
    assert "codemode auth login api" in done.stderr and "401" in done.stderr
    assert "MCPError" not in done.stderr
    assert token_files(tmp_path) == []


def test_login_stores_tokens_privately_and_later_runs_use_them(tmp_path: Path, oauth_url: str) -> None:
    write_config(tmp_path, oauth_url)
    done = cli(tmp_path, "auth", "login", "api")
    assert done.returncode == 0, done.stderr
    assert "Signed in to api" in done.stdout
    assert f"sign in to api: opening {oauth_url.rsplit('/', 1)[0]}" in done.stderr  # the link is shown too
    [stored] = token_files(tmp_path)
    assert stat.S_IMODE(stored.stat().st_mode) == 0o600
    assert stat.S_IMODE(stored.parent.stat().st_mode) == 0o700
    assert json.loads(stored.read_text())["url"] == oauth_url
    before = counts(tmp_path)  # a run with the stored tokens: no second sign-in
    assert before["scopes"] == ["tools.read"]
    assert before["authorizations"] >= 1 and counts(tmp_path)["authorizations"] == before["authorizations"]
    status = cli(tmp_path, "auth", "status")
    assert status.returncode == 0 and "api" in status.stdout and "yes" in status.stdout
    token = json.loads(stored.read_text())["tokens"]["access_token"]
    assert token not in status.stdout + status.stderr


def test_a_lapsed_token_is_refreshed_before_any_new_sign_in(tmp_path: Path, oauth_url: str) -> None:
    write_config(tmp_path, oauth_url)
    assert cli(tmp_path, "auth", "login", "api").returncode == 0
    first = counts(tmp_path)
    [stored] = token_files(tmp_path)
    data = json.loads(stored.read_text())
    data["expiresAt"] = 1.0  # the stored token has lapsed (1 s past the epoch)
    stored.write_text(json.dumps(data))
    after = counts(tmp_path)
    assert after["refreshes"] == first["refreshes"] + 1
    assert after["authorizations"] == first["authorizations"]


def test_logout_forgets_the_server_and_it_asks_to_sign_in_again(tmp_path: Path, oauth_url: str) -> None:
    write_config(tmp_path, oauth_url)
    assert cli(tmp_path, "auth", "login", "api").returncode == 0
    done = cli(tmp_path, "auth", "logout", "api")
    assert done.returncode == 0 and "Signed out of api" in done.stdout
    assert token_files(tmp_path) == []
    assert "codemode auth login api" in cli(tmp_path, "tools").stderr
    assert "no stored sign-in" in cli(tmp_path, "auth", "logout", "api").stdout


def test_an_oauth_entry_signs_in_during_a_run_and_no_token_reaches_the_report_or_audit(
        tmp_path: Path, oauth_url: str) -> None:
    config = tmp_path / "mcp.json"
    config.write_text(json.dumps({"mcpServers": {"api": {"url": oauth_url, "oauth": {}}},
                                  "codemode": {"audit": str(tmp_path / "audit.jsonl"), "auditArguments": True}}))
    done = cli(tmp_path, "exec", "--json", "-c", "api.counts()")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["ok"] and json.loads(report["result"]["value"] if isinstance(report["result"], dict)
                                       else report["result"])["scopes"] == ["tools.read"]
    [stored] = token_files(tmp_path)
    tokens = json.loads(stored.read_text())["tokens"]
    for secret in (tokens["access_token"], tokens["refresh_token"]):
        assert secret not in done.stdout + done.stderr
        assert secret not in (tmp_path / "audit.jsonl").read_text()


def test_auth_errors_name_the_server(tmp_path: Path, oauth_url: str) -> None:
    (tmp_path / "mcp.json").write_text(json.dumps({"mcpServers": {
        "api": {"url": oauth_url}, "local": {"command": sys.executable, "args": ["-c", "pass"]}}}))
    assert "no server 'nope'" in cli(tmp_path, "auth", "login", "nope").stderr
    assert "only servers with a 'url' sign in" in cli(tmp_path, "auth", "login", "local").stderr
    assert "needs a SERVER" in cli(tmp_path, "auth", "logout").stderr


def test_a_kernel_cell_signs_in_and_calls_the_server(tmp_path: Path, oauth_url: str,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    from kernels import Kernel

    write_config(tmp_path, oauth_url, oauth={})
    monkeypatch.setenv("BROWSER", str(BROWSER))
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    with Kernel(tmp_path) as kernel:
        kernel.execute("%load_ext codemode")
        shown: list[str] = []  # what the cell showed while it ran (its end clears the link away)
        run = kernel.execute("%%codemode\nprint(api.counts())",
                             on_output=lambda kind, content: shown.append(str(content)))
        assert '"tools.read"' in run.all_text, run.all_text
        assert any("sign in to api: opening http://127.0.0.1" in text for text in shown), shown  # while it waited
        # The saved cell keeps the code's output and the report, not the sign-in line: a re-run with the stored
        # token shows none, and the two compare equal.
        assert "sign in to api" not in run.all_text, run.all_text
    assert len(token_files(tmp_path)) == 1
