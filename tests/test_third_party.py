"""Five real third-party MCP servers in one session: everything, filesystem, memory, time, git.

These are the servers people actually configure, so this is where the schema layer meets real
schemas and the hub meets real servers (two Python servers on the 2026 protocol, three Node
servers on the 2025-11-25 one). `make test` installs the Node ones (`make peers`) and the
Python ones come with the `dev` extra; the module is skipped, with the command that installs
them, only when one is missing. The servers and their scratch directory come from
`bench/_peers.py`, which the token bench shares.
"""

from __future__ import annotations

import ast
import hashlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import codemode
from codemode.config import parse_config
from codemode.engine import Session
from codemode.schema import server_stub, stub

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))
import _peers  # noqa: E402  (bench/_peers.py: shared with bench/tokens.py)

_MISSING = _peers.missing_peers()
if _MISSING:
    pytest.skip("; ".join(_MISSING.values()), allow_module_level=True)

CLI_TIMEOUT = 120.0
"""Seconds for one CLI run: it starts all five servers (about 3 s here, in parallel)."""
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

# A few tools each server is known to have at the pinned versions (MCP names).
KNOWN_TOOLS = {
    "everything": {"echo", "get-tiny-image", "trigger-long-running-operation"},
    "filesystem": {"read_text_file", "list_directory", "search_files"},
    "memory": {"create_entities", "read_graph", "search_nodes"},
    "time": {"get_current_time", "convert_time"},
    "git": {"git_status", "git_log", "git_diff_unstaged"},
}
SRC = str(Path(codemode.__file__).parent.parent)


@pytest.fixture(scope="module")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return _peers.make_scratch(tmp_path_factory.mktemp("peers"))


@pytest.fixture(scope="module")
def config_data(scratch: dict[str, Path]) -> dict[str, Any]:
    return _peers.peers_config(scratch)


@pytest.fixture(scope="module")
def session(config_data: dict[str, Any]) -> Iterator[Session]:
    with Session(parse_config(config_data, source=None, environ=dict(os.environ))) as session:
        yield session


def run_ok(session: Session, code: str) -> Any:
    report = session.run(code)
    assert report.ok, report.error
    assert all(call.ok for call in report.calls), [(c.tool, c.error) for c in report.calls]
    return report


# -- connecting and describing ------------------------------------------------------------


@pytest.mark.parametrize("server", _peers.PEER_NAMES)
def test_every_server_connects_with_its_known_tools(session: Session, server: str) -> None:
    state = session.servers[server]
    assert state.status == "connected", state
    names = {tool.name for tool in state.tools}
    assert len(names) > 0
    assert KNOWN_TOOLS[server] <= names


def test_search_for_read_file_ranks_a_filesystem_read_tool_first(session: Session) -> None:
    best = session.search("read file")[0]
    assert best.server == "filesystem" and best.name.startswith("read")


def test_search_for_git_status_ranks_git_status_first(session: Session) -> None:
    assert [(t.server, t.name) for t in session.search("git status")[:1]] == [("git", "git_status")]


def test_filesystem_tools_are_python_signatures(session: Session) -> None:
    tools = session.tools("filesystem")
    assert {t.name for t in tools} >= {"read_text_file", "list_directory"}
    for tool in tools:
        assert tool.signature.startswith(f"{tool.name}(")
        ast.parse(f"def {tool.signature}: ...")
    read = next(t for t in tools if t.name == "read_text_file")
    assert read.signature.startswith("read_text_file(*, path: str")


@pytest.mark.parametrize("server", _peers.PEER_NAMES)
def test_every_stub_of_every_tool_parses_as_python(session: Session, server: str) -> None:
    tools = session.tools(server)
    assert tools
    for tool in tools:
        for text in (tool.stub(), stub(tool.tool, tool.name, with_types=True)):
            try:
                ast.parse(text)
            except SyntaxError as exc:  # pragma: no cover - the failure message is the point
                pytest.fail(f"{server}.{tool.name}: {exc}\n{text}")
    ast.parse(server_stub(server, [tool.tool for tool in tools]))


# -- running code against them -------------------------------------------------------------

NOTES_TASK = """
listing = filesystem.list_directory(path={files!r})["content"]
notes = sorted(line.split(" ", 1)[1] for line in listing.splitlines()
               if line.startswith("[FILE]") and line.endswith(".md"))
headings = {{}}
for name in notes:
    text = filesystem.read_text_file(path=f"{files}/{{name}}")["content"]
    headings[name] = [line[3:] for line in text.splitlines() if line.startswith("## ")]
memory.create_entities(entities=[
    {{"name": name, "entityType": "note", "observations": found}} for name, found in headings.items()
])
graph = memory.read_graph()
now = time.get_current_time(timezone="UTC")
print(f"{{len(notes)}} notes, {{sum(map(len, headings.values()))}} headings")
{{"stored": {{e["name"]: e["observations"] for e in graph["entities"]}}, "timezone": now["timezone"]}}
"""


