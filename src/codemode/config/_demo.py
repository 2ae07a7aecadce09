"""The built-in config: the demo server shipped in the package, when there is no file."""

from __future__ import annotations

import functools
import os
import site
import sys
import sysconfig
from pathlib import Path

from codemode.config._servers import StdioServer
from codemode.config._settings import Config


def demo_config() -> Config:
    """The built-in config: the demo server shipped in the package, run by this interpreter.

    The child gets `PYTHONPATH` only when `codemode` would not import without it (a source
    checkout run with `PYTHONPATH=src`); an installed package needs nothing.
    """
    env: dict[str, str] = {}
    parent = _norm(str(Path(__file__).parents[2]))  # the folder that holds the codemode package
    if parent not in _default_import_dirs():
        env["PYTHONPATH"] = parent
    demo = StdioServer(command=sys.executable, args=["-m", "codemode.demo"], env=env)
    demo._in_process = "codemode.demo:build_server"  # named, not imported: the demo is no layer
    return Config(servers={"demo": demo}, source=None)


@functools.cache
def _default_import_dirs() -> frozenset[str]:
    """Where a fresh run of this interpreter imports from, with no PYTHONPATH.

    The MCP SDK starts stdio servers in a minimal environment without PYTHONPATH, so what
    counts is the interpreter's own path: the standard library, site-packages, and the
    directories `.pth` files there add (editable installs). Missing one only costs a redundant
    PYTHONPATH entry, never a failed import.
    """
    paths = sysconfig.get_paths()
    dirs = {paths[key] for key in ("stdlib", "platstdlib", "purelib", "platlib") if key in paths}
    sites = list(site.getsitepackages())
    if site.ENABLE_USER_SITE:
        sites.append(site.getusersitepackages())
    for directory in sites:
        dirs.add(directory)
        dirs.update(_pth_dirs(Path(directory)))
    return frozenset(_norm(d) for d in dirs)


def _pth_dirs(site_dir: Path) -> list[str]:
    """The directories the `.pth` files of a site directory add to sys.path."""
    found: list[str] = []
    try:
        pth_files = sorted(site_dir.glob("*.pth"))
    except OSError:
        return found
    for pth in pth_files:
        try:
            lines = pth.read_text(encoding="utf-8", errors="replace").splitlines()
        except OSError:
            continue
        for line in (raw.strip() for raw in lines):
            if line and not line.startswith(("#", "import ", "import\t")):
                found.append(str(site_dir / line))
    return found


def _norm(path: str) -> str:
    return os.path.normcase(os.path.realpath(path))
