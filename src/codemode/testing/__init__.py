"""Notebooks as tests: `codemode test` runs them under nbval, in replay from their cassettes.

- `SANITIZE_FILE`: nbval sanitizers for what a run report shows that may differ on a
  re-run (its HTML's marked parts, token counts). The pytest plugin `codemode.testing.plugin`
  adds them to every nbval run, beside a user's own file.
- `run_notebooks`: the `codemode test` command.

Importing this package is cheap (standard library only): pytest loads the plugin in every
run of an environment where jupyter-codemode is installed.
"""

from __future__ import annotations

from pathlib import Path

SANITIZE_FILE = Path(__file__).with_name("sanitize.cfg")
CASSETTE_SUFFIX = ".cassette.jsonl"


def cassette_for(notebook: str | Path) -> Path:
    """The cassette that sits beside a notebook: `analysis.ipynb` → `analysis.cassette.jsonl`."""
    path = Path(notebook)
    return path.with_name(path.stem + CASSETTE_SUFFIX)


__all__ = ["CASSETTE_SUFFIX", "SANITIZE_FILE", "cassette_for"]
