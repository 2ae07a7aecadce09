"""What a server lists besides tools (resources, templates, prompts) reaches stubs and search:
listed by the hub at connect, kept in the tool cache, named in the `resources` and `prompts`
docstrings of `codemode stubs`, and found by `codemode search` as the call that reads or gets
it, against the everything server (npm, tests/peers) and the embedded demo server."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import codemode
from codemode.config import demo_config, parse_config
from codemode.engine import Session

SRC = str(Path(codemode.__file__).parent.parent)
EVERYTHING = Path(__file__).parent.parent / "peers" / "node_modules" / ".bin" / "mcp-server-everything"


@pytest.fixture(autouse=True)
def _everything() -> None:
    if not EVERYTHING.exists():
        pytest.skip("the everything server is not installed; run `make peers`")


def cli(directory: Path, *args: str) -> subprocess.CompletedProcess[str]:
    (directory / "mcp.json").write_text(json.dumps({
        "mcpServers": {"everything": {"command": str(EVERYTHING), "args": ["stdio"]}}}))
    env = {k: v for k, v in os.environ.items() if k != "CODEMODE_CONFIG"}
    env.update(PYTHONPATH=os.pathsep.join(filter(None, [SRC, env.get("PYTHONPATH")])),
               XDG_CONFIG_HOME=str(directory / "no-config"), CODEMODE_CACHE_DIR=str(directory / "cache"),
               CODEMODE_TOOL_CACHE="1")
    return subprocess.run([sys.executable, "-m", "codemode", *args], cwd=directory, env=env, stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=120)


def test_stubs_name_the_everything_servers_resources_and_prompts_live_and_from_the_cache(tmp_path: Path) -> None:
    for attempt in ("live", "cached"):
        done = cli(tmp_path, "stubs", "everything")
        assert done.returncode == 0, done.stderr
        text = done.stdout
        assert text.startswith("from typing import Any\n\n\nclass Resources:") and "class everything(Server):" in text
        assert "    resources: Resources\n" in text and "    prompts: Prompts\n" in text, attempt
        assert "- demo://resource/static/document/architecture.md: text/markdown: Static document" in text, attempt
        assert "- demo://resource/dynamic/text/{resourceId}: Dynamic Text Resource" in text, attempt
        assert "- args-prompt(city, state?): Arguments Prompt: A prompt with two arguments" in text, attempt
    cached = [json.loads(p.read_text()) for p in (tmp_path / "cache").glob("*.json")]
    assert [entry["prompts"][0]["name"] for entry in cached] == ["simple-prompt"]


def test_search_finds_a_prompt_and_a_resource_as_the_calls_that_get_them(tmp_path: Path) -> None:
    done = cli(tmp_path, "search", "prompt with arguments", "--limit", "1")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith('everything.prompts.get("args-prompt", city=..., state=...)  # prompt Arguments')
    done = cli(tmp_path, "search", "architecture.md", "--detail", "names", "--limit", "1")
    assert done.stdout.strip() == 'everything.resources.read("demo://resource/static/document/architecture.md")'


@pytest.fixture(scope="module")
def session() -> Any:
    config = parse_config({"mcpServers": {"everything": {"command": str(EVERYTHING), "args": ["stdio"]}}},
                          source=None, environ=dict(os.environ))
    config = config.model_copy(update={"servers": {**config.servers, **demo_config().servers}})
    with Session(config) as session:
        session.start()
        yield session


def test_a_found_call_runs_as_shown_and_the_run_policy_scopes_what_code_search_finds(session: Session) -> None:
    call = next(hit.call for hit in session.search_hits("architecture.md") if hit.kind == "resource")
    report = session.run(f"{call}['contents'][0]['text'][:20]")
    assert report.ok, report.error
    assert [c.tool for c in report.calls] == ["resources/read"]
    # Code's own search, under a run allowed only tools: no resource or prompt is offered.
    report = session.run("codemode.search('prompt with arguments', detail='names')", tools=["everything.echo"])
    assert report.ok, report.error
    assert "everything.prompts.get" not in str(report.result)


def test_the_demo_server_shows_its_accessors_and_lists_none(session: Session) -> None:
    text = session.stubs("demo")
    # The accessor classes once, and nothing in demo's class: it lists no resource or prompt.
    own = text[text.index("class demo(Server):"):]
    assert "class Resources:" in text and "resources" not in own and "prompts" not in own
    package = session.stub_package("demo")
    assert "\nresources: Resources\nprompts: Prompts" in package["demo/__init__.pyi"]
    assert "class Prompts:" in package["demo/_codemode_accessors.pyi"]
    assert all(hit.kind == "tool" for hit in session.search_hits("orders of a customer") if hit.server == "demo")