def test_a_cell_reads_notes_stores_them_in_memory_and_reads_them_back(
    session: Session, scratch: dict[str, Path]
) -> None:
    report = run_ok(session, NOTES_TASK.format(files=str(scratch["files"])))
    notes = sorted(_peers.NOTES)
    expected = {
        name: [line[3:] for line in _peers.NOTES[name].splitlines() if line.startswith("## ")]
        for name in notes
    }
    assert report.value == {"stored": expected, "timezone": "UTC"}
    assert report.stdout == f"{len(notes)} notes, {sum(map(len, expected.values()))} headings\n"
    assert [(c.server, c.tool) for c in report.calls] == [
        ("filesystem", "list_directory"),
        *[("filesystem", "read_text_file")] * len(notes),
        ("memory", "create_entities"),
        ("memory", "read_graph"),
        ("time", "get_current_time"),
    ]
    assert report.calls[-1].arguments == {"timezone": "UTC"}
    stored = [json.loads(line) for line in scratch["memory"].read_text().splitlines()]
    assert {entry["name"] for entry in stored} == set(notes)  # the memory server's own file


def test_a_file_of_several_mebibytes_arrives_whole(session: Session, scratch: dict[str, Path]) -> None:
    # Larger than many reads of each pipe on its way (the server's stdout, the worker's
    # channel are read 64 KiB at a time), with text that is not ASCII.
    lines = [f"{n:07d} Grüße, {'ß' * (n % 50)} {'x' * (n % 97)}" for n in range(60_000)]
    text = "\n".join(lines) + "\n"
    path = scratch["files"] / "big.txt"
    path.write_text(text, encoding="utf-8")
    report = run_ok(session, (
        "import hashlib\n"
        f"got = filesystem.read_text_file(path={str(path)!r})['content']\n"
        "[len(got), hashlib.sha256(got.encode()).hexdigest()]"
    ))
    assert len(text.encode()) > 4 * 1024 * 1024
    assert report.value == [len(text), hashlib.sha256(text.encode()).hexdigest()]
    assert report.calls[0].result_bytes > len(text.encode())


def test_git_status_shows_the_uncommitted_change(session: Session, scratch: dict[str, Path]) -> None:
    report = run_ok(session, f"git.git_status(repo_path={str(scratch['repo'])!r})")
    assert "modified:   README.md" in report.value


def test_the_tiny_image_arrives_in_the_cell_as_an_image(session: Session) -> None:
    report = run_ok(session, (
        "blocks = everything.get_tiny_image()\n"
        "image = next(b for b in blocks if type(b).__name__ == 'Image')\n"
        "[type(image).__name__, image.mime_type, image.data[:8].hex()]"
    ))
    assert report.value == ["Image", "image/png", PNG_SIGNATURE.hex()]


def test_a_long_running_operation_records_its_progress_on_the_call(session: Session) -> None:
    report = run_ok(session, "everything.trigger_long_running_operation(duration=0.3, steps=3)")
    (call,) = report.calls
    assert [(p["progress"], p["total"]) for p in call.progress] == [(1, 3), (2, 3), (3, 3)]
    assert "Steps: 3" in report.value


def test_a_call_against_a_real_schema_is_checked_in_the_worker(session: Session) -> None:
    report = session.run("memory.create_entities(entities=[{'name': 'x'}])")
    assert not report.ok
    (call,) = report.calls  # in the timeline, refused before it left the worker: nothing was sent
    assert (call.server, call.tool, call.error_code, call.result_bytes) == ("memory", "create_entities",
                                                                             "INVALID_ARGUMENTS", 0)
    assert report.error is not None
    assert (report.error["type"], report.error["code"]) == ("ToolError", "INVALID_ARGUMENTS")
    assert "entityType" in report.error["message"]  # the nested required key is named


# -- the command line over the same servers ------------------------------------------------


@pytest.fixture(scope="module")
def config_file(tmp_path_factory: pytest.TempPathFactory, config_data: dict[str, Any]) -> Path:
    path = tmp_path_factory.mktemp("cli") / "mcp.json"
    path.write_text(json.dumps(config_data))
    return path


def codemode_cli(config_file: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "CODEMODE_CONFIG"}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [SRC, env.get("PYTHONPATH")]))
    done = subprocess.run([sys.executable, "-m", "codemode", "--config", str(config_file), *args],
                          cwd=config_file.parent, env=env, capture_output=True, text=True,
                          timeout=CLI_TIMEOUT)
    assert done.returncode == 0, done.stderr
    return done


def test_cli_servers_lists_all_five_connected(config_file: Path) -> None:
    lines = codemode_cli(config_file, "servers").stdout.splitlines()
    for server in _peers.PEER_NAMES:
        row = next((line for line in lines if line.split()[:1] == [server]), None)
        assert row is not None and "connected" in row, lines


def test_cli_tools_of_time_shows_its_two_signatures(config_file: Path) -> None:
    out = codemode_cli(config_file, "tools", "time").stdout
    assert "time.get_current_time(*, timezone: str)" in out
    assert "time.convert_time(*, " in out
    assert "git_status" not in out


def test_cli_search_for_git_status_lists_git_status_first(config_file: Path) -> None:
    out = codemode_cli(config_file, "search", "git status").stdout
    first = next(line for line in out.splitlines() if "(" in line)
    assert "git.git_status(" in first
