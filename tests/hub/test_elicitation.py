"""Questions from servers (MCP elicitation) reach a person, or are declined: the hub declares
the capability (form and URL), `codemode.elicit` / `--elicit` decide, the command line and a
real kernel ask, and each question is in the report and the audit. Against the everything
server (npm, tests/peers) and a small server of our own (`peer_server.py`)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import codemode

SRC = str(Path(codemode.__file__).parent.parent)
HERE = Path(__file__).parent
EVERYTHING = HERE.parent / "peers" / "node_modules" / ".bin" / "mcp-server-everything"


def write_config(directory: Path, **settings: Any) -> None:
    servers: dict[str, Any] = {"peer": {"command": sys.executable, "args": [str(HERE / "peer_server.py")]}}
    if EVERYTHING.exists():
        servers["everything"] = {"command": str(EVERYTHING), "args": ["stdio"]}
    (directory / "mcp.json").write_text(json.dumps({"mcpServers": servers, "codemode": {
        "audit": str(directory / "audit.jsonl"), "auditArguments": True, "preapproved": ["*"], **settings}}))


def cli(directory: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "CODEMODE_CONFIG"}
    env.update(PYTHONPATH=os.pathsep.join(filter(None, [SRC, env.get("PYTHONPATH")])),
               XDG_CONFIG_HOME=str(directory / "no-config"))
    return subprocess.run([sys.executable, "-m", "codemode", *args], cwd=directory, env=env, stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=120)


def audit_events(directory: Path, kind: str) -> list[dict[str, Any]]:
    lines = (directory / "audit.jsonl").read_text().splitlines()
    return [event for event in map(json.loads, lines) if event["event"] == kind]


def test_the_hub_declares_form_and_url_elicitation(tmp_path: Path) -> None:
    if not EVERYTHING.exists():
        pytest.skip("the everything server is not installed; run `make peers`")
    write_config(tmp_path)
    done = cli(tmp_path, "exec", "-c", "print(peer.whoami())")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.strip().splitlines()[-1])["capabilities"]["elicitation"] == {"form": {}, "url": {}}
    # The everything server offers its question tools only to a client that declares them.
    tools = cli(tmp_path, "tools", "everything").stdout
    assert "trigger_elicitation_request(" in tools and "trigger_url_elicitation(" in tools


def test_defaults_accepts_a_form_whose_fields_all_have_defaults_and_declines_others(tmp_path: Path) -> None:
    write_config(tmp_path, elicit="defaults")
    done = cli(tmp_path, "exec", "--json", "-c", "[peer.prefer(), peer.ask()]")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["result"]["value"] == ["accept copies=2 gift=True", "decline"]
    asked = [log["data"] for call in report["calls"] for log in call["logs"] if log.get("logger") == "elicitation"]
    assert [(q["question"], q["action"]) for q in asked] == [("Any preferences?", "accept"),
                                                              ("Where should the order go?", "decline")]
    events = audit_events(tmp_path, "elicitation")
    assert [(e["tool"], e["outcome"]) for e in events] == [("prefer", "accept"), ("ask", "decline")]
    assert events[0]["arguments"] == {"copies": 2, "gift": True}


def test_elicit_decline_declines_the_everything_servers_question(tmp_path: Path) -> None:
    if not EVERYTHING.exists():
        pytest.skip("the everything server is not installed; run `make peers`")
    write_config(tmp_path)
    done = cli(tmp_path, "exec", "--elicit", "decline", "-c", "print(everything.trigger_elicitation_request())")
    assert done.returncode == 0, done.stderr
    assert "declined" in done.stdout
    assert audit_events(tmp_path, "elicitation")[0]["by"] == "codemode.elicit 'decline'"


def test_with_nobody_at_a_terminal_ask_declines(tmp_path: Path) -> None:
    write_config(tmp_path)
    done = cli(tmp_path, "exec", "-c", "print(peer.ask())")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "decline"
    assert "nobody to ask" in audit_events(tmp_path, "elicitation")[0]["by"]


def test_a_kernel_cell_asks_the_person_field_by_field(tmp_path: Path) -> None:
    from kernels import Kernel

    write_config(tmp_path)
    answers = iter(["y", "", "Main Street 1", "y"])  # fill in; address (empty: asked again); express

    def answer(prompt: str, updates: list[dict[str, Any]]) -> str:
        return next(answers)

    with Kernel(tmp_path) as kernel:
        kernel.execute("%load_ext codemode")
        run = kernel.execute("%%codemode\nprint(peer.ask())", answer=answer)
    assert "accept Main Street 1 express=True" in run.all_text, run.all_text
    assert "Where should the order go?" in run.all_text
    [event] = audit_events(tmp_path, "elicitation")
    assert event["outcome"] == "accept" and event["arguments"]["address"] == "Main Street 1"


def test_codemode_serve_passes_a_servers_question_on_to_its_client(tmp_path: Path) -> None:
    sys.path.insert(0, str(HERE.parent / "serve"))
    from _serving import run_stdio, write_config as serve_config
    from mcp import types

    config = serve_config(tmp_path / "mcp.json", {"audit": str(tmp_path / "audit.jsonl"), "preapproved": ["*"]},
                          {"peer": {"command": sys.executable, "args": [str(HERE / "peer_server.py")]}})
    asked: list[Any] = []

    async def person(context: Any, params: Any) -> Any:
        asked.append(params)
        return types.ElicitResult(action="accept", content={"address": "Dock 4", "express": False})

    async def scenario(client: Any) -> dict[str, Any]:
        result = await client.call_tool("execute", {"code": "peer.ask()"})
        return dict(result.structured_content)

    out = run_stdio(config, scenario, elicitation_callback=person)
    assert out["result"] == "accept Dock 4 express=False", json.dumps(out)[:3000]
    [question] = asked
    assert "peer.ask asks: Where should the order go?" in question.message
    assert question.requested_schema["required"] == ["address"]
    [event] = audit_events(tmp_path, "elicitation")
    assert (event["face"], event["outcome"]) == ("serve", "accept")
