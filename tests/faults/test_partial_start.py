"""Partial starts said plainly, and commands that need no server start none (CLI)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import configs
import pytest

TIMEOUT = 120.0


def codemode(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "codemode", *args], capture_output=True, text=True,
                          env=configs.cli_env(), cwd=cwd, timeout=TIMEOUT, stdin=subprocess.DEVNULL)


@pytest.fixture
def watched(tmp_path: Path) -> tuple[Path, Path]:
    """A config whose only server logs to a file when it starts; (config, log)."""
    log = tmp_path / "started.log"
    server = configs.rogue("silent-call", env={"ROGUE_STARTED": str(log)})
    return configs.write(tmp_path / "mcp.json", {"watched": server}), log


@pytest.mark.parametrize("command", [
    ["isolation"], ["--help"], ["tools", "nosuch"], ["stubs", "nosuch.tool"],
    ["kernel", "install", "--prefix", "{tmp}/prefix"],
], ids=["isolation", "help", "tools-unknown-server", "stubs-unknown-server", "kernel-install"])
def test_a_command_that_needs_no_server_starts_none(watched: tuple[Path, Path], tmp_path: Path,
                                                   command: list[str]) -> None:
    config, log = watched
    args = [part.replace("{tmp}", str(tmp_path)) for part in command]
    done = codemode("--config", str(config), *args, cwd=tmp_path)
    assert done.returncode == (2 if "nosuch" in " ".join(args) else 0), done.stderr
    assert not log.exists(), f"{' '.join(args)} started a server"


def test_the_watched_server_does_log_its_start(watched: tuple[Path, Path], tmp_path: Path) -> None:
    config, log = watched
    assert codemode("tools", "--config", str(config), cwd=tmp_path).returncode == 0
    assert log.read_text() == "silent-call\n"  # one start, so the absence above means none


def test_servers_says_each_failure_once_with_its_cause_and_exits_1(tmp_path: Path) -> None:
    config = configs.write(tmp_path / "mcp.json", {"quitter": configs.rogue("exit-on-list"), "demo": configs.demo()})
    done = codemode("servers", "--config", str(config), cwd=tmp_path)
    assert done.returncode == 1
    assert done.stderr.count("exiting during tools/list, on purpose") == 1, done.stderr
    assert "quitter" in done.stdout and "connected" in done.stdout


def test_exec_runs_with_a_partial_start_says_so_once_and_a_call_gets_server_unavailable(tmp_path: Path) -> None:
    config = configs.write(tmp_path / "mcp.json", {"quitter": configs.rogue("exit-on-list"), "demo": configs.demo()})
    ok = codemode("exec", "--config", str(config), "-c", "print(len(demo.list_notes()) > 0)", cwd=tmp_path)
    assert ok.returncode == 0 and ok.stdout.startswith("True"), ok.stderr
    assert ok.stderr.count("codemode: server 'quitter' failed to start") == 1, ok.stderr
    failed = codemode("exec", "--config", str(config), "-c", "quitter.anything()", cwd=tmp_path)
    assert failed.returncode == 1
    assert "SERVER_UNAVAILABLE" in failed.stderr and "NameError" not in failed.stderr, failed.stderr
