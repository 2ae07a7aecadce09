"""`codemode exec --record / --replay` and `codemode test`, as real subprocesses."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

import codemode
from codemode.config import demo_config

SRC = str(Path(codemode.__file__).parent.parent)
CLI_TIMEOUT = 300


def _env(cwd: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CODEMODE_")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [SRC, os.environ.get("PYTHONPATH")]))
    env["XDG_CONFIG_HOME"] = str(cwd / "no-config")
    return env


def codemode_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "codemode", *args], cwd=cwd, env=_env(cwd),
                          capture_output=True, text=True, timeout=CLI_TIMEOUT)


def _write_config(folder: Path, command: str | None = None) -> None:
    demo = demo_config().servers["demo"]
    server = {"command": command or demo.command, "args": demo.args, "env": demo.env}  # type: ignore[union-attr]
    (folder / "mcp.json").write_text(json.dumps({"mcpServers": {"demo": server}}))


def test_exec_records_and_replays_with_no_server(tmp_path: Path) -> None:
    code = "print([demo.get_order(order_id=i)['status'] for i in input])"
    recorded = codemode_cli("exec", "--record", "run.cassette.jsonl", "--input", "[1001, 1025]", "-c", code, cwd=tmp_path)
    assert recorded.returncode == 0, recorded.stderr
    _write_config(tmp_path, command="/nonexistent/server")  # replay must never start it
    replayed = codemode_cli("exec", "--replay", "run.cassette.jsonl", "--strict", "--input", "[1001, 1025]",
                            "-c", code, cwd=tmp_path)
    assert replayed.returncode == 0, replayed.stderr
    assert replayed.stdout == recorded.stdout == "['shipped', 'open']\n"
    missing = codemode_cli("exec", "--replay", "run.cassette.jsonl", "--strict", "-c",
                           "demo.get_order(order_id=1002)", cwd=tmp_path)
    assert missing.returncode == 1
    assert "NOT_RECORDED" in missing.stderr and "order_id: 1002 here, 1001 recorded" in missing.stderr


def test_strict_without_replay_is_a_usage_error(tmp_path: Path) -> None:
    done = codemode_cli("exec", "--strict", "-c", "1", cwd=tmp_path)
    assert done.returncode == 2 and "--strict goes with --replay" in done.stderr


CELLS = [
    "%load_ext codemode",
    "%%codemode\nopen_orders = demo.list_orders(status='open')\nprint(len(open_orders), 'open orders')\n"
    "[o['id'] for o in open_orders][:3]",
    "%%codemode\ndemo.get_customer(customer_id=1)['name']",
    "%codemode isolation",  # names the worker's own work dir: a sanitizer makes re-runs compare
]


@pytest.fixture()
def notebook(tmp_path: Path) -> Path:
    """A small notebook on the python3 kernel, executed against the live demo and saved."""
    _write_config(tmp_path)
    book = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(src) for src in CELLS])
    book.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    path = tmp_path / "orders.ipynb"
    saved = dict(os.environ)
    os.environ.update(_env(tmp_path))
    try:
        NotebookClient(book, timeout=CLI_TIMEOUT, kernel_name="python3",
                       resources={"metadata": {"path": str(tmp_path)}}).execute()
    finally:
        os.environ.clear()
        os.environ.update(saved)
    nbformat.write(book, path)
    return path


def test_codemode_test_records_then_replays_twice_with_no_server(notebook: Path) -> None:
    folder = notebook.parent
    recorded = codemode_cli("test", "--record", notebook.name, cwd=folder)
    assert recorded.returncode == 0, recorded.stdout[-3000:] + recorded.stderr[-2000:]
    cassette = folder / "orders.cassette.jsonl"
    assert [json.loads(line).get("tool") for line in cassette.read_text().splitlines()[2:]] == [
        "list_orders", "get_customer"]
    _write_config(folder, command="/nonexistent/server")  # replay must never start a server
    for _ in range(2):
        replayed = codemode_cli("test", notebook.name, cwd=folder)
        assert replayed.returncode == 0, replayed.stdout[-3000:] + replayed.stderr[-2000:]
        assert "passed" in replayed.stdout and "failed" not in replayed.stdout
    live = codemode_cli("test", "--live", notebook.name, cwd=folder)
    assert live.returncode == 1  # live, the server cannot start: the cells fail, as pytest reports it


def test_codemode_test_exits_as_pytest_when_an_output_differs(notebook: Path) -> None:
    book = json.loads(notebook.read_text())
    book["cells"][1]["outputs"][0]["text"] = ["7 open orders\n"]  # not what the cell prints
    notebook.write_text(json.dumps(book))
    done = codemode_cli("test", "--live", notebook.name, cwd=notebook.parent)
    assert done.returncode == 1, done.stdout[-2000:]
    assert "1 failed" in done.stdout


def test_codemode_test_refuses_what_is_not_a_notebook(tmp_path: Path) -> None:
    done = codemode_cli("test", "notes.txt", cwd=tmp_path)
    assert done.returncode == 2 and "notes.txt: not a notebook file" in done.stderr
