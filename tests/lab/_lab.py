"""What the browser tests share: JupyterLab on a loopback port and a chromium page onto it.

Debian's chromium, driven by playwright with its executable path set (nothing downloads a
browser). Without chromium a test fails and says how to install it, unless
CODEMODE_SKIP_BROWSER=1 asks to skip it. JupyterLab runs on this checkout's codemode with the
built-in demo config and every piece of Jupyter state inside the test's own folder.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from _helpers import free_port, stop

import codemode

ROOT = Path(__file__).resolve().parents[2]
SRC = str(Path(codemode.__file__).resolve().parent.parent)
ARTIFACTS = ROOT / "test-artifacts"
TOKEN = "codemode-browser-test"
START_TIMEOUT = 90.0  # seconds for `jupyter lab` to answer /api/status
# Seconds for nbclient to run one cell: a kernel starts in about a second, the first codemode
# cell connects the demo server and the tokenizer loads once. Generous, so a loaded machine
# fails only on a real hang.
RUN_TIMEOUT = 120
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-dev-shm-usage"]


def chromium() -> str:
    """The chromium executable; skips or fails the test without one."""
    found = shutil.which("chromium")
    if found is None:
        if os.environ.get("CODEMODE_SKIP_BROWSER") == "1":
            pytest.skip("CODEMODE_SKIP_BROWSER=1")
        pytest.fail("the browser test needs Debian's chromium: apt-get install chromium "
                    "(or set CODEMODE_SKIP_BROWSER=1 to skip it)")
    return found


def lab_env(root: Path) -> dict[str, str]:
    """This checkout's codemode, the built-in demo config, and Jupyter state inside `root`."""
    env = {k: v for k, v in os.environ.items() if k not in ("CODEMODE_CONFIG", "JUPYTER_CONFIG_DIR")}
    env.update(PYTHONPATH=os.pathsep.join(filter(None, [SRC, os.environ.get("PYTHONPATH")])),
               XDG_CONFIG_HOME=str(root / ".config"), JUPYTER_CONFIG_DIR=str(root / ".jupyter"),
               IPYTHONDIR=str(root / ".ipython"))
    return env


@contextmanager
def jupyterlab(root: Path, env: dict[str, str]) -> Iterator[str]:
    """JupyterLab serving `root` (no news, no update check), its log in `root/lab.log`;
    yields its base URL and stops it on exit."""
    settings = root / ".lab-settings" / "@jupyterlab" / "apputils-extension"
    settings.mkdir(parents=True, exist_ok=True)
    (settings / "notification.jupyterlab-settings").write_text('{"fetchNews": "false"}', encoding="utf-8")
    port = free_port()
    log = (root / "lab.log").open("w")
    server = subprocess.Popen(
        [sys.executable, "-m", "jupyterlab", "--no-browser", "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}",
         f"--IdentityProvider.token={TOKEN}", "--ServerApp.allow_root=True", f"--ServerApp.root_dir={root}",
         f"--LabApp.user_settings_dir={root / '.lab-settings'}", f"--LabApp.workspaces_dir={root / '.lab-workspaces'}",
         "--LabApp.news_url=", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"],
        cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_for(url, server, root / "lab.log")
        yield url
    finally:
        stop(server)
        log.close()


def _wait_for(url: str, server: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail(f"jupyter lab exited with {server.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(f"{url}/api/status?token={TOKEN}", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.2)  # the server is starting: nothing to wait on but its port
    pytest.fail(f"jupyter lab did not answer within {START_TIMEOUT:g} s:\n{log.read_text()[-3000:]}")


@contextmanager
def chromium_page(timeout_ms: int, height: int = 1000) -> Iterator[Any]:
    """A fresh chromium page, 1280 pixels wide, whose waits are bounded by `timeout_ms`."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium(), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": height})
            page.set_default_timeout(timeout_ms)
            yield page
        finally:
            browser.close()


def notebook_url(url: str, name: str) -> str:
    """The address of notebook `name` in the JupyterLab at `url`, with the token."""
    return f"{url}/lab/tree/{name}?token={TOKEN}"


def codemode_notebook(cells: list[str]) -> dict[str, Any]:
    """An unrun notebook of these code cells on the `codemode` kernel, as JupyterLab would save it."""
    return {
        "cells": [{"cell_type": "code", "execution_count": None, "id": f"cell-{n}", "metadata": {}, "outputs": [],
                   "source": source} for n, source in enumerate(cells)],
        "metadata": {"kernelspec": {"display_name": "Python 3 (Code Mode)", "language": "python",
                                    "name": "codemode"}},
        "nbformat": 4,
        "nbformat_minor": 5,
    }
