"""The renderer builds from its TypeScript, and the build is an MCP Apps host that keeps apps sandboxed.

`tsc` type-checks labextension/src (strict) without writing; the built package (from
`jlpm build:prod`, as `pip install` and `make lab-build` make it) must load both parts:
the MIME renderer and the notebook plugin that relays apps' calls to the kernel.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

import codemode

ROOT = Path(__file__).resolve().parents[2]
TSC = ROOT / "labextension" / "node_modules" / ".bin" / "tsc"
BUILD = Path(codemode.__file__).resolve().parent / "labextension"


def test_the_renderer_sources_type_check() -> None:
    if not TSC.exists():
        pytest.fail("the renderer's tools are not installed: cd labextension && jlpm install")
    done = subprocess.run([str(TSC), "--noEmit", "-p", str(ROOT / "labextension")], capture_output=True, text=True,
                          timeout=300, check=False)
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_build_loads_the_renderer_and_the_apps_plugin() -> None:
    package = BUILD / "package.json"
    if not package.exists():
        pytest.fail("the renderer is not built: cd labextension && jlpm install && jlpm build:prod")
    build = json.loads(package.read_text(encoding="utf-8"))["jupyterlab"]["_build"]
    assert build["extension"] == "./extension" and build["mimeExtension"] == "./mimeExtension"
    bundle = "".join(path.read_text(encoding="utf-8") for path in (BUILD / "static").glob("*.js"))
    assert "codemode.apps" in bundle and "allow-scripts" in bundle
    assert "allow-same-origin" not in bundle  # an app's frame never shares JupyterLab's origin
