"""Five real third-party MCP servers as one `mcpServers` config, over a scratch directory.

The tests (`tests/test_third_party.py`) and the token bench (`bench/tokens.py`) both run
against these, so they share this module. Nothing here imports `codemode` or `mcp`: it builds
plain JSON and files.

| name         | what                                             | installed by                  |
| ------------ | ------------------------------------------------ | ----------------------------- |
| `everything` | the MCP reference test server (media, progress)  | `make peers` (`tests/peers/`) |
| `filesystem` | read, list and search files under one directory  | `make peers`                  |
| `memory`     | a knowledge graph kept in one JSONL file         | `make peers`                  |
| `time`       | the current time and time-zone conversion        | the `dev` extra               |
| `git`        | status, log and diffs of one repository          | the `dev` extra               |

Invariants: the scratch directory holds everything a server may write (the memory file, the
git repository), so a run never touches the checkout or the home directory; a server whose
program is missing is left out of the config and named in `missing_peers()` with the command
that installs it, never silently.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

__all__ = [
    "NOTES",
    "PEERS_DIR",
    "PEER_NAMES",
    "missing_peers",
    "peer_commands",
    "peers_config",
    "make_scratch",
]

ROOT = Path(__file__).resolve().parent.parent
PEERS_DIR = ROOT / "tests" / "peers"
NODE_BIN = PEERS_DIR / "node_modules" / ".bin"
# The venv's console scripts sit beside its interpreter; PATH may not include that folder
# (`.venv/bin/python -m pytest` does not activate the venv).
VENV_BIN = Path(sys.executable).parent

PEER_NAMES = ("everything", "filesystem", "memory", "time", "git")

_PROGRAMS = {
    "everything": (NODE_BIN, "mcp-server-everything", "make peers"),
    "filesystem": (NODE_BIN, "mcp-server-filesystem", "make peers"),
    "memory": (NODE_BIN, "mcp-server-memory", "make peers"),
    "time": (VENV_BIN, "mcp-server-time", 'pip install -e ".[dev]"'),
    "git": (VENV_BIN, "mcp-server-git", 'pip install -e ".[dev]"'),
}

#: The markdown notes the filesystem server serves: file name -> text. Tests check a run's
#: findings against these; they are sized like real team notes, so results cost what real ones do.
NOTES: dict[str, str] = {
    "roadmap.md": """# Roadmap

What ships this quarter, in the order we expect to ship it. Dates are targets, not promises;
the weekly sync moves them when a dependency slips.

## Search detail levels

`codemode.search` returns names only, one-line signatures, or full stubs with docstrings. A
model that knows what it wants asks for signatures; one exploring asks for names first.

## Token accounting

Every run reports what classic tool calling would have cost against what code mode cost:
definitions, arguments and results on one side; the API surface read, the code and the
output on the other. Counts use a real BPE when one is installed and say so.

## Stubs on disk

`codemode stubs` writes a `.pyi` per server so editors complete tool calls in notebooks.
""",
    "incidents.md": """# Incidents

Each entry: what users saw, why, and what changed so it cannot happen again.

## 2026-10-02 worker crash

A thread in a cell called `os._exit`, the worker vanished and the next cell lost its
variables without a word. The session now notices a dead worker between runs, starts a fresh
one and says so in the report.

## 2026-10-19 slow connect

Notebooks took ten seconds to show the first cell's result. The `auto` protocol mode probed
`server/discover`, which one server silently ignored. `legacy` is the default mode now, and
`auto` is opt-in per server.

## 2026-11-03 oversized result

A search tool returned 40 MB of JSON and the host read it whole. Frames are capped before
they are read; the call fails with a named error instead.
""",
    "onboarding.md": """# Onboarding

Welcome. This page gets you from a fresh clone to a green test run and a first cell.

## Set up

Python 3.11 or newer and `make` are all you need: `make test` creates `.venv`, installs the
package with its test extras and the Node test servers, and runs every suite.

## First cell

Run `make lab`, open the quickstart notebook, load the extension with `%load_ext codemode`
and run the first `%%codemode` cell against the embedded demo server.

## Where to ask

The team channel, or an issue with the failing cell and its report attached.
""",
}
_OTHER_FILES = {
    "todo.txt": "write the token bench\nread the NOTES table\n",
    "data/servers.csv": "name,tools\neverything,13\nfilesystem,14\nmemory,9\ntime,2\ngit,12\n",
}

_GIT_TIMEOUT = 30.0  # seconds for one local git command; they take milliseconds


def peer_commands() -> dict[str, Path]:
    """Each peer's program, by peer name, for those that are installed."""
    found = {}
    for name, (folder, program, _) in _PROGRAMS.items():
        path = folder / program
        if not path.exists():
            which = shutil.which(program)
            path = Path(which) if which else path
        if path.exists():
            found[name] = path
    return found


def missing_peers() -> dict[str, str]:
    """Each peer whose program is not installed, with the command that installs it."""
    found = peer_commands()
    return {
        name: f"{program} is not installed; run `{fix}`"
        for name, (_, program, fix) in _PROGRAMS.items()
        if name not in found
    }


def make_scratch(directory: Path) -> dict[str, Path]:
    """Fill `directory` with what the peers work on, and return the paths.

    Returns:
        `files` (a folder of notes for the filesystem server), `repo` (a git repository with
        one commit and one uncommitted change) and `memory` (the memory server's file, not yet
        created).
    """
    files = directory / "files"
    for name, text in {**NOTES, **_OTHER_FILES}.items():
        path = files / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    repo = directory / "repo"
    repo.mkdir(parents=True, exist_ok=True)
    (repo / "README.md").write_text("# scratch\n\nA repository for the git server.\n")
    _git(repo, "init", "--quiet", "--initial-branch=main")
    _git(repo, "add", "README.md")
    _git(repo, "commit", "--quiet", "-m", "Add a README")
    (repo / "README.md").write_text("# scratch\n\nA repository for the git server, changed.\n")
    return {"files": files, "repo": repo, "memory": directory / "memory.jsonl"}


def _git(repo: Path, *args: str) -> None:
    # A fixed identity and no user or system config: the commit never depends on the machine.
    identity = ["-c", "user.name=codemode tests", "-c", "user.email=tests@codemode.invalid",
                "-c", "commit.gpgsign=false"]
    env = {**os.environ, "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1"}
    subprocess.run(["git", *identity, *args], cwd=repo, env=env, check=True,
                   capture_output=True, timeout=_GIT_TIMEOUT)


def peers_config(scratch: dict[str, Path]) -> dict[str, Any]:
    """The `mcpServers` config for every installed peer, over `make_scratch`'s paths."""
    programs = peer_commands()
    entries: dict[str, dict[str, Any]] = {
        "everything": {"args": ["stdio"]},
        "filesystem": {"args": [str(scratch["files"])]},
        "memory": {"env": {"MEMORY_FILE_PATH": str(scratch["memory"])}},
        "time": {"args": ["--local-timezone", "UTC"]},
        "git": {"args": ["--repository", str(scratch["repo"])]},
    }
    servers = {
        name: {"command": str(programs[name]), **entry}
        for name, entry in entries.items()
        if name in programs
    }
    return {"mcpServers": servers}
