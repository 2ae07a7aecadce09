"""The notebooks, as a user would guard them: `codemode test` (nbval with codemode's plugin).

Every notebook in notebooks/ and notebooks/shelf/ has its cassette beside it. They pass
`codemode test` twice in a row in replay, from a copy of the folder at another path (a
cassette recorded here replays elsewhere) whose configs name servers that cannot start (so
replay started none), and once live against the real servers (the demo, and the offline
third-party filesystem, memory and git servers), but for a notebook that holds a person's
approval (shelf/lab-saved.ipynb, saved from JupyterLab): nobody can answer under nbclient.
No sanitize file of our own: the plugin's.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import codemode

ROOT = Path(__file__).resolve().parent.parent
SRC = str(Path(codemode.__file__).resolve().parent.parent)
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb")) + sorted((ROOT / "notebooks" / "shelf").glob("*.ipynb"))
# One `codemode test` over every notebook: a kernel start and a few cells each, about 10 s
# a notebook here; a cold machine gets plenty more before this fails.
TEST_TIMEOUT = 1200
BROKEN = "/nonexistent/mcp-server"


def codemode_test(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CODEMODE_")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [SRC, os.environ.get("PYTHONPATH")]))
    return subprocess.run([sys.executable, "-m", "codemode", "test", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=TEST_TIMEOUT)


def _cassette(notebook: Path) -> Path:
    return notebook.with_name(notebook.stem + ".cassette.jsonl")


def _break_servers(folder: Path) -> None:
    """Every config in the copy names a server program that does not exist."""
    for config in folder.rglob("*.json"):
        data = json.loads(config.read_text())
        for server in data.get("mcpServers", {}).values():
            server["command"] = BROKEN
        config.write_text(json.dumps(data))
    (folder / "mcp.json").write_text(json.dumps({"mcpServers": {"demo": {"command": BROKEN}}}))  # not the demo


def test_every_notebook_has_its_cassette_with_no_path_of_this_checkout() -> None:
    for notebook in NOTEBOOKS:
        cassette = notebook.with_name(notebook.stem + ".cassette.jsonl")
        assert cassette.is_file(), f"record it: codemode test --record {notebook.relative_to(ROOT)}"
        text = cassette.read_text(encoding="utf-8")
        assert json.loads(text.splitlines()[0]) == {"codemode": "cassette", "version": 1}
        assert str(ROOT) not in text and not re.search(r"/(home|root|tmp|Users)/", text), cassette.name


def test_replay_passes_twice_elsewhere_with_no_server_started(tmp_path: Path) -> None:
    copy = tmp_path / "elsewhere" / "notebooks"
    shutil.copytree(ROOT / "notebooks", copy, ignore=shutil.ignore_patterns("repo", ".ipynb_checkpoints"))
    _break_servers(copy)
    # The shelf's configs run peers by relative paths from the checkout: keep them relative.
    books = [str(path.relative_to(ROOT / "notebooks")) for path in NOTEBOOKS]
    for _ in range(2):
        done = codemode_test(*books, cwd=copy)
        assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-2000:]


@pytest.mark.skipif(not (ROOT / "tests" / "peers" / "node_modules" / ".bin" / "mcp-server-filesystem").exists(),
                    reason="the npm peers are not installed: make peers")
def test_live_against_the_real_servers_passes_too() -> None:
    # A notebook whose cassette holds a person's approval (saved from JupyterLab) cannot run
    # live under nbclient: nobody can answer there, so its call is refused (APPROVAL_REQUIRED).
    live = [path for path in NOTEBOOKS if '"kind": "approval"' not in _cassette(path).read_text(encoding="utf-8")]
    assert len(live) < len(NOTEBOOKS)
    done = codemode_test("--live", *map(str, live), cwd=ROOT)
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-2000:]


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda path: path.name)
def test_notebook_is_saved_executed_on_a_known_kernel_with_every_cell_compared(notebook: Path) -> None:
    data = json.loads(notebook.read_text(encoding="utf-8"))
    assert data["metadata"]["kernelspec"]["name"] in ("python3", "codemode")
    code = [cell for cell in data["cells"] if cell["cell_type"] == "code"]
    assert all(cell["execution_count"] is not None for cell in code), (
        f"save it executed: PYTHONPATH={SRC} jupyter nbconvert --to notebook --execute --inplace {notebook}"
    )
    assert all(output["output_type"] != "error" for cell in code for output in cell["outputs"])
    # No empty output (a live panel left behind) in a saved cell.
    assert not [o for cell in code for o in cell["outputs"] if o["output_type"] == "display_data" and not o["data"]]
    # Nothing opts out of nbval's comparison, by tag or by marker comment.
    for n, cell in enumerate(code, 1):
        tags = set(cell.get("metadata", {}).get("tags", []))
        assert not {t for t in tags if t.startswith("nbval") or t == "raises-exception"}, f"code cell {n}: {tags}"
        assert "NBVAL_" not in "".join(cell["source"]), f"code cell {n}"
