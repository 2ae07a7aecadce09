"""The package type-checks, and so do the benches that drive it: mypy over src/codemode and
bench/ with the project's settings (pyproject.toml, which loads pydantic's plugin for the config
models). The package ships `py.typed`, so code that uses it is checked against its types."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def mypy(*args: str, cwd: Path, cache: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "mypy", "--cache-dir", str(cache), *args],
                          cwd=cwd, capture_output=True, text=True, timeout=600)


def test_the_package_and_the_benches_type_check(tmp_path: Path) -> None:
    done = mypy("src/codemode", "bench", cwd=ROOT, cache=tmp_path / "cache")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "no issues found" in done.stdout


def test_a_user_of_the_installed_package_is_checked_against_its_types(tmp_path: Path) -> None:
    # Outside the checkout, as a user's project: mypy finds codemode installed, and reads its
    # annotations only because the package says it is typed (py.typed); without it, mypy skips
    # the import ("missing library stubs or py.typed marker") and nothing below is an error.
    (tmp_path / "use.py").write_text(
        "from codemode import RunReport, Session\n"
        "\n"
        "def first(session: Session) -> RunReport:\n"
        "    return session.run('print(1)', timeout=5.0)\n"
        "\n"
        "def wrong(session: Session) -> None:\n"
        "    session.run(42)\n")
    done = mypy("--strict", "use.py", cwd=tmp_path, cache=tmp_path / "cache")
    assert done.returncode == 1, done.stdout + done.stderr
    assert done.stdout.count("error:") == 1, done.stdout
    assert 'use.py:7: error: Argument 1 to "run" of "Session" has incompatible type "int"; expected "str"' in done.stdout
