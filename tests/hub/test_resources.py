"""Resources and prompts from code, on every server namespace: `srv.resources.list()`,
`.templates()`, `.read(uri)`, `srv.prompts.list()`, `.get(name, **arguments)` and their async
twins, against the everything server (npm, tests/peers); calls like any other in the report,
the audit and under the run's policy."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import codemode
from codemode.schema import NameMap
from codemode.schema._names import SERVER_ATTRIBUTES

SRC = str(Path(codemode.__file__).parent.parent)
EVERYTHING = Path(__file__).parent.parent / "peers" / "node_modules" / ".bin" / "mcp-server-everything"


def cli(directory: Path, *args: str, **settings: Any) -> subprocess.CompletedProcess[str]:
    (directory / "mcp.json").write_text(json.dumps({
        "mcpServers": {"everything": {"command": str(EVERYTHING), "args": ["stdio"]}},
        "codemode": {"audit": str(directory / "audit.jsonl"), **settings}}))
    env = {k: v for k, v in os.environ.items() if k != "CODEMODE_CONFIG"}
    env.update(PYTHONPATH=os.pathsep.join(filter(None, [SRC, env.get("PYTHONPATH")])),
               XDG_CONFIG_HOME=str(directory / "no-config"))
    return subprocess.run([sys.executable, "-m", "codemode", *args], cwd=directory, env=env, stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=120)


@pytest.fixture(autouse=True)
def _everything() -> None:
    if not EVERYTHING.exists():
        pytest.skip("the everything server is not installed; run `make peers`")


CODE = """
import asyncio
resources = everything.resources.list()
templates = everything.resources.templates()
first = everything.resources.read(resources[0]["uri"])
prompts = everything.prompts.list()
simple = everything.prompts.get(prompts[0]["name"])
async def together():
    return await asyncio.gather(everything.resources.alist(), everything.prompts.alist())
both = asyncio.run(together())
{"resources": len(resources), "first": first["contents"][0]["uri"] == resources[0]["uri"],
 "templates": [t["uriTemplate"] for t in templates], "prompts": [p["name"] for p in prompts],
 "messages": len(simple["messages"]), "async": [len(both[0]), len(both[1])]}
"""


def test_resources_and_prompts_are_read_from_code_and_reported_as_calls(tmp_path: Path) -> None:
    done = cli(tmp_path, "exec", "--json", "-c", CODE)
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads(done.stdout)
    value = report["result"]["value"]
    assert value["resources"] > 0 and value["first"] is True
    assert value["templates"] and value["prompts"] and value["messages"] >= 1
    assert value["async"] == [value["resources"], len(value["prompts"])]
    tools = [call["tool"] for call in report["calls"]]
    assert tools[:5] == ["resources/list", "resources/templates/list", "resources/read", "prompts/list", "prompts/get"]
    assert all(call["status"] == "ok" for call in report["calls"])
    audited = [json.loads(line) for line in (tmp_path / "audit.jsonl").read_text().splitlines()]
    assert "resources/read" in {event.get("tool") for event in audited}


def test_a_prompt_with_arguments_is_filled_in_and_a_bad_uri_is_the_servers_error(tmp_path: Path) -> None:
    code = ("args = next(p for p in everything.prompts.list() if p.get('arguments'))\n"
            "required = {a['name']: 'Paris' for a in args['arguments'] if a.get('required')}\n"
            "text = str(everything.prompts.get(args['name'], **required))\n"
            "try:\n    everything.resources.read('nothing://here')\nexcept ToolError as e:\n    err = e.code\n"
            "('Paris' in text, err)")
    done = cli(tmp_path, "exec", "--json", "-c", code)
    assert done.returncode == 0, done.stdout + done.stderr
    assert json.loads(done.stdout)["result"]["value"] == [True, "UPSTREAM_ERROR"]


def test_the_run_policy_caps_resource_reads_as_it_caps_tool_calls(tmp_path: Path) -> None:
    done = cli(tmp_path, "exec", "--json", "--max-tool-calls", "1", "-c",
               "everything.resources.list(); everything.prompts.list()")
    report = json.loads(done.stdout)
    assert report["calls"][0]["status"] == "ok"
    assert "MAX_TOOL_CALLS" in json.dumps(report["calls"][1]) and report["error"]["code"] == "MAX_TOOL_CALLS"


def test_a_tool_named_resources_or_prompts_gets_a_trailing_underscore() -> None:
    names = NameMap.build(["resources", "prompts", "get-resources"], reserved=SERVER_ATTRIBUTES)
    assert [names.to_python(n) for n in ("resources", "prompts", "get-resources")] == \
        ["resources_", "prompts_", "get_resources"]
