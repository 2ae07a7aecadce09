"""Fixtures of the serve tests (the helpers are in `_serving.py`)."""

from __future__ import annotations

from pathlib import Path

import pytest
from _serving import write_config


@pytest.fixture(scope="module")
def demo_config_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_config(tmp_path_factory.mktemp("serve") / "mcp.json", {"cellTimeout": 20})
