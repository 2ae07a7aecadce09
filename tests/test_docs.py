"""The README and docs/ link only what a clone has, and the commands they show are real."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LINK = re.compile(r"\]\(([^)\s]+)\)")


def test_every_relative_link_of_the_readme_and_docs_is_a_file_of_the_repository() -> None:
    broken = []
    for page in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        for target in LINK.findall(page.read_text(encoding="utf-8")):
            if re.match(r"[a-z]+:", target) or target.startswith("#"):
                continue  # a URL or an anchor
            path = (page.parent / target.split("#")[0]).resolve()
            if not path.exists() or ROOT not in path.parents:  # a file or a folder of the checkout
                broken.append(f"{page.relative_to(ROOT)}: {target}")
    assert broken == []


def test_the_readme_names_no_file_outside_the_repository() -> None:
    assert "../" not in (ROOT / "README.md").read_text(encoding="utf-8")


def test_make_test_installs_chromium_when_it_is_missing() -> None:
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    assert re.search(r"^test: .*\bchromium\b", makefile, re.MULTILINE)
    assert "apt-get install" in makefile and "sudo" in makefile
