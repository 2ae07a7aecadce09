"""The sweep of private work dirs: those whose host is gone go, a locked or a brand-new one stays."""

from __future__ import annotations

import fcntl
import os
import time
from pathlib import Path

from codemode.sandbox import _workdir


def aged(path: Path, seconds: float = 3600) -> Path:
    past = time.time() - seconds
    os.utime(path, (past, past))
    return path


def test_the_sweep_removes_only_unlocked_work_dirs_past_their_grace(tmp_path: Path) -> None:
    orphan = tmp_path / f"{_workdir.PREFIX}orphan"
    (orphan / "deep").mkdir(parents=True)
    (orphan / "deep" / "data.bin").write_bytes(b"x" * 1024)
    aged(orphan)
    held = tmp_path / f"{_workdir.PREFIX}held"
    held.mkdir()
    aged(held)
    fresh = tmp_path / f"{_workdir.PREFIX}fresh"  # made by a host that has not locked it yet
    fresh.mkdir()
    other = tmp_path / "codemode-something-else"
    other.mkdir()
    aged(other)
    fd = os.open(held, os.O_RDONLY | os.O_DIRECTORY)
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    try:
        assert _workdir.sweep(str(tmp_path)) == [orphan]
    finally:
        os.close(fd)
    assert not orphan.exists() and held.exists() and fresh.exists() and other.exists()


def test_a_made_work_dir_is_held_until_released() -> None:
    path, fd = _workdir.make()
    try:
        assert path.name.startswith(_workdir.PREFIX)
        assert path not in _workdir.sweep(str(path.parent), min_age=0)
        assert path.exists()
    finally:
        _workdir.release(path, fd)
    assert not path.exists()
