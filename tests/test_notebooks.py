"""The notebooks under nbval, from a plain `pytest tests` run.

nbval starts each notebook's kernel in the notebook's own folder, so a relative
`PYTHONPATH=src` (how a source checkout runs the tests) does not reach it. This test runs
nbval in a child pytest with the source directory made absolute. When the session runs
nbval itself (`pytest --nbval ... notebooks/`, as `make test` does), it steps aside.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import codemode

ROOT = Path(__file__).resolve().parent.parent
SRC = str(Path(codemode.__file__).resolve().parent.parent)
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
# The quickstart runs in about 5 s; a cold machine gets plenty more before this fails.
NBVAL_TIMEOUT = 300



@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda path: path.name)
def test_notebook_outputs_match_a_fresh_run(notebook: Path, request: pytest.FixtureRequest) -> None:
    if request.config.getoption("nbval", default=False):
        pytest.skip("this session runs nbval on the notebooks itself")
    # No sanitize file: codemode's plugin brings its sanitizers (loaded here by name, in
    # case this environment's editable install predates its entry point).
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:codemode",
               "-p", "codemode.testing.plugin", "--nbval", str(notebook)]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [SRC, os.environ.get("PYTHONPATH")]))}
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=NBVAL_TIMEOUT)
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
    # Nothing opts out of nbval's comparison, by tag or by marker comment.
    for n, cell in enumerate(code, 1):
        tags = set(cell.get("metadata", {}).get("tags", []))
        assert not {t for t in tags if t.startswith("nbval") or t == "raises-exception"}, f"code cell {n}: {tags}"
        assert "NBVAL_" not in "".join(cell["source"]), f"code cell {n}"
