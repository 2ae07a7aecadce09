"""`codemode test NOTEBOOK...`: nbval on the right kernel, in replay from the cassettes.

Each notebook runs under nbval in a child pytest with codemode's plugin: its sanitizers,
and the cassette beside the notebook (`NAME.cassette.jsonl`) replayed strictly when it is
there (`--live`: the servers instead; `--record`: the servers, recorded anew). A notebook on
the `python3` kernel runs on this interpreter (`--nbval-current-env`), one on the `codemode`
kernel on that kernel. The exit status is pytest's (the first non-zero one over the runs).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from codemode.errors import CodemodeError
from codemode.testing.plugin import TEST_MODE_ENV


def run_notebooks(notebooks: Sequence[str], *, mode: str = "replay", config: str | None = None) -> int:
    """Run the notebooks under nbval; the exit status of pytest.

    Args:
        notebooks: `.ipynb` files.
        mode: replay (the cassette beside each notebook, strictly; live where there is none),
            live, or record.
        config: an mcpServers file for the kernels (`$CODEMODE_CONFIG`); default: as usual.
    """
    by_kernel: dict[str, list[str]] = {}
    for name in notebooks:
        path = Path(name).resolve()
        if path.suffix != ".ipynb" or not path.is_file():
            raise CodemodeError(f"{name}: not a notebook file (.ipynb); give the notebooks to test")
        by_kernel.setdefault(_kernel_name(path), []).append(str(path))
    env = {**os.environ, TEST_MODE_ENV: mode}
    # nbval starts each kernel in its notebook's folder: a relative PYTHONPATH would not reach it.
    if env.get("PYTHONPATH"):
        env["PYTHONPATH"] = os.pathsep.join(os.path.abspath(p) for p in env["PYTHONPATH"].split(os.pathsep) if p)
    if config is not None:
        env["CODEMODE_CONFIG"] = str(Path(config).resolve())
    # As in an activated environment: its console scripts (servers installed by pip) on PATH.
    scripts = str(Path(sys.executable).parent)
    if scripts not in env.get("PATH", "").split(os.pathsep):
        env["PATH"] = os.pathsep.join(filter(None, [scripts, env.get("PATH")]))
    status = 0
    for kernel, paths in by_kernel.items():
        command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                   "-p", "no:codemode", "-p", "codemode.testing.plugin", "--nbval", *_kernel_options(kernel), *paths]
        done = subprocess.run(command, env=env, check=False)
        status = status or done.returncode
    return status


def _kernel_name(path: Path) -> str:
    try:
        metadata = json.loads(path.read_text(encoding="utf-8")).get("metadata", {})
    except (OSError, ValueError) as exc:
        raise CodemodeError(f"{path}: cannot read it as a notebook ({exc})") from None
    return str((metadata.get("kernelspec") or {}).get("name") or "python3")


def _kernel_options(kernel: str) -> list[str]:
    if kernel in ("python3", "python"):
        return ["--nbval-current-env"]  # this interpreter, where codemode is installed
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

    try:
        KernelSpecManager().get_kernel_spec(kernel)
    except NoSuchKernel:
        fix = "codemode kernel install --sys-prefix" if kernel == "codemode" else f"install the {kernel!r} kernel"
        raise CodemodeError(f"the notebooks need the {kernel!r} kernel, which is not installed; {fix}") from None
    return ["--nbval-kernel-name", kernel]
